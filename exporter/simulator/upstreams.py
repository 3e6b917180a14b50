"""The simulated upstreams: one module each, behind one protocol, in one registry.

Adding a simulated provider is a module that defines a `SimUpstream` plus one line
in `UPSTREAMS`. All upstreams share one loopback port; `route` claims the paths
an upstream serves, and the bearer token says which account (and so which
upstream) answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from exporter.simulator import antigravity, claude, codex, copilot, gemini_cli
from exporter.simulator.common import AccountState, Fault, Quota, Reply, SimAccount

if TYPE_CHECKING:
    from exporter.simulator.state import SimState


class SimUpstream(Protocol):
    @property
    def provider(self) -> str:
        """The exporter's provider name."""

    @property
    def tiers(self) -> Mapping[str, str]:
        """Tier id -> display name; the first is the default."""

    @property
    def credential_styles(self) -> tuple[str, ...]:
        """How exporter_config hands out credentials; the first is the default."""

    @property
    def methods(self) -> tuple[str, ...]:
        """The calls it counts and faults can target."""

    @property
    def hosts(self) -> tuple[str, ...]:
        """Host labels: path prefixes under the simulator's base URL."""

    @property
    def token_prefix(self) -> str:
        """What its static access tokens look like."""

    @property
    def model_ids(self) -> tuple[str, ...]:
        """Valid keys of SimAccount.model_fractions."""

    @property
    def pool_windows(self) -> tuple[str, ...]:
        """Valid keys of SimAccount.pool_fractions ("pool/window")."""

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        """A new account's model quotas (by id) and pool quotas (by pool, window)."""

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        """(host, method) when this upstream serves `verb path`, else None."""

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        """The honest reply to a call with a valid token (faults are applied after)."""

    def unauthorized(self) -> Reply:
        """Its reply to a missing, unknown or expired token."""

    def error(self, fault: Fault) -> Reply:
        """Its reply for an error fault (401, 403, 403_license, 429, 500, 503)."""

    def wrong_types(self, method: str) -> Any:
        """A JSON body of the right envelope with wrong types where parsers look."""

    def account_config(self, sim: SimState, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        """The exporter config entry for the account, writing any credential file into
        `directory` in the format of the tool that owns it."""


UPSTREAMS: dict[str, SimUpstream] = {
    u.provider: u
    for u in (
        antigravity.ANTIGRAVITY,
        gemini_cli.GEMINI_CLI,
        claude.CLAUDE,
        codex.CODEX,
        copilot.COPILOT,
    )
}


def upstream_for(provider: str) -> SimUpstream:
    try:
        return UPSTREAMS[provider]
    except KeyError:
        raise ValueError(f"no simulated upstream for provider {provider!r}; "
                         f"simulated: {sorted(UPSTREAMS)}") from None


def all_methods() -> tuple[str, ...]:
    return tuple(dict.fromkeys(m for u in UPSTREAMS.values() for m in u.methods))


def all_hosts() -> tuple[str, ...]:
    return tuple(dict.fromkeys(h for u in UPSTREAMS.values() for h in u.hosts))


def host_methods() -> dict[str, tuple[str, ...]]:
    """Each host label and the methods the upstreams behind it serve."""
    out: dict[str, dict[str, None]] = {}
    for u in UPSTREAMS.values():
        for host in u.hosts:
            out.setdefault(host, {}).update(dict.fromkeys(u.methods))
    return {host: tuple(methods) for host, methods in out.items()}
