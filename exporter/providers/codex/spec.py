"""What the rest of the exporter knows of this provider before any account uses it."""


from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="codex",
    sources=("usage",),
    endpoints=("https://chatgpt.com/backend-api",),
    user_agent="codex-cli",
    credential_kinds=("file", "access_token", "access_token_file"),
    summary="Codex (ChatGPT plans): 5-hour and weekly limits, code review, credits",
)
