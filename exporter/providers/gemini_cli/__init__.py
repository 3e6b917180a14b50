"""Gemini CLI: per-model daily quotas from Cloud Code's retrieveUserQuota.

`client` makes the calls (loadCodeAssist cached, then retrieveUserQuota); `parse`
turns the quota buckets into per-model quotas.
"""

from exporter.providers.base import ProviderPackage
from exporter.providers.gemini_cli.client import GeminiCliProvider
from exporter.providers.gemini_cli.discovery import DISCOVERY
from exporter.providers.gemini_cli.simulated import GEMINI_CLI, demo_accounts
from exporter.providers.gemini_cli.spec import SPEC

PACKAGE = ProviderPackage(spec=SPEC, factory=GeminiCliProvider, simulated=GEMINI_CLI,
                          demo_accounts=demo_accounts,
                          discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "GeminiCliProvider"]
