"""Pure parser for Codex's usage reply (`GET /wham/usage`).

Reply: `plan_type`; `rate_limit` (pool `codex`), `code_review_rate_limit` (pool
`code-review`) and `additional_rate_limits[] {limit_name, metered_feature,
rate_limit}` (pool: the slug of `limit_name`), each `{allowed, limit_reached,
primary_window, secondary_window}`; a window is null or `{used_percent,
limit_window_seconds, reset_after_seconds, reset_at}`; `credits {has_credits,
unlimited, balance}`.

Rules:
- A window is named by its length (`limit_window_seconds`: 18000 `5h`, 86400
  `daily`, 604800 `weekly`, else `<n>s`), never by its place: plans list the weekly
  window first or alone. A window without a length is named by its place
  (`primary`, `secondary`): that is all the reply says of it.
- A window without `used_percent` in a limit that says `limit_reached: true` is
  at 0 (marked omitted); one in a limit that is not reached exports nothing. A
  reached limit with no window at all exports one window `unknown` at 0: the zero
  is real, its window is not known.
- Resets: `reset_at` (Unix seconds), else `reset_after_seconds` from `now`.
- Credits: a balance (a number or a numeric string, padding allowed) becomes credit
  `codex`; unlimited credits export no number (there is none to give).

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

from exporter.providers.parsing import ParseError, fraction_left, mapping, number, opt_str, slug
from exporter.snapshot import Credit, PoolQuota

log = logging.getLogger(__name__)

WINDOW_NAMES = {18000: "5h", 86400: "daily", 604800: "weekly"}
ROLES = ("primary", "secondary")
CREDIT_TYPE = "codex"
MAIN_POOL, REVIEW_POOL = "codex", "code-review"
POOL_NAMES = {MAIN_POOL: "Codex", REVIEW_POOL: "Code review"}


@dataclass(frozen=True)
class UsageReply:
    plan: str | None  # plan_type: "plus", "pro", "team", ...
    pools: tuple[PoolQuota, ...]
    credits: tuple[Credit, ...]
    skipped: int  # malformed entries left out


def window_name(seconds: float) -> str:
    """A window's label from its length.

    >>> window_name(18000), window_name(604800), window_name(1800)
    ('5h', 'weekly', '1800s')
    """
    whole = int(seconds)
    return WINDOW_NAMES.get(whole, f"{whole}s") if whole == seconds else f"{seconds:g}s"


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
        if (pool.pool, pool.window) in self.pools:
            self.skip(where, ParseError(f"{where}: a second {pool.pool} {pool.window} window"))
        else:
            self.pools[pool.pool, pool.window] = pool


def _reset(window: dict[str, Any], where: str, now: float) -> float | None:
    at = number(window.get("reset_at"), f"{where}.reset_at")
    if at is not None:
        return at
    after = number(window.get("reset_after_seconds"), f"{where}.reset_after_seconds")
    return None if after is None else now + after


def _window(raw: Any, where: str, role: str, reached: bool, pool: str, name: str,
            now: float) -> PoolQuota | None:
    window = mapping(raw, where)
    seconds = number(window.get("limit_window_seconds"), f"{where}.limit_window_seconds")
    if seconds is not None and seconds <= 0:
        raise ParseError(f"{where}.limit_window_seconds: {seconds:g} is not a length")
    fraction = fraction_left(window.get("used_percent"), f"{where}.used_percent")
    omitted = fraction is None and reached
    if fraction is None and not reached:
        return None  # no number, and nothing says the limit is reached
    return PoolQuota(
        pool=pool, pool_name=name, window=role if seconds is None else window_name(seconds),
        remaining_fraction=0.0 if fraction is None else fraction,
        reset_time=_reset(window, where, now), omitted=omitted,
    )


def _rate_limit(raw: Any, where: str, pool: str, name: str, now: float, out: _Pools) -> None:
    limit = mapping(raw, where)
    reached = limit.get("limit_reached") is True
    found = False
    for role in ROLES:
        key = f"{role}_window"
        if limit.get(key) is None:
            continue
        try:
            window = _window(limit[key], f"{where}.{key}", role, reached, pool, name, now)
        except ParseError as exc:
            out.skip(f"{where}.{key}", exc)
            continue
        if window is not None:
            found = True
            out.add(window, f"{where}.{key}")
    if reached and not found:
        out.add(PoolQuota(pool=pool, pool_name=name, window="unknown", remaining_fraction=0.0,
                          reset_time=None, omitted=True), where)


def _additional(raw: Any, where: str) -> tuple[str, str, Any]:
    """(pool, display name, rate_limit) of an additional_rate_limits entry."""
    entry = mapping(raw, where)
    name = (opt_str(entry.get("limit_name"), f"{where}.limit_name")
            or opt_str(entry.get("metered_feature"), f"{where}.metered_feature") or "")
    pool = slug(name)
    if not pool:
        raise ParseError(f"{where}: no limit_name or metered_feature to name the pool")
    return pool, name, entry.get("rate_limit")


def credits(raw: Any) -> Credit | None:
    """The credits balance; None when unlimited or not given.

    >>> credits({"has_credits": True, "balance": " 42 "}), credits({"unlimited": True})
    (Credit(credit_type='codex', remaining=42.0), None)
    """
    entry = mapping(raw, "credits")
    if entry.get("unlimited") is True:
        return None
    balance = number(entry.get("balance"), "credits.balance")
    return None if balance is None else Credit(CREDIT_TYPE, balance)


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
    for where, pool, name, limit in limits:
        if limit is None:
            continue
        try:
            _rate_limit(limit, where, pool, name, now, out)
        except ParseError as exc:
            out.skip(where, exc)
    found: tuple[Credit, ...] = ()
    try:
        credit = None if doc.get("credits") is None else credits(doc["credits"])
        found = () if credit is None else (credit,)
    except ParseError as exc:
        out.skip("credits", exc)
    return UsageReply(plan, tuple(out.pools.values()), found, out.skipped)
