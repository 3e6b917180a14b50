"""Google Antigravity: per-model quotas and the 5-hour / weekly pools of Cloud Code.

`client` makes the calls (loadCodeAssist cached, fetchAvailableModels and
retrieveUserQuotaSummary side by side); `parse` turns their JSON into Snapshot parts.
"""

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
    factory="exporter.providers.antigravity.client:AntigravityProvider",
    token_url="https://oauth2.googleapis.com/token",
    summary="Google Antigravity (Cloud Code): per-model quotas and 5-hour / weekly pools",
)
