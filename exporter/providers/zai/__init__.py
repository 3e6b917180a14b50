"""z.ai / BigModel GLM Coding Plan: the 5-hour and weekly GLM windows and the month's
MCP tool calls of a Coding Plan API key.

`client` makes the one call (`GET /api/monitor/usage/quota/limit`, the raw key in
`Authorization`); `parse` turns `data.limits[]` into pool windows (`glm`, `mcp`) and
reads `success: false` as an account error; `credentials` reads the key from the
config or from Claude Code's settings, opencode's auth.json or a proxy's auth file,
read only.
"""

from exporter.providers.base import ProviderPackage
from exporter.providers.zai.client import ZaiProvider
from exporter.providers.zai.discovery import DISCOVERY
from exporter.providers.zai.simulated import ZAI, demo_accounts
from exporter.providers.zai.spec import SPEC

PACKAGE = ProviderPackage(spec=SPEC, factory=ZaiProvider, simulated=ZAI,
                          demo_accounts=demo_accounts, discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "ZaiProvider"]
