"""Cursor: the included usage of the billing cycle (Auto and other-models bars, dollars).

`client` makes the one call (`POST /aiserver.v1.DashboardService/GetCurrentPeriodUsage`,
Connect RPC); `parse` turns the cents and percents into monthly pools; `credentials`
reads the editor's `state.vscdb` (SQLite, read only), never refreshing its token.
"""

from exporter.providers.base import ProviderPackage
from exporter.providers.cursor.client import CursorProvider
from exporter.providers.cursor.discovery import DISCOVERY
from exporter.providers.cursor.simulated import CURSOR, demo_accounts
from exporter.providers.cursor.spec import SPEC

PACKAGE = ProviderPackage(spec=SPEC, factory=CursorProvider, simulated=CURSOR,
                          demo_accounts=demo_accounts,
                          discovery=DISCOVERY)

__all__ = ["PACKAGE", "SPEC", "CursorProvider"]
