"""Pure parser for Codex's usage reply (`GET /wham/usage`).

Reply: `plan_type`; `rate_limit` (pool `codex`), `code_review_rate_limit` (pool
`code-review`) and `additional_rate_limits[] {limit_name, metered_feature,
rate_limit}` (pool: the slug of `limit_name`), each null or `{allowed,
limit_reached, primary_window, secondary_window, tertiary_window,
individual_limit}`; a window is null or `{used_percent, limit_window_seconds,
reset_after_seconds, reset_at}`; `credits {has_credits, unlimited, balance}`;
`spend_control {reached, individual_limit}`; `rate_limit_reached_type` (a string
or `{type}`); `rate_limit_reset_credits {available_count}`.

Rules:
- A window is named by its length alone (`limit_window_seconds`: 18000 `5h`,
  86400 `daily`, 604800 `weekly`, 28 to 31 days `monthly`, else `<n>s`), never
  by its place: plans list the weekly window first, alone, or as a 30-day
  tertiary window. A window without a length is window `unknown`; when a limit
  has several, the one with the least left stands for them (never hiding a 0).
- A window without `used_percent` in a limit that says `limit_reached: true` is
  at 0; one in a limit that is not reached exports nothing. A reached limit none
  of whose windows is at 0 also gets a window `unknown` at 0: the zero is real,
  its window is not known. A zero that comes from a reached flag is evidence,
  not an omission (`omitted` stays False).
- `rate_limit: null` (usage-based business plans) is a reply without windows,
  not an error: credits, spend caps and the plan still count.
- A spend cap (`spend_control.individual_limit`, `rate_limit.individual_limit`)
  is pool `spend-limit`, window `monthly` unless it names its length: the
  fraction is what is left of the cap, clamped to 0..1 (107% used is 0 left);
  its money goes to `remaining_credits` / `limit_credits` in the reply's unit
  (the workspace's currency, as the strings say: "50.00"). A cap flagged as
  reached (`spend_control.reached`, or its own `reached` / `limit_reached`) is
  at 0 whatever its numbers say, and `spend_control.reached` with no cap given
  is still a `spend-limit` window at 0.
- Resets: `reset_at` / `resets_at` (epoch or ISO), else `reset_after_seconds`
  from `now`.
- Credits: a balance (a number or a numeric string) becomes credit `codex`;
  unlimited credits export no number. Credits the reply calls depleted
  (`rate_limit_reached_type` `..._credits_depleted`) are `codex` 0 whatever the
  balance says. `rate_limit_reset_credits.available_count` is credit
  `rate_limit_reset`. `approx_*_messages` are not read.

>>> reply = parse_usage({"plan_type": "plus", "rate_limit": {"limit_reached": False,
...     "primary_window": {"used_percent": 27, "limit_window_seconds": 604800,
...                        "reset_at": 1796000000}}}, now=0.0)
>>> [(p.pool, p.window, p.remaining_fraction, p.reset_time) for p in reply.pools]
[('codex', 'weekly', 0.73, 1796000000.0)]
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

DAY = 86400
WINDOW_NAMES = {18000: "5h", DAY: "daily", 7 * DAY: "weekly"}
MONTH_DAYS = (28, 31)  # a window this many days long, bounds included, is `monthly`
ROLES = ("primary", "secondary", "tertiary")
UNKNOWN_WINDOW = "unknown"
CREDIT_TYPE, RESET_CREDIT_TYPE = "codex", "rate_limit_reset"
MAIN_POOL, REVIEW_POOL, SPEND_POOL = "codex", "code-review", "spend-limit"
POOL_NAMES = {MAIN_POOL: "Codex", REVIEW_POOL: "Code review", SPEND_POOL: "Spend limit"}
SPEND_WINDOW = "monthly"  # a spend cap that names no period runs with the billing month
DEPLETED_SUFFIX = "_credits_depleted"


@dataclass(frozen=True)
class UsageReply:
    plan: str | None  # plan_type: "plus", "pro", "team", ...
    pools: tuple[PoolQuota, ...]
    credits: tuple[Credit, ...]
    skipped: int  # malformed entries left out


def window_name(seconds: float) -> str:
    """A window's label from its length.

    >>> window_name(18000), window_name(604800), window_name(2592000), window_name(1800)
    ('5h', 'weekly', 'monthly', '1800s')
    """
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    if MONTH_DAYS[0] * DAY <= whole <= MONTH_DAYS[1] * DAY:
        return "monthly"
    return WINDOW_NAMES.get(whole, f"{whole}s")


def _tighter(a: PoolQuota, b: PoolQuota) -> PoolQuota:
    """Of two readings of one window, the one with less left (on a tie, the later
    reset: the window is not free again before it)."""
    def key(p: PoolQuota) -> tuple[float, float]:
        return (p.remaining_fraction if p.remaining_fraction is not None else 1.0,
                -(p.reset_time or 0.0))
    return min(a, b, key=key)


@dataclass
class _Pools:
    """The windows found so far, and how many entries were skipped."""

    pools: dict[tuple[str, str], PoolQuota]
    skipped: int = 0

    def skip(self, where: str, exc: ParseError) -> None:
        self.skipped += 1
        log.debug("skipped a malformed usage entry", extra={"kv": {"entry": where,
                                                                   "why": str(exc)}})

    def add(self, pool: PoolQuota, where: str) -> None:
        key = pool.pool, pool.window
        if key not in self.pools:
            self.pools[key] = pool
        elif pool.window == UNKNOWN_WINDOW or pool.pool == SPEND_POOL:
            # Windows of unknown length, or one cap given twice: one stands for all.
            self.pools[key] = _tighter(self.pools[key], pool)
        else:
            self.skip(where, ParseError(f"{where}: a second {pool.pool} {pool.window} window"))


def _reset(entry: dict[str, Any], where: str, now: float) -> float | None:
    for key in ("reset_at", "resets_at"):
        at = parse_time(entry.get(key), f"{where}.{key}")
        if at is not None:
            return at
    after = number(entry.get("reset_after_seconds"), f"{where}.reset_after_seconds")
    return None if after is None else now + after


def _length(entry: dict[str, Any], where: str) -> str | None:
    """The window named from `limit_window_seconds`; None when the entry gives none."""
    seconds = number(entry.get("limit_window_seconds"), f"{where}.limit_window_seconds")
    if seconds is not None and seconds <= 0:
        raise ParseError(f"{where}.limit_window_seconds: {seconds:g} is not a length")
    return None if seconds is None else window_name(seconds)


def _window(raw: Any, where: str, reached: bool, pool: str, name: str,
            now: float) -> PoolQuota | None:
    window = mapping(raw, where)
    label = _length(window, where) or UNKNOWN_WINDOW
    fraction = fraction_left(window.get("used_percent"), f"{where}.used_percent")
    if fraction is None and not reached:
        return None  # no number, and nothing says the limit is reached
    return PoolQuota(
        pool=pool, pool_name=name, window=label,
        remaining_fraction=0.0 if fraction is None else fraction,
        reset_time=_reset(window, where, now),
    )


def _clamped(fraction: float) -> float:
    return min(1.0, max(0.0, fraction))


def _cap_fraction(cap: dict[str, Any], where: str, limit: float | None,
                  remaining: float | None) -> float | None:
    """What is left of a spend cap, 0..1: from its percentages, else from its money."""
    fraction = fraction_left(cap.get("used_percent"), f"{where}.used_percent")
    if fraction is not None:
        return fraction
    left_percent = number(cap.get("remaining_percent"), f"{where}.remaining_percent")
    if left_percent is not None:
        return _clamped(left_percent / 100.0)
    if remaining is None or limit is None or limit <= 0:
        return None
    return _clamped(remaining / limit)


def _cap_window(cap: dict[str, Any], where: str) -> str:
    """The cap's window: from its length or its named period, else the billing month."""
    period = slug(opt_str(cap.get("period"), f"{where}.period") or "")
    return _length(cap, where) or period or SPEND_WINDOW


def spend_cap(raw: Any, where: str, reached: bool, now: float) -> PoolQuota | None:
    """A spend cap (`individual_limit`) as pool `spend-limit`; None when it gives no
    number and is not reached. Money is in the reply's own unit.

    >>> cap = spend_cap({"limit": "50.00", "used": "53.50", "used_percent": 107},
    ...                 "individual_limit", reached=False, now=0.0)
    >>> cap.window, cap.remaining_fraction, cap.remaining_credits, cap.limit_credits
    ('monthly', 0.0, 0.0, 50.0)
    """
    cap = mapping(raw, where)
    reached = reached or cap.get("reached") is True or cap.get("limit_reached") is True
    limit = number(cap.get("limit"), f"{where}.limit")
    used = number(cap.get("used"), f"{where}.used")
    remaining = number(cap.get("remaining"), f"{where}.remaining")
    if remaining is None and limit is not None and used is not None:
        remaining = limit - used
    fraction = 0.0 if reached else _cap_fraction(cap, where, limit, remaining)
    if fraction is None:
        return None
    if reached and (remaining is not None or limit is not None):
        remaining = 0.0  # reached is 0 left, whatever the money says
    return PoolQuota(
        pool=SPEND_POOL, pool_name=POOL_NAMES[SPEND_POOL], window=_cap_window(cap, where),
        remaining_fraction=fraction, reset_time=_reset(cap, where, now),
        remaining_credits=None if remaining is None else max(0.0, remaining),
        limit_credits=limit,
    )


def _rate_limit(raw: Any, where: str, pool: str, name: str, now: float, out: _Pools) -> None:
    limit = mapping(raw, where)
    reached = limit.get("limit_reached") is True
    at_zero = False
    for role in ROLES:
        key = f"{role}_window"
        if limit.get(key) is None:
            continue
        try:
            window = _window(limit[key], f"{where}.{key}", reached, pool, name, now)
        except ParseError as exc:
            out.skip(f"{where}.{key}", exc)
            continue
        if window is not None:
            at_zero = at_zero or window.remaining_fraction == 0.0
            out.add(window, f"{where}.{key}")
    if limit.get("individual_limit") is not None:
        try:
            cap = spend_cap(limit["individual_limit"], f"{where}.individual_limit", False, now)
        except ParseError as exc:
            out.skip(f"{where}.individual_limit", exc)
        else:
            if cap is not None:
                at_zero = at_zero or cap.remaining_fraction == 0.0
                out.add(cap, f"{where}.individual_limit")
    if reached and not at_zero:
        out.add(PoolQuota(pool=pool, pool_name=name, window=UNKNOWN_WINDOW,
                          remaining_fraction=0.0, reset_time=None), where)


def _spend_control(raw: Any, now: float, out: _Pools) -> None:
    control = mapping(raw, "spend_control")
    reached = control.get("reached") is True
    cap_raw = control.get("individual_limit")
    cap = None if cap_raw is None else spend_cap(
        cap_raw, "spend_control.individual_limit", reached, now)
    if cap is None and reached:
        cap = PoolQuota(pool=SPEND_POOL, pool_name=POOL_NAMES[SPEND_POOL], window=SPEND_WINDOW,
                        remaining_fraction=0.0, reset_time=None)
    if cap is not None:
        out.add(cap, "spend_control")


def _additional(raw: Any, where: str) -> tuple[str, str, Any]:
    """(pool, display name, rate_limit) of an additional_rate_limits entry."""
    entry = mapping(raw, where)
    name = (opt_str(entry.get("limit_name"), f"{where}.limit_name")
            or opt_str(entry.get("metered_feature"), f"{where}.metered_feature") or "")
    pool = slug(name)
    if not pool:
        raise ParseError(f"{where}: no limit_name or metered_feature to name the pool")
    return pool, name, entry.get("rate_limit")


def reached_type(raw: Any) -> str | None:
    """`rate_limit_reached_type`, given as a string or as `{type, details}`.

    >>> reached_type({"type": "workspace_member_credits_depleted"}), reached_type(None)
    ('workspace_member_credits_depleted', None)
    """
    if isinstance(raw, dict):
        return opt_str(raw.get("type"), "rate_limit_reached_type.type")
    return opt_str(raw, "rate_limit_reached_type")


def credits(raw: Any, depleted: bool = False) -> Credit | None:
    """The credits balance; None when unlimited or not given, 0 when the reply says
    the credits are depleted.

    >>> credits({"has_credits": True, "balance": " 42 "}), credits({"unlimited": True})
    (Credit(credit_type='codex', remaining=42.0), None)
    >>> credits({"has_credits": False}, depleted=True)
    Credit(credit_type='codex', remaining=0.0)
    """
    if depleted:
        return Credit(CREDIT_TYPE, 0.0)
    entry = mapping(raw, "credits")
    if entry.get("unlimited") is True:
        return None
    balance = number(entry.get("balance"), "credits.balance")
    return None if balance is None else Credit(CREDIT_TYPE, balance)


def reset_credits(raw: Any) -> Credit | None:
    """`rate_limit_reset_credits.available_count`: banked resets of the rate limit."""
    entry = mapping(raw, "rate_limit_reset_credits")
    count = number(entry.get("available_count"), "rate_limit_reset_credits.available_count")
    if count is not None and count < 0:
        raise ParseError(f"rate_limit_reset_credits.available_count: {count:g} is not a count")
    return None if count is None else Credit(RESET_CREDIT_TYPE, count)


def _limits(doc: dict[str, Any], out: _Pools) -> list[tuple[str, str, str, Any]]:
    """(where, pool, display name, rate limit) of every rate limit in the reply."""
    limits: list[tuple[str, str, str, Any]] = [
        ("rate_limit", MAIN_POOL, POOL_NAMES[MAIN_POOL], doc.get("rate_limit")),
        ("code_review_rate_limit", REVIEW_POOL, POOL_NAMES[REVIEW_POOL],
         doc.get("code_review_rate_limit")),
    ]
    extra = doc.get("additional_rate_limits")
    if extra is not None and not isinstance(extra, list):
        out.skip("additional_rate_limits", ParseError("additional_rate_limits: expected a list"))
        extra = None
    for i, raw in enumerate(extra or ()):
        where = f"additional_rate_limits[{i}]"
        try:
            pool, name, limit = _additional(raw, where)
        except ParseError as exc:
            out.skip(where, exc)
            continue
        limits.append((f"{where}.rate_limit", pool, name, limit))
    return limits


def _credits(doc: dict[str, Any], out: _Pools) -> tuple[Credit, ...]:
    depleted = False
    try:
        kind = reached_type(doc.get("rate_limit_reached_type"))
        depleted = kind is not None and kind.endswith(DEPLETED_SUFFIX)
    except ParseError as exc:
        out.skip("rate_limit_reached_type", exc)
    found: list[Credit] = []
    try:
        credit = (None if doc.get("credits") is None and not depleted
                  else credits(doc.get("credits"), depleted))
        found += [] if credit is None else [credit]
    except ParseError as exc:
        out.skip("credits", exc)
    try:
        raw = doc.get("rate_limit_reset_credits")
        banked = None if raw is None else reset_credits(raw)
        found += [] if banked is None else [banked]
    except ParseError as exc:
        out.skip("rate_limit_reset_credits", exc)
    return tuple(found)


def parse_usage(body: Any, now: float) -> UsageReply:
    """The usage reply -> plan, pool windows and credits. `now` (Unix seconds) dates
    resets given as `reset_after_seconds`.

    Raises ParseError when the reply is not an object or has neither `plan_type`
    nor `rate_limit`: not this endpoint's reply at all.
    """
    doc = mapping(body, "usage")
    if "plan_type" not in doc and "rate_limit" not in doc:
        raise ParseError("usage: neither plan_type nor rate_limit in the reply")
    out = _Pools({})
    plan: str | None = None
    try:
        plan = opt_str(doc.get("plan_type"), "plan_type")
    except ParseError as exc:
        out.skip("plan_type", exc)
    for where, pool, name, limit in _limits(doc, out):
        if limit is None:
            continue  # rate_limit: null is a plan without windows, not an error
        try:
            _rate_limit(limit, where, pool, name, now, out)
        except ParseError as exc:
            out.skip(where, exc)
    if doc.get("spend_control") is not None:
        try:
            _spend_control(doc["spend_control"], now, out)
        except ParseError as exc:
            out.skip("spend_control", exc)
    found = _credits(doc, out)
    return UsageReply(plan, tuple(out.pools.values()), found, out.skipped)
