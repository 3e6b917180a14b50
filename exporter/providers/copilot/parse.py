"""Pure parser of GitHub's `GET /copilot_internal/user` reply: the plan and its monthly
quotas.

Paid plans (and newer free ones) answer `quota_snapshots`:

    {"copilot_plan": "individual_pro", "access_type_sku": "monthly_subscriber_quota",
     "quota_reset_date_utc": "2026-12-01T00:00:00.000Z",
     "quota_snapshots": {"premium_interactions": {"entitlement": 300, "remaining": 42,
        "percent_remaining": 14.0, "unlimited": false}, "chat": {"unlimited": true}}}

Older free plans answer `limited_user_quotas` (what is left) and `monthly_quotas`
(the totals) with a date-only `limited_user_reset_date`. Each becomes a pool with
window `monthly`: `premium_interactions` -> `premium-interactions`, `chat`,
`completions` (any other key by its own name). The rules:
- a limited quota: the fraction from `percent_remaining` (else remaining /
  entitlement), with `remaining` (else `quota_remaining`, which carries the
  fractions of AI-credit billing: 473.67 beside 473) and `entitlement` as counts;
- `unlimited: true`, or GitHub's `-1` sentinel as the entitlement (or as the
  remaining count of a quota with no positive entitlement): unlimited, no fraction.
  A `remaining` of -1 under an entitlement of 300 is not the sentinel: it is one
  request past the quota (seen with `percent_remaining: -0.33`);
- an entitlement of 0, or `has_quota: false`: no quota at all (an organisation seat
  billed by tokens sends `entitlement: 0, remaining: 0, percent_remaining: 100`; a
  free plan's `premium_interactions` comes with `has_quota: false`), so no pool:
  not a false 0%, and not "unlimited" either, since that seat is billed for what it
  uses and GitHub states no limit we could show;
- overage: nothing is left of the included quota (a negative `remaining` such as
  -3821, a negative `percent_remaining`, or 0) and the plan keeps serving, billed
  per request. Then the fraction is 0, the count 0 and `overage` is set. What
  decides it: `overage_permitted: true` does; `overage_permitted: false` does not
  (GitHub then refuses requests with 402 `quota_exceeded`: the pool is exhausted,
  even at -1, the one request that overshot); without the flag, a negative count
  or percent, or a positive `overage_count`, shows that GitHub served past the
  quota, so it is overage; a plain 0 without the flag is exhausted;
- `access_type_sku: "no_access"`: the account has no Copilot;
  `"subscription_ended"` without quotas: its subscription ended.

>>> reply = parse_user({"copilot_plan": "individual_pro", "quota_snapshots": {
...     "premium_interactions": {"entitlement": 300, "remaining": 42, "percent_remaining": 14}}})
>>> p = reply.pools[0]
>>> p.pool, p.window, p.remaining_fraction, p.remaining_requests, p.limit_requests
('premium-interactions', 'monthly', 0.14, 42.0, 300.0)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from exporter.providers.parsing import ParseError, mapping, number, opt_str, parse_time
from exporter.snapshot import PoolQuota

log = logging.getLogger(__name__)

WINDOW = "monthly"
NO_ACCESS_SKU = "no_access"
ENDED_SKU = "subscription_ended"
# upstream key -> (pool slug, display name), in the order the views list them
POOLS = {
    "premium_interactions": ("premium-interactions", "Premium requests"),
    "chat": ("chat", "Chat"),
    "completions": ("completions", "Code completions"),
}
# access_type_sku -> what GitHub calls the plan; `copilot_plan` alone is often just
# "individual" (Free and Pro alike) or "individual_pro" (Pro and Pro+ alike).
SKU_NAMES = {
    "free_limited_copilot": "Copilot Free",
    "copilot_for_individuals_subscriber": "Copilot Individual",
    "copilot_for_individuals_pro_subscriber": "Copilot Pro",
    "monthly_subscriber_quota": "Copilot Pro",
    "plus_monthly_subscriber_quota": "Copilot Pro+",
    "plus_yearly_subscriber_quota": "Copilot Pro+",
    "copilot_for_business_seat_quota": "Copilot Business",
    "copilot_standalone_seat_quota": "Copilot Business",
}
PLAN_NAMES = {
    "free": "Copilot Free",
    "individual": "Copilot Individual",
    "individual_pro": "Copilot Pro",
    "business": "Copilot Business",
    "enterprise": "Copilot Enterprise",
}
# GitHub's "no meter here" value for an entitlement or a remaining count.
_SENTINEL = -1.0


@dataclass(frozen=True)
class UserReply:
    tier: str  # copilot_plan, "unknown" when absent
    tier_name: str
    sku: str  # access_type_sku, "" when absent
    pools: tuple[PoolQuota, ...]
    skipped: int  # malformed quota entries left out

    @property
    def has_access(self) -> bool:
        return self.sku != NO_ACCESS_SKU and not self.ended

    @property
    def ended(self) -> bool:
        """The subscription ended and the reply carries no quota in its place."""
        return self.sku == ENDED_SKU and not self.pools


def _pool_names(key: str) -> tuple[str, str]:
    if key in POOLS:
        return POOLS[key]
    return key.lower().replace("_", "-"), key.replace("_", " ").capitalize()


def _pool(key: str, reset: float | None, *, fraction: float | None = None,
          remaining: float | None = None, limit: float | None = None,
          unlimited: bool = False, overage: bool = False) -> PoolQuota:
    slug, name = _pool_names(key)
    return PoolQuota(
        pool=slug, pool_name=name, window=WINDOW, remaining_fraction=fraction,
        reset_time=reset, bucket_id=key, remaining_requests=remaining, limit_requests=limit,
        unlimited=unlimited, overage=overage,
    )


def _clamped(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _is_unlimited(entry: dict[str, Any], entitlement: float | None,
                  remaining: float | None) -> bool:
    """`unlimited: true`, or the -1 sentinel; -1 left of a positive entitlement is
    one request of overage, not the sentinel."""
    if entry.get("unlimited") is True or entitlement == _SENTINEL:
        return True
    return remaining == _SENTINEL and (entitlement is None or entitlement <= 0)


def _overage(entry: dict[str, Any], where: str, remaining: float | None,
             percent: float | None) -> bool:
    """Whether a quota with nothing left still serves, billed (module docstring)."""
    permitted = entry.get("overage_permitted")
    if permitted is True or permitted is False:
        return permitted
    count = number(entry.get("overage_count"), f"{where}.overage_count")
    past = any(v is not None and v < 0 for v in (remaining, percent))
    return past or (count is not None and count > 0)


def _snapshot(key: str, raw: Any, reset: float | None) -> PoolQuota | None:
    where = f"quota_snapshots.{key}"
    entry = mapping(raw, where)
    entitlement = number(entry.get("entitlement"), f"{where}.entitlement")
    remaining = number(entry.get("remaining"), f"{where}.remaining")
    if remaining is None:
        remaining = number(entry.get("quota_remaining"), f"{where}.quota_remaining")
    percent = number(entry.get("percent_remaining"), f"{where}.percent_remaining")
    if _is_unlimited(entry, entitlement, remaining):
        return _pool(key, reset, unlimited=True)
    if (entitlement is not None and entitlement <= 0) or entry.get("has_quota") is False:
        return None  # nothing granted (billed by tokens, or not in the plan): no quota
    if percent is not None:
        fraction = _clamped(percent / 100.0)
    elif entitlement is not None and remaining is not None:
        fraction = _clamped(remaining / entitlement)
    else:
        raise ParseError(f"{where}: neither percent_remaining nor entitlement and remaining")
    if entitlement is not None and remaining is not None and remaining <= 0:
        fraction = 0.0  # the count is the authority: a stale percent never hides a 0
    overage = fraction == 0.0 and _overage(entry, where, remaining, percent)
    count = None if remaining is None else max(remaining, 0.0)
    return _pool(key, reset, fraction=fraction, remaining=count, limit=entitlement,
                 overage=overage)


def _legacy(doc: dict[str, Any], reset: float | None) -> tuple[list[PoolQuota], int]:
    """`limited_user_quotas` (left) over `monthly_quotas` (totals): older free plans."""
    left = doc.get("limited_user_quotas")
    totals = doc.get("monthly_quotas")
    totals = totals if isinstance(totals, dict) else {}
    pools: list[PoolQuota] = []
    skipped = 0
    for key, raw in (left.items() if isinstance(left, dict) else ()):
        where = f"limited_user_quotas.{key}"
        try:
            remaining = number(raw, where)
            total = number(totals.get(key), f"monthly_quotas.{key}")
            if remaining is None or total is None:
                raise ParseError(f"{where}: no count, or no total in monthly_quotas")
        except ParseError as exc:
            skipped += 1
            log.debug("skipped a malformed Copilot quota", extra={"kv": {"why": str(exc)}})
            continue
        if total <= 0 or remaining < 0:
            continue  # no meter: nothing honest to show
        pools.append(_pool(key, reset, fraction=_clamped(remaining / total),
                           remaining=remaining, limit=total))
    return pools, skipped


def _reset(doc: dict[str, Any]) -> float | None:
    """`quota_reset_date_utc`, else `quota_reset_date`, else `quota_reset_at`, else
    `limited_user_reset_date`: ISO (with or without milliseconds), a date alone
    (midnight UTC) or an epoch number; 0 is no date."""
    for key in ("quota_reset_date_utc", "quota_reset_date", "quota_reset_at",
                "limited_user_reset_date"):
        if doc.get(key):
            return parse_time(doc[key], key)
    return None


def _tier_name(plan: str | None, sku: str) -> str:
    return SKU_NAMES.get(sku) or PLAN_NAMES.get(plan or "", "")


def _order(pool: PoolQuota) -> tuple[int, str]:
    keys = list(POOLS)
    return (keys.index(pool.bucket_id) if pool.bucket_id in keys else len(keys), pool.pool)


def parse_user(body: Any) -> UserReply:
    """copilot_internal/user -> plan, SKU and monthly pools (none for `no_access`)."""
    doc = mapping(body, "copilot_internal/user")
    plan = opt_str(doc.get("copilot_plan"), "copilot_plan")
    raw_sku = doc.get("access_type_sku")
    sku = raw_sku if isinstance(raw_sku, str) else ""
    reply = UserReply(plan or "unknown", _tier_name(plan, sku), sku, (), 0)
    if sku == NO_ACCESS_SKU:
        return reply
    reset = _reset(doc)
    snapshots = doc.get("quota_snapshots")
    pools: list[PoolQuota] = []
    skipped = 0
    if isinstance(snapshots, dict):
        # A paid reply may still carry the legacy keys: the snapshots win.
        for key, raw in snapshots.items():
            try:
                pool = _snapshot(str(key), raw, reset)
            except ParseError as exc:
                skipped += 1
                log.debug("skipped a malformed Copilot quota", extra={"kv": {"why": str(exc)}})
                continue
            if pool is not None:
                pools.append(pool)
    elif snapshots is not None:
        raise ParseError(f"quota_snapshots: expected an object, got {type(snapshots).__name__}")
    else:
        pools, skipped = _legacy(doc, reset)
    return UserReply(reply.tier, reply.tier_name, sku, tuple(sorted(pools, key=_order)), skipped)
