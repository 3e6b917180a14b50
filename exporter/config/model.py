"""Typed config: what a validated YAML file becomes (see loader.py for the checks)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from exporter.providers import REGISTRY

# Registered provider names, in registry order.
PROVIDERS = tuple(REGISTRY)


class Secret:
    """A secret string that never prints itself.

    `str()`, `repr()` and f-strings all give `<secret>`; only `reveal()` gives
    the value, so a secret cannot slip into a log line or error by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


CredentialKind = Literal[
    "access_token", "access_token_file", "refresh_token", "refresh_token_file", "file"
]


@dataclass(frozen=True)
class Credentials:
    """Exactly one credential source.

    For `access_token` and `refresh_token` the secret is in `secret`; for the
    `*_file` kinds and `file` the (tilde-expanded, absolute) path is in `path`.
    """

    kind: CredentialKind
    secret: Secret | None = None
    path: Path | None = None
    # With `file`: which account of a file that holds several (an email, a GitHub login).
    user: str | None = None


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: Secret | None = None  # from client_secret or client_secret_file


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

    def __post_init__(self) -> None:
        spec = REGISTRY.get(self.provider)
        if spec is None:
            return  # the loader reports unknown providers; hand-built configs fail later
        defaults = {
            "endpoints": spec.endpoints,
            "token_url": spec.token_url or "",
            "sources": frozenset(spec.sources),
            "user_agent": spec.user_agent,
        }
        for key, value in defaults.items():
            if not getattr(self, key):
                object.__setattr__(self, key, value)


@dataclass(frozen=True)
class Config:
    accounts: tuple[AccountConfig, ...]
    concurrency: int = 100  # accounts fetched at once (threads start only as needed)
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
