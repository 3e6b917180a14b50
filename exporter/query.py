"""The questions both the JSON API and `quota` ask of the fetch engine and its snapshot.

Which accounts a filter names (before fetching: each account fetched costs upstream
calls), the snapshot narrowed to them, and the account with the most quota left for
a model. `exporter.server.api` answers them over HTTP, `exporter.cli.quota` in a
terminal; neither borrows from the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from exporter.config import Config
from exporter.quota import best, candidates
from exporter.snapshot import Snapshot
from exporter.timefmt import rfc3339


class QuotaSource(Protocol):
    """What the views need from the fetch engine (`exporter.fetch.FetchEngine`)."""

    def collect(
        self,
        timeout: float | None = None,
        accounts: Iterable[str] | None = None,
        force: bool = False,
        max_age: float | None = None,
    ) -> Snapshot: ...

    def account_names(self) -> list[str]: ...

    @property
    def config(self) -> Config: ...


def unknown_accounts_message(unknown: Iterable[str], known: Iterable[str]) -> str:
    """`unknown account 'x' (configured: a, b)`.

    >>> unknown_accounts_message(["x"], ["a", "b"])
    "unknown account 'x' (configured: a, b)"
    """
    names = sorted(set(unknown))
    label = "account" if len(names) == 1 else "accounts"
    configured = ", ".join(known) or "none"
    return f"unknown {label} {', '.join(repr(n) for n in names)} (configured: {configured})"


def accounts_for(
    engine: QuotaSource, providers: Iterable[str], accounts: Iterable[str]
) -> list[str] | None:
    """The names to fetch for these filters: None means every account.

    Filtering before the fetch matters: each account fetched costs upstream calls.
    """
    want_providers = set(providers)
    want_accounts = set(accounts)
    if not want_providers and not want_accounts:
        return None
    return [
        a.name
        for a in engine.config.accounts
        if (not want_providers or a.provider in want_providers)
        and (not want_accounts or a.name in want_accounts)
    ]


def select(snapshot: Snapshot, providers: Iterable[str], accounts: Iterable[str]) -> Snapshot:
    """Keep the accounts matching any given provider and any given name (empty: all)."""
    want_providers = set(providers)
    want_accounts = set(accounts)
    kept = tuple(
        a
        for a in snapshot.accounts
        if (not want_providers or a.provider in want_providers)
        and (not want_accounts or a.account in want_accounts)
    )
    return Snapshot(accounts=kept, taken_at=snapshot.taken_at)


def best_answer(snapshot: Snapshot, model: str, provider: str | None) -> tuple[int, dict[str, Any]]:
    """(status, document) of the account with the most effective quota for `model`.

    Only known numbers are chosen; every account whose number is unknown is listed
    in `unknown` with the reason, so a caller knows what it was not told. 200 with
    the answer (`usable` false when even the best is at or below the exhausted
    threshold); 404 when no account has the model; 503 when accounts have it but
    none's number is known now.
    """
    every = candidates(snapshot, model, provider)
    unknown = [{"account": a.account, "provider": a.provider, "reason": a.why}
               for a in every if not a.known]
    found = best(snapshot, model, provider)
    if found is None:
        if unknown:
            reasons = "; ".join(f"{u['account']}: {u['reason']}" for u in unknown)
            return 503, {"error": {"code": 503, "message": (
                f"the quota for {model!r} is unknown right now on every account that has "
                f"it ({reasons})")}, "unknown": unknown}
        scope = f" of provider {provider!r}" if provider else ""
        return 404, {"error": {"code": 404, "message": (
            f"no account{scope} has a model or pool {model!r} with current data")}}
    return 200, {
        "account": found.account,
        "provider": found.provider,
        "model": found.model,
        "effective_remaining_fraction": None if found.unlimited else found.fraction,
        "unlimited": found.unlimited,
        "reset_time": rfc3339(found.reset_time) if found.reset_time is not None else None,
        "usable": found.usable,
        "candidates": len(every),
        "unknown": unknown,
    }
