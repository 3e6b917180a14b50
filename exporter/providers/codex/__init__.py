"""Codex (ChatGPT plans): the 5-hour and weekly limits from ChatGPT's usage endpoint.

`client` makes the one call (`GET /wham/usage`) with the token the Codex CLI keeps
in its `auth.json` (read only, never refreshed); `parse` turns the reply into
pools (`codex`, `code-review`, one per additional limit) whose windows are named
by their length, and the credits balance.
"""

from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="codex",
    sources=("usage",),
    endpoints=("https://chatgpt.com/backend-api",),
    user_agent="codex-cli",
    credential_kinds=("file", "access_token", "access_token_file"),
    factory="exporter.providers.codex.client:CodexProvider",
    summary="Codex (ChatGPT plans): 5-hour and weekly limits, code review, credits",
)
