"""What the rest of the exporter knows of a provider before any account uses it.

Each provider package defines one `ProviderSpec` in its `__init__.py`; that module
imports nothing heavier than this file, so the config loader can validate an
account (sources, credential kinds, defaults) without loading any client code.
"""

from __future__ import annotations

from collections.abc import Mapping
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
