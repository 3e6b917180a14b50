"""Claude Code: the plan's 5-hour and weekly limits from Anthropic's OAuth usage endpoint.

`client` makes the one call (`GET /api/oauth/usage`) with the token Claude Code
keeps in its credentials file (read only, never refreshed); `parse` turns the
reply into pools: `all` (5h, weekly), `opus` and `sonnet` (weekly) and any other
model-scoped weekly limit, each scoped one within `all`.
"""

from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="claude",
    sources=("usage",),
    endpoints=("https://api.anthropic.com",),
    # Without a claude-code User-Agent the endpoint is reported to answer 429 for good.
    user_agent="claude-code/2.1.0",
    credential_kinds=("file", "access_token", "access_token_file"),
    factory="exporter.providers.claude.client:ClaudeProvider",
    headers={"anthropic-beta": "oauth-2025-04-20"},
    summary="Claude Code: the plan's 5-hour and weekly limits (all models, Opus, Sonnet)",
)
