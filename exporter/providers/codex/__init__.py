"""Codex (ChatGPT plans): the 5-hour and weekly limits from ChatGPT's usage endpoint.

`client` makes the one call (`GET /wham/usage`) with the token the Codex CLI keeps
in its `auth.json` (read only, never refreshed); `parse` turns the reply into
pools (`codex`, `code-review`, one per additional limit) whose windows are named
by their length, and the credits balance.
"""

from exporter.providers.base import ProviderPackage
from exporter.providers.codex.client import CodexProvider
from exporter.providers.codex.discovery import DISCOVERY
from exporter.providers.codex.simulated import CODEX, demo_accounts
from exporter.providers.codex.spec import SPEC

PACKAGE = ProviderPackage(spec=SPEC, factory=CodexProvider, simulated=CODEX,
                          demo_accounts=demo_accounts,
                          discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "CodexProvider"]
