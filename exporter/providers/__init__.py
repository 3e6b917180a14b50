"""One module per provider; each turns upstream JSON into `AccountData`.

A provider knows nothing of Prometheus, HTTP routes or other accounts.
"""

from __future__ import annotations

from typing import Protocol

from exporter.config import AccountConfig
from exporter.snapshot import AccountData
from exporter.upstream.transport import HttpClients


class Provider(Protocol):
    name: str

    def fetch(self, deadline: float) -> AccountData:
        """Fetch one account; `deadline` is time.monotonic(). Raises FetchError."""


def make_provider(account: AccountConfig, clients: HttpClients) -> Provider:
    if account.provider == "antigravity":
        from exporter.providers.antigravity.client import AntigravityProvider

        return AntigravityProvider(account, clients)
    # The config loader only accepts known providers.
    raise ValueError(f"unknown provider {account.provider!r}")
