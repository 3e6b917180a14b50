"""Kimi Code: the weekly quota and the 5-hour window from `GET /coding/v1/usages`.

`client` makes the one call with a Kimi Code API key or the access token kimi-code
(or CLIProxyAPI) keeps in its file, read only and never refreshed; `parse` turns
the reply into pool `kimi`, windows `weekly` and `5h`, as fractions left.
"""

from exporter.providers.base import ProviderPackage
from exporter.providers.kimi.client import KimiProvider
from exporter.providers.kimi.discovery import DISCOVERY
from exporter.providers.kimi.simulated import KIMI, demo_accounts
from exporter.providers.kimi.spec import SPEC

PACKAGE = ProviderPackage(spec=SPEC, factory=KimiProvider, simulated=KIMI,
                          demo_accounts=demo_accounts, discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "KimiProvider"]
