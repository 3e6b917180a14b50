"""The typed result every view reads.

Data moves one way: config -> fetch -> Snapshot -> views (metrics, JSON API,
terminal table, landing page). Providers build `AccountData`; the fetch engine
wraps it in an `AccountSnapshot` with health facts; views only read.

Nothing here knows about Prometheus or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why an account fetch failed: the `reason` label of llm_quota_fetch_errors_total."""

    AUTH = "auth"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    UPSTREAM = "upstream"
    TIMEOUT = "timeout"
    NETWORK = "network"
    PARSE = "parse"


class FetchError(Exception):
    """A failed account fetch with a reason and a message safe to show anywhere.

    The message must never contain a secret: providers build it from status
    codes, upstream error messages and host names only.
    """

    def __init__(
        self, reason: Reason, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        # Seconds the upstream asked us to wait (RetryInfo.retryDelay), if any.
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"FetchError({self.reason.value!r}, {self.message!r})"


@dataclass(frozen=True)
class ModelQuota:
    """One per-model quota (Antigravity fetchAvailableModels)."""

    model: str  # upstream model id, the `model` label
    display_name: str
    model_provider: str  # "google", "anthropic", "openai", ... or "" when unknown
    remaining_fraction: float | None  # None: upstream gave no fraction; never guessed
    reset_time: float | None  # Unix seconds


@dataclass(frozen=True)
class PoolQuota:
    """One window of a quota shared by a group of models (retrieveUserQuotaSummary)."""

    pool: str  # stable slug of the group's display name: "gemini", "claude-gpt"
    pool_name: str  # the group's display name as upstream gave it
    window: str  # "5h", "weekly", ...
    remaining_fraction: float | None
    reset_time: float | None  # Unix seconds
    bucket_id: str = ""


@dataclass(frozen=True)
class AccountInfo:
    tier: str  # raw tier id; "unknown" when upstream gave none
    tier_name: str  # display name; "" when unknown
    project: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class AccountData:
    """What a provider returns for one successful account fetch."""

    info: AccountInfo
    models: tuple[ModelQuota, ...] = ()
    pools: tuple[PoolQuota, ...] = ()
    # False when the pool summary is not available for this account (for example
    # a free account answered 403 "no valid license"): no pools, not an error.
    pools_available: bool = True


@dataclass(frozen=True)
class AccountSnapshot:
    """One account as of one scrape: data when `up`, else the error."""

    provider: str
    account: str
    up: bool
    data: AccountData | None  # None when not up
    error: FetchError | None  # None when up
    duration_seconds: float  # how long the fetch that produced this took
    fetched_at: float  # Unix time the fetch that produced this finished
    last_success: float | None  # Unix time of the last successful fetch, if any
    cached: bool = False  # reused within min_interval, not fetched for this scrape
    # Cumulative failed fetches by reason since the exporter started.
    errors_total: dict[str, int] = field(default_factory=dict)

    @property
    def tier(self) -> str:
        return self.data.info.tier if self.data else "unknown"


@dataclass(frozen=True)
class Snapshot:
    """All configured accounts as of one scrape."""

    accounts: tuple[AccountSnapshot, ...]
    taken_at: float


def to_json(snapshot: Snapshot) -> dict[str, Any]:
    """The stable JSON schema of `/api/v1/quota` and `quota --output json`.

    Times are Unix seconds (floats) plus RFC 3339 strings for humans; an unknown
    fraction is null, never 0. Project and email appear only when the fetch engine
    kept them (the account opted in with expose_project / expose_email).
    """
    from exporter.timefmt import rfc3339

    def ts(value: float | None) -> dict[str, Any]:
        return {"unix": value, "rfc3339": rfc3339(value) if value is not None else None}

    accounts: list[dict[str, Any]] = []
    for a in snapshot.accounts:
        entry: dict[str, Any] = {
            "provider": a.provider,
            "account": a.account,
            "up": a.up,
            "tier": a.tier,
            "tier_name": a.data.info.tier_name if a.data else "",
            "cached": a.cached,
            "fetched_at": ts(a.fetched_at),
            "last_success": ts(a.last_success),
            "fetch_duration_seconds": round(a.duration_seconds, 6),
            "error": (
                {"reason": a.error.reason.value, "message": a.error.message}
                if a.error
                else None
            ),
            "errors_total": dict(sorted(a.errors_total.items())),
            "models": [],
            "pools": [],
            "pools_available": a.data.pools_available if a.data else None,
        }
        if a.data:
            if a.data.info.project:
                entry["project"] = a.data.info.project
            if a.data.info.email:
                entry["email"] = a.data.info.email
            entry["models"] = [
                {
                    "model": m.model,
                    "display_name": m.display_name,
                    "model_provider": m.model_provider,
                    "remaining_fraction": m.remaining_fraction,
                    "reset": ts(m.reset_time),
                }
                for m in a.data.models
            ]
            entry["pools"] = [
                {
                    "pool": p.pool,
                    "pool_name": p.pool_name,
                    "window": p.window,
                    "remaining_fraction": p.remaining_fraction,
                    "reset": ts(p.reset_time),
                }
                for p in a.data.pools
            ]
        accounts.append(entry)
    return {"schema_version": 1, "taken_at": ts(snapshot.taken_at), "accounts": accounts}
