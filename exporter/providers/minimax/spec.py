"""What the rest of the exporter knows of this provider before any account uses it."""


from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="minimax",
    sources=("usage",),
    # The international platform; a China platform key needs https://api.minimaxi.com.
    endpoints=("https://api.minimax.io",),
    user_agent="llm-quota-exporter",
    credential_kinds=("api_key", "api_key_file", "api_key_env", "file"),
    headers={"Accept": "application/json", "Content-Type": "application/json"},
    summary="MiniMax Coding / Token Plan: the 5-hour interval and weekly limits per model group",
)
