"""Google Antigravity: per-model quotas and the 5-hour / weekly pools of Cloud Code.

`client` makes the calls (loadCodeAssist cached, fetchAvailableModels and
retrieveUserQuotaSummary side by side); `parse` turns their JSON into Snapshot parts.
"""

from exporter.providers.antigravity.client import AntigravityProvider
from exporter.providers.antigravity.discovery import DISCOVERY
from exporter.providers.antigravity.simulated import ANTIGRAVITY, demo_accounts
from exporter.providers.antigravity.spec import SPEC
from exporter.providers.base import ProviderPackage

PACKAGE = ProviderPackage(spec=SPEC, factory=AntigravityProvider, simulated=ANTIGRAVITY,
                          demo_accounts=demo_accounts,
                          discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "AntigravityProvider"]
