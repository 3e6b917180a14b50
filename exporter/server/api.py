"""JSON API handlers: pure functions the WSGI router calls.

    GET  /api/v1/quota[?provider=P][&account=A]   the snapshot, `to_json` schema
    POST /api/v1/refresh?account=A                fetch A now, bypassing min_interval
    GET  /api/v1/targets                          the accounts for Prometheus HTTP SD
    GET  /api/v1/best?model=M[&provider=P]        the account with the most quota for M

Only scrapes fetch on their own: a view reuses any result younger than
VIEW_MAX_AGE, and a forced refresh is allowed once per account per
`refresh_interval`, so no visitor can make the exporter call upstream more often.

Both parameters may repeat (`?account=a&account=b`). Errors are JSON too:

    {"error": {"code": 404, "message": "unknown account 'x' (configured: work, personal)"}}

A failed upstream fetch is not an HTTP error: the account comes back with
`"up": false` and its `error`, exactly as `/metrics` answers 200 with `llm_quota_up 0`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.config import Config
from exporter.query import QuotaSource, accounts_for, best_answer, select, unknown_accounts_message
from exporter.snapshot import Snapshot
from exporter.views.document import to_json

# Seconds a view (landing page, /api/v1/quota, GET or HEAD) reuses the newest
# result before it fetches; scrapes keep fetching per min_interval.
VIEW_MAX_AGE = 30.0

_QUOTA_METHODS = ("GET", "HEAD")
_QUOTA_PARAMS = frozenset({"provider", "account"})
_REFRESH_PARAMS = frozenset({"account"})
_PROBE_PARAMS = frozenset({"account", "provider"})
_BEST_PARAMS = frozenset({"model", "provider"})
# The provider rides along as a meta label: relabeling can use it, and it never
# becomes a target label, which would clash with the exposition's own `provider`
# (Prometheus would rename that one to `exported_provider`).
SD_PROVIDER_LABEL = "__meta_llm_quota_provider"


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class RequestError(Exception):
    """A client error: its status and a message naming what is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(
    status: int, payload: object, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    body = (json.dumps(payload, indent=2) + "\n").encode("utf-8")
    # No Content-Length: the router sets it after any compression.
    return Response(
        status=status,
        headers=[
            ("Content-Type", "application/json"),
            # Quota changes by the minute; a cached copy would mislead.
            ("Cache-Control", "no-store"),
            *headers,
        ],
        body=body,
    )


def error_response(
    status: int, message: str, headers: Iterable[tuple[str, str]] = ()
) -> Response:
    return json_response(status, {"error": {"code": status, "message": message}}, headers)


def method_not_allowed(method: str, allowed: Iterable[str]) -> Response:
    allow = ", ".join(allowed)
    return error_response(405, f"method {method} not allowed; use {allow}", [("Allow", allow)])


def _values(query: Mapping[str, list[str]], name: str) -> list[str]:
    values = query.get(name, [])
    for value in values:
        if not value.strip():
            raise RequestError(400, f"query parameter {name!r} must not be empty")
    return values


def _check_params(query: Mapping[str, list[str]], allowed: frozenset[str]) -> None:
    # A typo such as ?acount= must not silently return every account.
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise RequestError(
            400,
            f"unknown query parameter {', '.join(repr(u) for u in unknown)}"
            f" (allowed: {', '.join(sorted(allowed)) or 'none'})",
        )


def _one_account(query: Mapping[str, list[str]], what: str) -> str:
    accounts = _values(query, "account")
    if len(accounts) != 1:
        raise RequestError(
            400,
            "query parameter 'account' is required"
            if not accounts
            else f"give exactly one 'account' to {what}",
        )
    return accounts[0]


def _check_known(names: Iterable[str], engine: QuotaSource) -> None:
    known = engine.account_names()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise RequestError(404, unknown_accounts_message(unknown, known))


def view_snapshot(
    query: Mapping[str, list[str]], engine: QuotaSource, timeout: float | None = None
) -> Snapshot:
    """The snapshot a view shows for ?provider= and ?account= (each may repeat), fetched
    by the view rule (results younger than VIEW_MAX_AGE are reused); raises RequestError
    for an unknown parameter (400) or account name (404)."""
    _check_params(query, _QUOTA_PARAMS)
    providers = _values(query, "provider")
    accounts = _values(query, "account")
    _check_known(accounts, engine)
    wanted = accounts_for(engine, providers, accounts)
    snapshot = engine.collect(timeout=timeout, accounts=wanted, max_age=VIEW_MAX_AGE)
    return select(snapshot, providers, accounts)


def handle_quota(
    method: str,
    query: Mapping[str, list[str]],
    engine: QuotaSource,
    timeout: float | None,
) -> Response:
    """GET /api/v1/quota: the snapshot as JSON, filtered by ?provider= and ?account=.

    An unknown account name is a 404 naming it; a provider no account uses gives
    an empty `accounts` list (providers are open-ended, account names are not).
    """
    if method not in _QUOTA_METHODS:
        return method_not_allowed(method, _QUOTA_METHODS)
    try:
        snapshot = view_snapshot(query, engine, timeout)
    except RequestError as exc:
        return error_response(exc.status, exc.message)
    # The router drops the body of a HEAD answer.
    return json_response(200, to_json(snapshot))


class RefreshLimiter:
    """At most one forced refresh per account per `min_gap` seconds (0: no limit).

    Forced refreshes bypass min_interval and cost upstream calls; without a gap a
    script in a loop could get an account flagged. The slot is taken before the
    fetch starts, so two simultaneous requests cannot both get through.
    `min_gap` may be a callable, read at each request, so a reloaded
    `refresh_interval` applies at once.
    """

    def __init__(
        self,
        min_gap: float | Callable[[], float] = Config.refresh_interval,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not callable(min_gap) and min_gap < 0:
            raise ValueError(f"min_gap must be >= 0, got {min_gap}")
        self._gap = min_gap
        self._clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    @property
    def min_gap(self) -> float:
        return self._gap() if callable(self._gap) else self._gap

    def acquire(self, account: str) -> float:
        """0.0 and the slot is taken, or the seconds left before the next is allowed."""
        gap = self.min_gap
        with self._lock:
            now = self._clock()
            last = self._last.get(account)
            if last is not None and now - last < gap:
                return gap - (now - last)
            self._last[account] = now
            return 0.0


def handle_refresh(
    method: str,
    query: Mapping[str, list[str]],
    engine: QuotaSource,
    limiter: RefreshLimiter,
    timeout: float | None,
) -> Response:
    """POST /api/v1/refresh?account=NAME: fetch that account now, return its fresh data."""
    if method != "POST":
        return method_not_allowed(method, ["POST"])
    try:
        _check_params(query, _REFRESH_PARAMS)
        name = _one_account(query, "refresh")
        _check_known([name], engine)
    except RequestError as exc:
        return error_response(exc.status, exc.message)
    wait = limiter.acquire(name)
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        return error_response(
            429,
            f"account {name!r} was refreshed less than {limiter.min_gap:g}s ago;"
            f" retry in {retry_after}s",
            [("Retry-After", str(retry_after))],
        )
    snapshot = engine.collect(timeout=timeout, accounts=[name], force=True)
    return json_response(200, to_json(select(snapshot, (), [name])))


def probe_account(query: Mapping[str, list[str]], engine: QuotaSource) -> str:
    """The one account a `/probe?account=NAME[&provider=P]` request names.

    Raises RequestError: 400 for a missing, repeated or unknown parameter, 404 for
    an unknown account or one of another provider than `provider` says.
    """
    _check_params(query, _PROBE_PARAMS)
    name = _one_account(query, "probe")
    providers = _values(query, "provider")
    if len(providers) > 1:
        raise RequestError(400, "give at most one 'provider' to probe")
    # One read of the config: a reload in between cannot split the two checks.
    provider_of = {a.name: a.provider for a in engine.config.accounts}
    if name not in provider_of:
        raise RequestError(404, unknown_accounts_message([name], provider_of))
    if providers and providers[0] != provider_of[name]:
        raise RequestError(
            404, f"account {name!r} has provider {provider_of[name]}, not {providers[0]}"
        )
    return name


def sd_target_groups(engine: QuotaSource) -> list[dict[str, Any]]:
    """The accounts as Prometheus HTTP service discovery target groups, one per provider.

        [{"targets": ["work", "personal"],
          "labels": {"__meta_llm_quota_provider": "antigravity"}}]

    A target is an account name, as `/probe?account=` takes it; nothing else about
    the account (no email, no project) is given.
    """
    groups: dict[str, list[str]] = {}
    for account in engine.config.accounts:
        groups.setdefault(account.provider, []).append(account.name)
    return [
        {"targets": names, "labels": {SD_PROVIDER_LABEL: provider}}
        for provider, names in groups.items()
    ]


def handle_targets(
    method: str, query: Mapping[str, list[str]], engine: QuotaSource
) -> Response:
    """GET /api/v1/targets: the configured accounts for `http_sd_configs`; no fetch."""
    if method not in _QUOTA_METHODS:
        return method_not_allowed(method, _QUOTA_METHODS)
    try:
        _check_params(query, frozenset())
    except RequestError as exc:
        return error_response(exc.status, exc.message)
    return json_response(200, sd_target_groups(engine))


def handle_best(
    method: str, query: Mapping[str, list[str]], engine: QuotaSource, timeout: float | None
) -> Response:
    """GET /api/v1/best?model=ID[&provider=P]: where to send the next request for ID."""
    if method not in _QUOTA_METHODS:
        return method_not_allowed(method, _QUOTA_METHODS)
    try:
        _check_params(query, _BEST_PARAMS)
        models = _values(query, "model")
        providers = _values(query, "provider")
        if len(models) != 1:
            raise RequestError(400, "query parameter 'model' is required (once)")
        if len(providers) > 1:
            raise RequestError(400, "give at most one 'provider'")
    except RequestError as exc:
        return error_response(exc.status, exc.message)
    provider = providers[0] if providers else None
    wanted = accounts_for(engine, providers, [])
    snapshot = engine.collect(timeout=timeout, accounts=wanted, max_age=VIEW_MAX_AGE)
    status, doc = best_answer(snapshot, models[0], provider)
    return json_response(status, doc)
