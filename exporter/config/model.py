"""Typed config: what a validated YAML file becomes (see loader.py for the checks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from exporter.secret import OAuthClient, Secret

__all__ = ["OAuthClient", "Secret"]  # re-exported: config records hold them

class ProviderFacts(Protocol):
    """What config checks and defaults an account by: a provider's spec, handed to the
    loader by whoever knows the providers (config never imports them)."""

    @property
    def name(self) -> str: ...
    @property
    def sources(self) -> tuple[str, ...]: ...
    @property
    def endpoints(self) -> tuple[str, ...]: ...
    @property
    def user_agent(self) -> str: ...
    @property
    def credential_kinds(self) -> tuple[str, ...]: ...
    @property
    def token_url(self) -> str | None: ...


CredentialKind = Literal[
    "access_token", "access_token_file", "refresh_token", "refresh_token_file", "file",
    "api_key", "api_key_file", "api_key_env",
]


@dataclass(frozen=True)
class Credentials:
    """Exactly one credential source.

    For `access_token`, `refresh_token` and `api_key` the secret is in `secret`; for
    the `*_file` kinds and `file` the (tilde-expanded, absolute) path is in `path`;
    for `api_key_env` the variable's name is in `env` and its value, read when the
    config was loaded, in `secret`.
    """

    kind: CredentialKind
    secret: Secret | None = None
    path: Path | None = None
    # With `file`: which account of a file that holds several (an email, a GitHub login).
    user: str | None = None
    env: str | None = None  # with `api_key_env`: the environment variable's name


@dataclass(frozen=True)
class AccountConfig:
    """One account. Empty endpoints, token_url, sources and user_agent take the
    provider's defaults (its `ProviderSpec`)."""

    name: str
    provider: str
    credentials: Credentials
    oauth_client: OAuthClient | None = None
    project: str | None = None
    endpoints: tuple[str, ...] = ()
    token_url: str = ""
    sources: frozenset[str] = frozenset()
    timeout: float = 10.0  # seconds; per-scrape fetch deadline cap
    min_interval: float = 0.0  # seconds; reuse a result this long
    user_agent: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers, e.g. an editor version
    project_cache_ttl: float = 3600.0  # seconds; loadCodeAssist result cache
    expose_email: bool = False
    expose_project: bool = False

    def filled(self, provider: ProviderFacts) -> AccountConfig:
        """This account with its provider's defaults where it leaves a value empty.

        The loader fills every account it reads; a provider fills a hand-built one.
        """
        defaults: dict[str, Any] = {
            "endpoints": provider.endpoints,
            "token_url": provider.token_url or "",
            "sources": frozenset(provider.sources),
            "user_agent": provider.user_agent,
        }
        missing = {key: value for key, value in defaults.items() if not getattr(self, key)}
        return replace(self, **missing) if missing else self


@dataclass(frozen=True)
class Config:
    accounts: tuple[AccountConfig, ...]
    # Upstream calls in flight at once to one upstream host, each on its own kept-alive
    # connection; every account is in flight at once up to this (no thread per account).
    concurrency: int = 1000
    # Seconds between two POST /api/v1/refresh of one account; 0 turns the limit off.
    refresh_interval: float = 30.0
    path: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)
    discover: bool = False  # also serve the accounts other tools signed in on this machine
    # `defaults` as written (before ${VAR} expansion), applied to discovered accounts;
    # kept out of repr and comparisons: it may hold an inline client secret.
    raw_defaults: Mapping[object, object] = field(
        default_factory=dict, repr=False, compare=False)


class ConfigError(Exception):
    """One or more config problems, each `(key path, message)`."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))

    def lines(self) -> list[str]:
        return [f"{path}: {msg}" if path else msg for path, msg in self.problems]
