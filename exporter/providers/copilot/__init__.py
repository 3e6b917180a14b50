"""GitHub Copilot: premium requests, chat and completions quotas of the Copilot plan.

`client` makes the one call (`GET /copilot_internal/user`); `parse` turns the
plan's quota snapshots (or a free plan's older `limited_user_quotas`) into monthly
pools; `credentials` reads the editor's `apps.json`, read only.
"""

from exporter.providers.base import ProviderPackage
from exporter.providers.copilot.client import CopilotProvider
from exporter.providers.copilot.discovery import DISCOVERY
from exporter.providers.copilot.simulated import COPILOT, demo_accounts
from exporter.providers.copilot.spec import SPEC

PACKAGE = ProviderPackage(spec=SPEC, factory=CopilotProvider, simulated=COPILOT,
                          demo_accounts=demo_accounts,
                          discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "CopilotProvider"]
