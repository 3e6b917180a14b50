"""The registry: the one place that names every provider.

A provider is one folder (`spec.py`, `client.py`, `parse.py`, its credential
formats) whose `__init__.py` hands over a `ProviderPackage`, plus one line in
`PACKAGES` below. A provider knows nothing of Prometheus, HTTP routes or other
providers; everything above this floor loops over the registry.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from exporter import config as _config
from exporter.config import AccountConfig, Config
from exporter.providers import (
    antigravity,
    claude,
    codex,
    copilot,
    cursor,
    gemini_cli,
    kimi,
    kiro,
    minimax,
    zai,
)
from exporter.providers.base import Provider, ProviderPackage
from exporter.providers.spec import ProviderSpec
from exporter.upstream.transport import HttpClients

PACKAGES: dict[str, ProviderPackage] = {
    package.spec.name: package
    for package in (
        antigravity.PACKAGE,
        gemini_cli.PACKAGE,
        claude.PACKAGE,
        codex.PACKAGE,
        copilot.PACKAGE,
        cursor.PACKAGE,
        kiro.PACKAGE,
        kimi.PACKAGE,
        minimax.PACKAGE,
        zai.PACKAGE,
    )
}
REGISTRY: dict[str, ProviderSpec] = {name: p.spec for name, p in PACKAGES.items()}

__all__ = [
    "PACKAGES", "REGISTRY", "Provider", "ProviderSpec", "load_config", "make_provider",
    "parse_account", "parse_config", "provider_spec", "with_defaults",
]


def provider_spec(name: str) -> ProviderSpec:
    """The spec of a registered provider; KeyError naming the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown provider {name!r}; known: {', '.join(REGISTRY)}") from None


def make_provider(account: AccountConfig, clients: HttpClients) -> Provider:
    return PACKAGES[provider_spec(account.provider).name].factory(account, clients)


def with_defaults(account: AccountConfig) -> AccountConfig:
    """A hand-built account with its provider's defaults (the loader fills the ones it
    reads); an unknown provider's account is left as it is."""
    spec = REGISTRY.get(account.provider)
    return account if spec is None else account.filled(spec)


def load_config(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> Config:
    """`config.load_config` with the registered providers."""
    return _config.load_config(path, REGISTRY, env=env)


def parse_config(
    data: object,
    *,
    env: Mapping[str, str],
    base_dir: Path | None = None,
    source: Path | None = None,
) -> Config:
    """`config.parse_config` with the registered providers."""
    return _config.parse_config(data, REGISTRY, env=env, base_dir=base_dir, source=source)


def parse_account(
    entry: Mapping[str, object], *, config: Config, env: Mapping[str, str]
) -> AccountConfig:
    """`config.parse_account` with the registered providers."""
    return _config.parse_account(entry, REGISTRY, config=config, env=env)
