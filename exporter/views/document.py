"""The JSON document of `/api/v1/quota` and `quota --output json`.

Times are Unix seconds plus RFC 3339 strings for humans. Every model carries its
own fraction (null when upstream sent none: `fraction_omitted`) and its effective
one with the limit that binds; an effective number that cannot be known is null
with `unknown_reason`, never 0 or 1. Every source says whether it answered and
why not. Project and email
appear only when the account opted in (expose_project / expose_email).
"""

from __future__ import annotations

from typing import Any

from exporter.quota import Limit, resolve
from exporter.snapshot import AccountData, AccountSnapshot, ModelQuota, PoolQuota, Snapshot
from exporter.timefmt import rfc3339

SCHEMA_VERSION = 2


def _ts(value: float | None) -> dict[str, Any]:
    return {"unix": value, "rfc3339": rfc3339(value) if value is not None else None}


def _limit(limit: Limit | None) -> dict[str, Any] | None:
    if limit is None:
        return None
    pool = limit.pool
    return {
        "kind": "model" if pool is None else "pool",
        "pool": pool.pool if pool else None,
        "pool_name": pool.pool_name if pool else None,
        "window": pool.window if pool else None,
        "remaining_fraction": limit.fraction,
        "reset": _ts(limit.reset_time),
        # How a number upstream left out was found; null when upstream sent it.
        "evidence": limit.evidence or None,
    }


def _model(m: ModelQuota, data: AccountData) -> dict[str, Any]:
    found = resolve(m, data)
    limit = found.limit
    return {
        "model": m.model,
        "display_name": m.display_name,
        "model_provider": m.model_provider,
        "remaining_fraction": m.remaining_fraction,
        "fraction_omitted": m.omitted,
        "effective_remaining_fraction": limit.fraction if limit else None,
        "unknown_reason": found.why or None,
        "binding_limit": _limit(limit),
        "pools": list(m.pools),
        "remaining_requests": m.remaining_requests,
        "reset": _ts(m.reset_time),
    }


def _pool(p: PoolQuota) -> dict[str, Any]:
    return {
        "pool": p.pool,
        "pool_name": p.pool_name,
        "window": p.window,
        "remaining_fraction": p.remaining_fraction,
        "fraction_omitted": p.omitted,
        "unlimited": p.unlimited,
        "remaining_requests": p.remaining_requests,
        "limit_requests": p.limit_requests,
        "remaining_credits": p.remaining_credits,
        "limit_credits": p.limit_credits,
        "overage": p.overage,
        "within": list(p.within),
        "reset": _ts(p.reset_time),
    }


def account_json(a: AccountSnapshot) -> dict[str, Any]:
    data = a.data
    entry: dict[str, Any] = {
        "provider": a.provider,
        "account": a.account,
        "up": a.up,
        "tier": a.tier,
        "tier_name": data.info.tier_name if data else "",
        "cached": a.cached,
        "fetched_at": _ts(a.fetched_at),
        "last_success": _ts(a.last_success),
        "fetch_duration_seconds": round(a.duration_seconds, 6),
        "error": {"reason": a.error.reason.value, "message": a.error.message} if a.error else None,
        "sources": [
            {
                "source": r.source,
                "up": r.up,
                "error": (
                    {"reason": r.error.reason.value, "message": r.error.message}
                    if r.error else None
                ),
                "skipped_entries": r.skipped,
            }
            for r in a.sources
        ],
        "errors_total": dict(sorted(a.errors_total.items())),
        "skipped_total": dict(sorted(a.skipped_total.items())),
        "models": [],
        "pools": [],
        "credits": [],
        "pools_available": data.pools_available if data else None,
        "pools_known": data.pools_known if data else None,
    }
    if data:
        if data.info.project:
            entry["project"] = data.info.project
        if data.info.email:
            entry["email"] = data.info.email
        entry["models"] = [_model(m, data) for m in data.models]
        entry["pools"] = [_pool(p) for p in data.pools]
        entry["credits"] = [
            {"credit_type": c.credit_type, "remaining": c.remaining} for c in data.credits
        ]
    return entry


def to_json(snapshot: Snapshot) -> dict[str, Any]:
    """The stable JSON schema (version 2)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "taken_at": _ts(snapshot.taken_at),
        "accounts": [account_json(a) for a in snapshot.accounts],
    }
