"""Providers: one package each, turning an upstream's replies into `AccountData`.

A provider knows nothing of Prometheus, HTTP routes or other providers. Adding one
is a folder (its `__init__.py` defines `SPEC`; `client.py`, `parse.py`,
`credentials.py` do the work) plus one line in `REGISTRY` below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol

from exporter.providers import antigravity, claude, codex, copilot, gemini_cli
from exporter.providers.spec import ProviderSpec

if TYPE_CHECKING:
    from exporter.config import AccountConfig
    from exporter.snapshot import AccountData
    from exporter.upstream.transport import HttpClients

REGISTRY: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        antigravity.SPEC,
        gemini_cli.SPEC,
        claude.SPEC,
        codex.SPEC,
        copilot.SPEC,
    )
}


class Provider(Protocol):
    name: str

    def fetch(self, deadline: float) -> AccountData:
        """Fetch one account; `deadline` is time.monotonic().

        Every configured source is tried; one that fails is reported in
        `AccountData.sources` and the others' data is kept. Raises FetchError when
        nothing could be fetched at all (no token, no project).
        """


def provider_spec(name: str) -> ProviderSpec:
    """The spec of a registered provider; KeyError naming the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown provider {name!r}; known: {', '.join(REGISTRY)}") from None


def make_provider(account: AccountConfig, clients: HttpClients) -> Provider:
    module_name, _, class_name = provider_spec(account.provider).factory.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    provider: Provider = cls(account, clients)
    return provider
