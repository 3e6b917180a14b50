"""Claude Code: the plan's 5-hour and weekly limits from Anthropic's OAuth usage endpoint.

`client` makes the one call (`GET /api/oauth/usage`) with the token Claude Code
keeps in its credentials file (read only, never refreshed); `parse` turns the
reply into pools: `all` (5h, weekly), `opus` and `sonnet` (weekly) and any other
model-scoped weekly limit, each scoped one within `all`.
"""

from exporter.providers.base import ProviderPackage
from exporter.providers.claude.client import ClaudeProvider
from exporter.providers.claude.discovery import DISCOVERY
from exporter.providers.claude.simulated import CLAUDE, demo_accounts
from exporter.providers.claude.spec import SPEC

PACKAGE = ProviderPackage(spec=SPEC, factory=ClaudeProvider, simulated=CLAUDE,
                          demo_accounts=demo_accounts,
                          discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "ClaudeProvider"]
