"""What the rest of the exporter knows of this provider before any account uses it."""


from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="claude",
    sources=("usage",),
    endpoints=("https://api.anthropic.com",),
    # Without a claude-code User-Agent the endpoint is reported to answer 429 for good.
    user_agent="claude-code/2.1.0",
    credential_kinds=("file", "access_token", "access_token_file"),
    headers={"anthropic-beta": "oauth-2025-04-20"},
    summary="Claude Code: the plan's 5-hour and weekly limits (all models, Opus, Sonnet)",
)
