"""What the rest of the exporter knows of a provider before any account uses it.

Each provider package defines one `ProviderSpec` in its `__init__.py`; that module
imports nothing heavier than this file, so the config loader can validate an
account (sources, credential kinds, defaults) without loading any client code.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # the `provider` label and config value
    sources: tuple[str, ...]  # the upstream calls it can make; all of them by default
    endpoints: tuple[str, ...]  # default base URLs, tried in order
    user_agent: str  # default User-Agent (config key `user_agent`)
    credential_kinds: tuple[str, ...]  # the `credentials:` keys it accepts
    factory: str  # "module:Class" of its Provider, imported when an account needs it
    token_url: str | None = None  # OAuth token endpoint, for providers that may refresh
    headers: Mapping[str, str] = field(default_factory=dict)  # default extra headers
    # The source whose failure leaves pools unknown (effective numbers then unknown).
    pool_source: str | None = None
    summary: str = ""  # one line for --help and docs

    def request_headers(
        self, user_agent: str, extra: Iterable[tuple[str, str]] = ()
    ) -> dict[str, str]:
        """The headers of every call: User-Agent, this provider's default headers, then
        an account's own `headers:`; a later one replaces an earlier one of the same
        name whatever its case, so no header is ever sent twice.

        >>> spec = ProviderSpec("p", (), (), "ua/1", (), "m:C", headers={"anthropic-beta": "b1"})
        >>> spec.request_headers("ua/2", [("Anthropic-Beta", "b2")])
        {'User-Agent': 'ua/2', 'Anthropic-Beta': 'b2'}
        """
        merged: dict[str, tuple[str, str]] = {}
        for name, value in [("User-Agent", user_agent), *self.headers.items(), *extra]:
            merged[name.lower()] = (name, value)
        return dict(merged.values())
