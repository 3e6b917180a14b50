"""In-process providers on the simulator's accounts: a provider built from the config
entry the simulator writes, so the credential files are the real formats."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from exporter.config import AccountConfig
from exporter.providers import Provider, make_provider, parse_config
from exporter.simulator import Simulator
from exporter.snapshot import AccountData
from exporter.upstream.transport import HttpClients
from tests.procs import fetch_once


def account_config(sim: Simulator, name: str, directory: Path, **overrides: Any) -> AccountConfig:
    """The account's config as the loader reads it, with `overrides` on its entry."""
    entry = sim.exporter_config(directory, accounts=[name])["accounts"][0]  # type: ignore[index]
    return parse_config({"accounts": [{**entry, **overrides}]}, env={}).accounts[0]


@contextmanager
def provider_for(sim: Simulator, name: str, directory: Path,
                 **overrides: Any) -> Iterator[Provider]:
    clients = HttpClients.create(2)
    try:
        yield make_provider(account_config(sim, name, directory, **overrides), clients)
    finally:
        clients.close()


def fetch(provider: Provider, seconds: float = 5.0) -> AccountData:
    return fetch_once(provider, time.monotonic() + seconds)
