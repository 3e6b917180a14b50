"""What the rest of the exporter knows of this provider before any account uses it."""


from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="gemini-cli",
    sources=("quota",),
    endpoints=("https://cloudcode-pa.googleapis.com",),
    # gemini-cli's own form, `GeminiCLI/<version> (<platform>; <arch>)`.
    user_agent="GeminiCLI/0.60.0 (linux; x64)",
    credential_kinds=(
        "file", "access_token", "access_token_file", "refresh_token", "refresh_token_file",
    ),
    token_url="https://oauth2.googleapis.com/token",
    summary="Gemini CLI (Cloud Code): per-model daily quotas",
)
