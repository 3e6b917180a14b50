"""What the rest of the exporter knows of this provider before any account uses it."""


from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="antigravity",
    sources=("models", "summary"),
    endpoints=(
        "https://daily-cloudcode-pa.googleapis.com",
        "https://cloudcode-pa.googleapis.com",
    ),
    # The `agy` CLI's form: the quota summary is reported to answer 403 to clients
    # it does not recognise, and old versions are shown fewer models.
    user_agent=(
        "antigravity/cli/1.2.17 (aidev_client; os_type=linux; arch=amd64; "
        "auth_method=consumer)"
    ),
    credential_kinds=(
        "file", "access_token", "access_token_file", "refresh_token", "refresh_token_file",
    ),
    token_url="https://oauth2.googleapis.com/token",
    summary="Google Antigravity (Cloud Code): per-model quotas and 5-hour / weekly pools",
)
