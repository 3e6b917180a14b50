"""Cursor's usage replies -> monthly pools. Pure.

Cursor counts money in cents; the pools carry dollars (`remaining_credits` /
`limit_credits`, "dollars of included usage"). Its percents are percent *used*.

`GetCurrentPeriodUsage` (Connect RPC), as the team fixture of a peer shows it::

    {"billingCycleStart": "1768399334000", "billingCycleEnd": "1771077734000",
     "planUsage": {"includedSpend": 23222, "remaining": 16778, "limit": 40000,
                   "autoPercentUsed": 0, "apiPercentUsed": 46.444, "totalPercentUsed": 15.48},
     "spendLimitUsage": {"individualLimit": 10000, "individualRemaining": 10000,
                         "pooledLimit": 50000, "pooledRemaining": 50000, "limitType": "team"}}

gives, all window `monthly` and resetting at `billingCycleEnd` (epoch ms as a string):
- `auto` (Cursor's own models, "Auto" bar) 1.0 left, `api` (other models) 0.53556 left:
  the two bars Cursor's dashboard shows;
- `included`: $167.78 left of $400.00, with no fraction of its own (see `included`);
- `spend-limit`: $100.00 left of a $100.00 personal on-demand cap, and
  `spend-limit-pooled`: the team's pooled cap.

An Enterprise seat answers with the billing cycle only (no `planUsage`): a reply,
not an error; it has no pools. `/api/usage-summary` (REST) and `/api/usage`
(request counts of older plans) are read by `parse_usage_summary` and
`parse_request_usage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.providers.parsing import (
    ParseError,
    fraction_left,
    mapping,
    number,
    opt_str,
    parse_time,
)
from exporter.snapshot import PoolQuota

WINDOW = "monthly"
# Display names; the dollar pools say their unit, since the views show bare numbers.
NAMES = {"included": "Included usage (USD)", "auto": "Auto (Cursor models)",
         "api": "API (other models)", "spend-limit": "On-demand spend limit (USD)",
         "spend-limit-pooled": "Team on-demand spend limit (pooled, USD)",
         "team-pooled": "Team pooled usage (USD)", "requests": "Requests"}


@dataclass(frozen=True)
class UsageReply:
    pools: tuple[PoolQuota, ...]
    skipped: int = 0
    plan: str | None = None  # membershipType, where the reply names one
    has_usage: bool = True  # False: the reply carries the billing cycle only (Enterprise)


def _dollars(cents: Any, where: str) -> float | None:
    value = number(cents, where)
    return None if value is None else round(value / 100.0, 2)


def _pool(pool: str, reset: float | None, fraction: float | None = None,
          remaining_cents: Any = None, limit_cents: Any = None, where: str = "",
          unlimited: bool = False) -> PoolQuota:
    return PoolQuota(
        pool=pool, pool_name=NAMES.get(pool, pool), window=WINDOW,
        remaining_fraction=None if unlimited else fraction, reset_time=reset,
        remaining_credits=_dollars(remaining_cents, f"{where}.remaining"),
        limit_credits=_dollars(limit_cents, f"{where}.limit"),
        unlimited=unlimited,
    )


def _left(remaining: Any, limit: Any, where: str) -> float | None:
    """remaining / limit, clamped; None without a positive limit."""
    left, cap = number(remaining, f"{where}.remaining"), number(limit, f"{where}.limit")
    if left is None or cap is None or cap <= 0:
        return None
    return min(1.0, max(0.0, left / cap))


def plan_pools(plan: dict[str, Any], reset: float | None, where: str,
               remaining_key: str = "remaining") -> list[PoolQuota]:
    """`planUsage` (RPC) or `individualUsage.plan` (REST): `auto` and `api` from their
    percents used; `included` in dollars.

    `included` takes a fraction only where no percent says more: the dollar ratio
    misleads (Cursor's budgets stretch past `limit`, and a plan read as "2000/2000,
    100%" while Cursor showed 22% and 3%), and `totalPercentUsed` uses another
    denominator than the bars. A free plan (limit 0) has only `totalPercentUsed`.
    """
    auto = fraction_left(plan.get("autoPercentUsed"), f"{where}.autoPercentUsed")
    api = fraction_left(plan.get("apiPercentUsed"), f"{where}.apiPercentUsed")
    total = fraction_left(plan.get("totalPercentUsed"), f"{where}.totalPercentUsed")
    limit = number(plan.get("limit"), f"{where}.limit")
    if limit == 0:
        # A free plan: no dollars included, and only the total percent means anything
        # (its bucket percents count bonus use against nothing).
        auto = api = None
    pools: list[PoolQuota] = []
    if auto is not None:
        pools.append(_pool("auto", reset, auto))
    if api is not None:
        pools.append(_pool("api", reset, api))
    remaining: Any = None
    if limit is not None and limit > 0:
        remaining = plan.get(remaining_key)
        used = number(plan.get("used"), f"{where}.used")
        if remaining is None and used is not None:
            remaining = max(0.0, limit - used)  # what the reply's own two numbers say
    if auto is not None or api is not None:
        fraction = None  # the bars say it; the dollar ratio would mislead
    elif total is not None:
        fraction = total
    else:
        fraction = _left(remaining, limit, where)
    if remaining is not None or fraction is not None:
        pools.append(_pool("included", reset, fraction, remaining,
                           limit if remaining is not None else None, where))
    return pools


def _cap(pool: str, remaining: Any, limit: Any, reset: float | None,
         where: str) -> PoolQuota | None:
    """A spend cap: a pool where a positive limit exists (0 or absent: no cap)."""
    cap = number(limit, f"{where}.limit")
    if cap is None or cap <= 0:
        return None
    return _pool(pool, reset, _left(remaining, limit, where), remaining, limit, where)


def _entries(reply: dict[str, Any], parts: list[tuple[str, Any]]) -> tuple[list[PoolQuota],
                                                                             int]:
    """Run each part's parser; a malformed part is skipped and counted."""
    pools: list[PoolQuota] = []
    skipped = 0
    for _name, build in parts:
        try:
            pools.extend(p for p in build() if p is not None)
        except ParseError:
            skipped += 1
    return pools, skipped


def parse_period_usage(body: Any) -> UsageReply:
    """`GetCurrentPeriodUsage`; ParseError when the body is not an object."""
    reply = mapping(body, "GetCurrentPeriodUsage")
    try:
        reset = parse_time(reply.get("billingCycleEnd"), "billingCycleEnd")
    except ParseError:
        reset = None
    plan = reply.get("planUsage")
    spend = reply.get("spendLimitUsage")
    if plan is not None and not isinstance(plan, dict):
        raise ParseError(f"planUsage: expected an object, got {type(plan).__name__}")

    def spend_caps() -> list[PoolQuota | None]:
        s = mapping(spend, "spendLimitUsage")
        return [_cap("spend-limit", s.get("individualRemaining"), s.get("individualLimit"),
                     reset, "spendLimitUsage.individual"),
                _cap("spend-limit-pooled", s.get("pooledRemaining"), s.get("pooledLimit"),
                     reset, "spendLimitUsage.pooled")]

    parts: list[tuple[str, Any]] = []
    if plan is not None:
        parts.append(("planUsage", lambda: plan_pools(plan, reset, "planUsage")))
    if spend is not None:
        parts.append(("spendLimitUsage", spend_caps))
    pools, skipped = _entries(reply, parts)
    return UsageReply(tuple(pools), skipped, has_usage=plan is not None)


def parse_usage_summary(body: Any) -> UsageReply:
    """`/api/usage-summary`: `individualUsage.plan` (or an Enterprise seat's
    `individualUsage.overall`, its personal cap, as `included`), `onDemand` caps and
    `teamUsage.pooled` (`team-pooled`); `isUnlimited` makes `included` unlimited."""
    reply = mapping(body, "usage-summary")
    reset = parse_time(reply.get("billingCycleEnd"), "billingCycleEnd")
    plan_name = opt_str(reply.get("membershipType"), "membershipType")
    individual = reply.get("individualUsage")
    team = reply.get("teamUsage")
    ind = mapping(individual, "individualUsage") if individual is not None else {}
    tm = mapping(team, "teamUsage") if team is not None else {}

    def enabled(part: Any, where: str) -> dict[str, Any] | None:
        if part is None:
            return None
        got = mapping(part, where)
        return None if got.get("enabled") is False else got

    def plan_part() -> list[PoolQuota | None]:
        if reply.get("isUnlimited") is True:
            return [_pool("included", reset, unlimited=True)]
        plan = enabled(ind.get("plan"), "individualUsage.plan")
        if plan is not None:
            return list(plan_pools(plan, reset, "individualUsage.plan"))
        overall = enabled(ind.get("overall"), "individualUsage.overall")
        if overall is None:
            return []
        return [_cap("included", overall.get("remaining"), overall.get("limit"), reset,
                     "individualUsage.overall")]

    def on_demand(part: Any, pool: str, where: str) -> list[PoolQuota | None]:
        got = enabled(part, where)
        if got is None:
            return []
        return [_cap(pool, got.get("remaining"), got.get("limit"), reset, where)]

    parts: list[tuple[str, Any]] = [
        ("plan", plan_part),
        ("onDemand", lambda: on_demand(ind.get("onDemand"), "spend-limit",
                                       "individualUsage.onDemand")),
        ("teamOnDemand", lambda: on_demand(tm.get("onDemand"), "spend-limit-pooled",
                                           "teamUsage.onDemand")),
        ("pooled", lambda: on_demand(tm.get("pooled"), "team-pooled", "teamUsage.pooled")),
    ]
    pools, skipped = _entries(reply, parts)
    return UsageReply(tuple(pools), skipped, plan=(plan_name or "").lower() or None)


def parse_request_usage(body: Any) -> UsageReply:
    """`/api/usage` of request-based plans: `{"gpt-4": {"numRequests",
    "maxRequestUsage"}, "startOfMonth"}` -> pool `requests` (counts). The reset is not
    given; it is left unknown rather than guessed from `startOfMonth`."""
    reply = mapping(body, "usage")
    pools: list[PoolQuota] = []
    skipped = 0
    entry = reply.get("gpt-4")
    if entry is not None:
        try:
            got = mapping(entry, "gpt-4")
            used = number(got.get("numRequests"), "gpt-4.numRequests")
            cap = number(got.get("maxRequestUsage"), "gpt-4.maxRequestUsage")
            if cap is not None and cap > 0 and used is not None:
                left = max(0.0, cap - used)
                pools.append(PoolQuota(
                    pool="requests", pool_name=NAMES["requests"], window=WINDOW,
                    remaining_fraction=left / cap, reset_time=None,
                    remaining_requests=left, limit_requests=cap))
        except ParseError:
            skipped += 1
    return UsageReply(tuple(pools), skipped)
