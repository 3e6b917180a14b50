"""Pure parser for Claude Code's usage reply (`GET /api/oauth/usage`).

Two shapes describe the plan's limits, often side by side in one reply:
- the named windows `five_hour`, `seven_day`, `seven_day_opus`, `seven_day_sonnet`,
  each null (the plan has no such limit) or `{utilization: percent used, resets_at}`;
- the newer `limits[]`: `{kind: session | weekly_all | weekly_scoped, percent,
  resets_at, scope: {model: {display_name}}}`.

Each limit is exported once. A named window wins when the reply has it (it has
been there longest and its percent can be fractional); a `limits[]` entry is used
only for a (pool, window) no named window gave: a scoped limit with no named key
(such as "Fable"), or a reply without the named windows. `session` and
`weekly_all` are pool `all`; a scoped limit's pool is the slug of its model's
display name ("Opus" -> `opus`), and every scoped pool is `within` `all`: a request
meets both. A limit without a percent does not apply and exports nothing;
`resets_at: null` gives no reset time (`five_hour: {utilization: 0.0, resets_at:
null}` is a 5-hour window with no session running: all of it left, no reset), and
a reset given as an epoch number is read as well as ISO text.

Everything else in the reply is ignored without being counted as malformed: keys
beside the windows (`limit_dollars`, `locked_reason`, ...), `is_active` and
`severity` in `limits[]`, unknown `kind`s, `spend`, booleans such as
`member_dashboard_available`, and the top-level keys whose meaning is not public
(`seven_day_oauth_apps`, `seven_day_cowork`, `seven_day_omelette`, `tangelo`,
`nimbus_quill`, `cinder_cove`, `amber_ladder`, `iguana_necktie`, ...). Of these
only `iguana_necktie` has been read by another tool, as the scoped "Fable" week;
others have seen it at 0.0 for good and Claude Code is reported not to read it, so
it is no evidence: where the Fable limit applies, `limits[]` says so.

A Claude Enterprise (spend-limit) account may answer with `extra_usage` alone: a
reply with no window at all is still a reply, and gives the extra-usage credit
only (see `extra_usage`).

>>> reply = parse_usage({"five_hour": {"utilization": 37.5, "resets_at": None},
...                      "seven_day_opus": {"utilization": 100.0, "resets_at": None}})
>>> [(p.pool, p.window, p.remaining_fraction, p.within) for p in reply.pools]
[('all', '5h', 0.625, ()), ('opus', 'weekly', 0.0, ('all',))]
>>> parse_usage({"extra_usage": {"is_enabled": True, "monthly_limit": 50000,
...                              "used_credits": 4631.5, "currency": "USD"}}).credits
(Credit(credit_type='extra_usage', remaining=453.685),)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from exporter.providers.parsing import (
    ParseError,
    fraction_left,
    mapping,
    number,
    opt_str,
    parse_time,
    slug,
)
from exporter.snapshot import Credit, PoolQuota

log = logging.getLogger(__name__)

ALL = "all"
# named window -> (pool, window)
NAMED_WINDOWS = {
    "five_hour": (ALL, "5h"),
    "seven_day": (ALL, "weekly"),
    "seven_day_opus": ("opus", "weekly"),
    "seven_day_sonnet": ("sonnet", "weekly"),
}
# limits[].kind -> window
LIMIT_WINDOWS = {"session": "5h", "weekly_all": "weekly", "weekly_scoped": "weekly"}
POOL_NAMES = {ALL: "All models", "opus": "Opus", "sonnet": "Sonnet"}
# Every Claude model's name has it: it tells no two scopes apart.
_SCOPE_STOPWORDS = frozenset({"claude"})
EXTRA_USAGE_CREDIT = "extra_usage"
DEFAULT_DECIMAL_PLACES = 2  # upstream counts cents
MAX_DECIMAL_PLACES = 4
# Any of these says the body is this endpoint's reply, even with no window in it.
USAGE_KEYS = (*NAMED_WINDOWS, "limits", "extra_usage", "spend")


@dataclass(frozen=True)
class UsageReply:
    pools: tuple[PoolQuota, ...]
    credits: tuple[Credit, ...]
    skipped: int  # malformed entries left out


def _pool(pool: str, name: str, window: str, fraction: float, reset: float | None) -> PoolQuota:
    return PoolQuota(
        pool=pool, pool_name=name, window=window, remaining_fraction=fraction,
        reset_time=reset, within=() if pool == ALL else (ALL,),
    )


def _named(key: str, entry: Any) -> PoolQuota | None:
    entry = mapping(entry, key)
    fraction = fraction_left(entry.get("utilization"), f"{key}.utilization")
    if fraction is None:
        return None
    pool, window = NAMED_WINDOWS[key]
    reset = parse_time(entry.get("resets_at"), f"{key}.resets_at")
    return _pool(pool, POOL_NAMES[pool], window, fraction, reset)


def _scope_name(scope: Any, where: str) -> str:
    """The display name of a scoped limit's model (else of its surface)."""
    scope = mapping(scope, f"{where}.scope")
    for part in ("model", "surface"):
        inner = scope.get(part)
        if isinstance(inner, dict):
            name = opt_str(inner.get("display_name"), f"{where}.scope.{part}.display_name")
            if name and slug(name):
                return name
    raise ParseError(f"{where}.scope: no model or surface display_name to name the pool")


def _limit(entry: Any, where: str) -> PoolQuota | None:
    entry = mapping(entry, where)
    kind = entry.get("kind")
    window = LIMIT_WINDOWS.get(kind) if isinstance(kind, str) else None
    if window is None:
        return None  # a kind this code does not know (`inactive_pool`, ...)
    fraction = fraction_left(entry.get("percent"), f"{where}.percent")
    if fraction is None:
        return None
    pool, name = ALL, POOL_NAMES[ALL]
    if kind == "weekly_scoped":
        name = _scope_name(entry.get("scope"), where)
        pool = slug(name, _SCOPE_STOPWORDS)
        name = POOL_NAMES.get(pool, name)
    reset = parse_time(entry.get("resets_at"), f"{where}.resets_at")
    return _pool(pool, name, window, fraction, reset)


def extra_usage(entry: Any) -> Credit | None:
    """What is left of the month's extra usage: pay-as-you-go past the plan's limits,
    or a Claude Enterprise seat's monthly spend limit. None when it is off or has no
    cap (nothing to subtract from).

    The unit is the currency's main unit (dollars for `currency: "USD"`): upstream
    counts minor units (cents), `decimal_places` of them to the unit, 2 when the reply
    does not say. `used_credits` may be fractional; without it, `utilization` (percent
    of the cap used) gives the same. `spend_limit_reached: true` is 0 left whatever
    the numbers say.

    >>> extra_usage({"is_enabled": True, "monthly_limit": 5000, "used_credits": 3462.0})
    Credit(credit_type='extra_usage', remaining=15.38)
    >>> extra_usage({"is_enabled": True, "monthly_limit": 30000, "utilization": 25.0})
    Credit(credit_type='extra_usage', remaining=225.0)
    """
    entry = mapping(entry, "extra_usage")
    if entry.get("is_enabled") is not True:
        return None
    cap = number(entry.get("monthly_limit"), "extra_usage.monthly_limit")
    used = number(entry.get("used_credits"), "extra_usage.used_credits")
    percent = number(entry.get("utilization"), "extra_usage.utilization")
    places = _decimal_places(entry.get("decimal_places"))
    if cap is None:
        return None
    for field, value in (("monthly_limit", cap), ("used_credits", used)):
        if value is not None and value < 0:
            raise ParseError(f"extra_usage.{field}: {value!r} is below 0")
    if entry.get("spend_limit_reached") is True:
        return Credit(EXTRA_USAGE_CREDIT, 0.0)
    if used is None and percent is not None:
        used = cap * percent / 100.0
    if used is None:
        return None
    return Credit(EXTRA_USAGE_CREDIT, max(0.0, cap - used) / 10**places)


def _decimal_places(value: Any) -> int:
    """Minor units to the main unit, as a power of ten: 2 (cents) when absent."""
    places = number(value, "extra_usage.decimal_places")
    if places is None:
        return DEFAULT_DECIMAL_PLACES
    if places != int(places) or not 0 <= places <= MAX_DECIMAL_PLACES:
        raise ParseError(f"extra_usage.decimal_places: {places!r} is not a number of digits")
    return int(places)


def _skip(what: str, exc: ParseError) -> int:
    log.debug("skipped a malformed usage entry", extra={"kv": {"entry": what, "why": str(exc)}})
    return 1


def parse_usage(body: Any) -> UsageReply:
    """The usage reply -> pool windows and extra-usage credit.

    Raises ParseError when the reply is not an object or has none of its keys (the
    named windows, `limits`, `extra_usage`, `spend`): not this endpoint's reply at
    all. A reply with only `extra_usage` (a Claude Enterprise seat) is a reply.
    """
    doc = mapping(body, "usage")
    if not any(key in doc for key in USAGE_KEYS):
        raise ParseError(f"usage: none of {', '.join(USAGE_KEYS)} in the reply")
    skipped = 0
    pools: dict[tuple[str, str], PoolQuota] = {}
    for key in NAMED_WINDOWS:
        try:
            pool = None if doc.get(key) is None else _named(key, doc[key])
        except ParseError as exc:
            skipped += _skip(key, exc)
            continue
        if pool is not None:
            pools[pool.pool, pool.window] = pool
    named = set(pools)
    raw_limits = doc.get("limits")
    if raw_limits is not None and not isinstance(raw_limits, list):
        skipped += _skip("limits", ParseError("limits: expected a list"))
        raw_limits = None
    for i, entry in enumerate(raw_limits or ()):
        try:
            pool = _limit(entry, f"limits[{i}]")
        except ParseError as exc:
            skipped += _skip(f"limits[{i}]", exc)
            continue
        if pool is None or (pool.pool, pool.window) in named:
            continue  # the named window already says it
        if (pool.pool, pool.window) in pools:
            skipped += _skip(f"limits[{i}]", ParseError(f"a second {pool.pool} {pool.window}"))
            continue
        pools[pool.pool, pool.window] = pool
    credits: tuple[Credit, ...] = ()
    try:
        credit = None if doc.get("extra_usage") is None else extra_usage(doc["extra_usage"])
        credits = () if credit is None else (credit,)
    except ParseError as exc:
        skipped += _skip("extra_usage", exc)
    return UsageReply(tuple(pools.values()), credits, skipped)
