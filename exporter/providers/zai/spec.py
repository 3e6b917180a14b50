"""What the rest of the exporter knows of this provider before any account uses it."""

from exporter.providers.spec import ProviderSpec

SPEC = ProviderSpec(
    name="zai",
    sources=("usage",),
    # International; a BigModel (China) key needs https://open.bigmodel.cn, which an
    # account takes from its `endpoints` or from Claude Code's ANTHROPIC_BASE_URL.
    endpoints=("https://api.z.ai",),
    user_agent="llm-quota-exporter",
    credential_kinds=("file", "api_key", "api_key_file", "api_key_env"),
    # What the vendor's own usage plugin sends beside the key.
    headers={"Accept-Language": "en-US,en"},
    summary="z.ai / BigModel GLM Coding Plan: 5-hour and weekly GLM windows, monthly "
            "MCP tool calls",
)
