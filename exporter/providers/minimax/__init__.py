"""MiniMax Coding / Token Plan: the 5-hour interval and weekly limits of the plan.

`client` makes the one call (`GET /v1/api/openplatform/coding_plan/remains`, or
the China platform's `/v1/token_plan/remains`) with the plan's API key; `parse`
turns each `model_remains` entry into a pool (its `model_name` slug) with windows
`5h` and `weekly`; `credentials` reads the key from Claude Code's settings or
opencode's auth.json, read only.
"""

from exporter.providers.base import ProviderPackage
from exporter.providers.minimax.client import MiniMaxProvider
from exporter.providers.minimax.discovery import DISCOVERY
from exporter.providers.minimax.simulated import MINIMAX, demo_accounts
from exporter.providers.minimax.spec import SPEC

PACKAGE = ProviderPackage(spec=SPEC, factory=MiniMaxProvider, simulated=MINIMAX,
                          demo_accounts=demo_accounts,
                          discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "MiniMaxProvider"]
