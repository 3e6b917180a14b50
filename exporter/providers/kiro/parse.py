"""Kiro's `GetUsageLimits` reply -> pools and the overage credits. Pure.

One pool per `usageBreakdownList` entry, named by its `resourceType` (`CREDIT` ->
`credit`), window `monthly` (the billing month; `nextDateReset` is epoch seconds,
often a float such as `1.7882208E9`). `currentUsageWithPrecision` counts the
overage too, so the plan's own use is current usage minus `currentOverages...`;
the fraction is what is left of `usageLimitWithPrecision`, and the same in
credits goes to `remaining_credits` / `limit_credits`.

    >>> r = parse_usage({"usageBreakdownList": [{"resourceType": "CREDIT",
    ...     "usageLimitWithPrecision": 50.0, "currentUsageWithPrecision": 12.5}]})
    >>> p = r.pools[0]; (p.pool, p.window, p.remaining_fraction, p.remaining_credits)
    ('credit', 'monthly', 0.75, 37.5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.providers.parsing import ParseError, mapping, number, opt_str, parse_time, slug
from exporter.snapshot import Credit, FetchError, PoolQuota, Reason

WINDOW = "monthly"
OVERAGE_CREDIT = "kiro_overage"
# nextDateReset is epoch seconds; a value outside this range is a unit change
# (milliseconds) or garbage, and is left out rather than read wrongly.
_RESET_RANGE = (1e9, 4.1e9)


@dataclass(frozen=True)
class UsageReply:
    pools: tuple[PoolQuota, ...] = ()
    credits: tuple[Credit, ...] = ()
    tier: str | None = None  # subscriptionInfo.type, as given
    tier_name: str = ""  # subscriptionInfo.subscriptionTitle ("KIRO POWER")
    skipped: int = 0


def _first(entry: dict[str, Any], where: str, *keys: str) -> float | None:
    """The first of `keys` that holds a number (the precise twin before the rounded one)."""
    for key in keys:
        value = number(entry.get(key), f"{where}.{key}")
        if value is not None:
            return value
    return None


def _reset(value: Any, where: str) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and not (
            _RESET_RANGE[0] <= value <= _RESET_RANGE[1]):
        return None
    return parse_time(value, where)


def _overage_on(body: dict[str, Any]) -> bool | None:
    """True/False where `overageStatus` says ENABLED/DISABLED; None when it says
    anything else or nothing (an unknown value is not "disabled")."""
    config = body.get("overageConfiguration")
    status = config.get("overageStatus") if isinstance(config, dict) else None
    return {"ENABLED": True, "DISABLED": False}.get(status) if isinstance(status, str) else None


def _entry(entry: Any, where: str, top_reset: float | None,
           overage_on: bool | None) -> tuple[PoolQuota, Credit | None]:
    e = mapping(entry, where)
    kind = opt_str(e.get("resourceType"), f"{where}.resourceType")
    if not kind or not slug(kind):
        raise ParseError(f"{where}.resourceType: missing")
    limit = _first(e, where, "usageLimitWithPrecision", "usageLimit")
    current = _first(e, where, "currentUsageWithPrecision", "currentUsage")
    overage = _first(e, where, "currentOveragesWithPrecision", "currentOverages") or 0.0
    if limit is None or current is None:
        raise ParseError(f"{where}: no usageLimit or currentUsage")
    if limit < 0 or current < 0 or overage < 0:
        raise ParseError(f"{where}: a negative usage or limit")
    reset = _reset(e.get("nextDateReset"), f"{where}.nextDateReset") or top_reset
    used = max(current - overage, 0.0)
    bonuses = e.get("bonuses")
    fraction: float | None = None
    remaining: float | None = None
    # Bonus spend is folded into currentUsage, so with bonuses the plan's own use is
    # not known: the limit is exported, what is left is not (never a false "exhausted").
    if not (isinstance(bonuses, list) and bonuses):
        remaining = max(limit - used, 0.0)
        fraction = remaining / limit if limit > 0 else None
    cap = _first(e, where, "overageCapWithPrecision", "overageCap")
    in_overage = bool(overage_on) and remaining == 0.0 and (cap is None or overage < cap)
    pool = PoolQuota(
        pool=slug(kind), pool_name=opt_str(e.get("displayName"), f"{where}.displayName") or kind,
        window=WINDOW, remaining_fraction=fraction, reset_time=reset,
        remaining_credits=remaining, limit_credits=limit, overage=in_overage)
    credit = None
    if cap is not None and overage_on is not False:
        credit = Credit(OVERAGE_CREDIT, max(cap - overage, 0.0))
    return pool, credit


def parse_usage(reply: Any) -> UsageReply:
    """The pools, overage credits and plan of a `GetUsageLimits` reply.

    An HTTP-200 body with a `message` and no `usageBreakdownList` is an error the
    upstream sent as data: an account error with its words, never quota.
    """
    body = mapping(reply, "reply")
    entries = body.get("usageBreakdownList")
    if entries is None:
        message = body.get("message")
        if isinstance(message, str) and message.strip():
            raise FetchError(Reason.UPSTREAM, f"usage: Kiro answered: {message.strip()[:200]}")
        raise ParseError("usageBreakdownList: missing")
    if not isinstance(entries, list):
        raise ParseError(f"usageBreakdownList: expected a list, got {type(entries).__name__}")
    top_reset = _reset(body.get("nextDateReset"), "nextDateReset")
    overage_on = _overage_on(body)
    pools: list[PoolQuota] = []
    credits: list[Credit] = []
    skipped = 0
    for i, entry in enumerate(entries):
        try:
            pool, credit = _entry(entry, f"usageBreakdownList[{i}]", top_reset, overage_on)
        except ParseError:
            skipped += 1
            continue
        if any(p.pool == pool.pool for p in pools):
            skipped += 1  # two rows of one resource type: neither is more right
            continue
        pools.append(pool)
        if credit is not None:
            credits.append(credit)
    if len(credits) > 1:
        credits = credits[:1]  # one overage balance per account: the first row's
    info = body.get("subscriptionInfo")
    info = info if isinstance(info, dict) else {}
    tier = info.get("type")
    title = info.get("subscriptionTitle")
    return UsageReply(
        pools=tuple(pools), credits=tuple(credits),
        tier=tier if isinstance(tier, str) and tier.strip() else None,
        tier_name=title if isinstance(title, str) else "", skipped=skipped)
