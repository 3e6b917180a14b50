"""The simulated upstreams: every registered provider's, gathered from the registry.

A provider's simulated upstream is its `simulated.py` (a `SimUpstream`), handed to
the registry in its `ProviderPackage`. All upstreams share one loopback port;
`route` claims the paths an upstream serves, and the bearer token says which
account (and so which upstream) answers.
"""

from __future__ import annotations

from exporter.providers import PACKAGES
from exporter.simkit import common
from exporter.simkit.common import SimUpstream, upstream_for

__all__ = ["UPSTREAMS", "SimUpstream", "all_hosts", "all_methods", "host_methods",
           "token_upstream", "upstream_for"]

UPSTREAMS: dict[str, SimUpstream] = {
    name: package.simulated
    for name, package in PACKAGES.items()
    if package.simulated is not None
}
common.UPSTREAMS.update(UPSTREAMS)


def token_upstream() -> SimUpstream | None:
    """The upstream whose OAuth token endpoint the simulator plays (`/token`): the first
    that refreshes tokens; its error style answers faults of the token call."""
    return next((u for u in UPSTREAMS.values() if getattr(u, "token_scope", "")), None)


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
