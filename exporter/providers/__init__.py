"""One module per provider; each turns upstream JSON into `AccountData`.

A provider knows nothing of Prometheus, HTTP routes or other accounts.
"""

from __future__ import annotations

from typing import Protocol

import requests

from exporter.config import AccountConfig
from exporter.snapshot import AccountData


class Provider(Protocol):
    name: str

    def fetch(self, deadline: float) -> AccountData:
        """Fetch one account; `deadline` is time.monotonic(). Raises FetchError."""


def make_provider(account: AccountConfig, session: requests.Session) -> Provider:
    if account.provider == "antigravity":
        from exporter.providers.antigravity import AntigravityProvider

        return AntigravityProvider(account, session)
    # The config loader only accepts known providers.
    raise ValueError(f"unknown provider {account.provider!r}")
