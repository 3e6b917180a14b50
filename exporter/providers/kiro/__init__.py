"""Kiro (AWS CodeWhisperer `GetUsageLimits`): the month's credits and overage.

`client` makes the one call (`POST /` with `X-Amz-Target:
AmazonCodeWhispererService.GetUsageLimits`) with the token Kiro's tools keep
(CLIProxyAPIPlus's `kiro-*.json`, the Kiro IDE's `kiro-auth-token.json`, kiro-cli's
SQLite database; read only, never refreshed); `parse` turns the reply into one
pool per `resourceType` (`credit`, window `monthly`) counted in credits, and the
overage headroom under its cap.
"""

from exporter.providers.base import ProviderPackage
from exporter.providers.kiro.client import KiroProvider
from exporter.providers.kiro.discovery import DISCOVERY
from exporter.providers.kiro.simulated import KIRO, demo_accounts
from exporter.providers.kiro.spec import SPEC

PACKAGE = ProviderPackage(spec=SPEC, factory=KiroProvider, simulated=KIRO,
                          demo_accounts=demo_accounts, discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "KiroProvider"]
