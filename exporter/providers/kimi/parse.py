"""Kimi Code's `GET /coding/v1/usages`, pure.

    {"user": {"membership": {"level": "LEVEL_ADVANCED"}},
     "usage": {"limit": "100", "used": "1", "remaining": "99",
               "resetTime": "2026-09-21T03:17:42Z"},
     "limits": [{"window": {"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"},
                 "detail": {"limit": "100", "remaining": "99", "resetTime": "..."}}]}

`usage` is the weekly quota (pool `kimi`, window `weekly`); each `limits[]` entry a
rolling window, named `5h` for 300 minutes and by its raw length otherwise (`60m`,
`1d`). Numbers come as strings or numbers. Their unit has changed (request counts
in January 2026, a plain `100` since), so only the fraction left is exported:
`remaining / limit`, else `(limit - used) / limit`; neither known is unknown, never
0. One malformed `limits[]` entry is skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.providers.parsing import ParseError, mapping, number, opt_str, parse_time, slug
from exporter.snapshot import PoolQuota

POOL = "kimi"
POOL_NAME = "Kimi Code"
WEEKLY = "weekly"
# timeUnit -> (seconds, suffix of a window named by its raw length)
UNITS = {"TIME_UNIT_SECOND": (1, "s"), "TIME_UNIT_MINUTE": (60, "m"),
         "TIME_UNIT_HOUR": (3600, "h"), "TIME_UNIT_DAY": (86400, "d"),
         "TIME_UNIT_WEEK": (604800, "w")}
FIVE_HOURS = 5 * 3600
# membership.level -> Kimi's name for the plan; the tier is the level itself.
PLAN_NAMES = {"free": "Free", "basic": "Adagio", "standard": "Moderato",
              "intermediate": "Allegretto", "advanced": "Allegro", "premium": "Vivace"}
_RESET_KEYS = ("resetTime", "resetAt", "reset_at", "reset_time")


class UpstreamMessage(Exception):
    """A 200 reply that carries an error instead of data: the upstream's words."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind  # its type word ("invalid_authentication_error"), "" if none


@dataclass(frozen=True)
class Usages:
    pools: tuple[PoolQuota, ...]
    tier: str  # "advanced", ... (membership level without LEVEL_), "" when absent
    tier_name: str
    skipped: int = 0


def window_name(window: Any, where: str) -> str:
    """`5h` for 300 minutes (or any 5 hours); else the raw length: `60m`, `1d`.

    >>> window_name({"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"}, "w")
    '5h'
    >>> window_name({"duration": "60", "timeUnit": "TIME_UNIT_MINUTE"}, "w")
    '60m'
    >>> window_name({"duration": 2, "timeUnit": "TIME_UNIT_FORTNIGHT"}, "w")
    '2-time-unit-fortnight'
    """
    win = mapping(window, where)
    duration = number(win.get("duration"), f"{where}.duration")
    unit = opt_str(win.get("timeUnit"), f"{where}.timeUnit") or ""
    if duration is None or duration <= 0:
        raise ParseError(f"{where}.duration: expected a positive length")
    raw = f"{duration:g}"
    if unit not in UNITS:
        return slug(f"{raw} {unit or 'unit'}")
    seconds, suffix = UNITS[unit]
    if duration * seconds == FIVE_HOURS:
        return "5h"
    return f"{raw}{suffix}"


def fraction(detail: dict[str, Any], where: str) -> float | None:
    """What is left, 0..1: remaining/limit, else (limit-used)/limit; None when the
    reply does not say (no limit, a zero limit, or neither count).

    >>> fraction({"limit": "200", "used": "139", "remaining": "61"}, "d")
    0.305
    >>> fraction({"limit": "100", "used": "66"}, "d"), fraction({"remaining": "5"}, "d")
    (0.34, None)
    """
    limit = number(detail.get("limit"), f"{where}.limit")
    remaining = number(detail.get("remaining"), f"{where}.remaining")
    used = number(detail.get("used"), f"{where}.used")
    for name, value in (("limit", limit), ("remaining", remaining), ("used", used)):
        if value is not None and value < 0:
            raise ParseError(f"{where}.{name}: {value:g} is negative")
    if limit is None or limit == 0:
        return None
    if remaining is None and used is not None:
        remaining = limit - used
    if remaining is None:
        return None
    return min(1.0, max(0.0, remaining / limit))


def reset(detail: dict[str, Any], where: str) -> float | None:
    for key in _RESET_KEYS:
        if detail.get(key) not in (None, ""):
            return parse_time(detail[key], f"{where}.{key}")
    return None


def pool(detail: Any, window: str, where: str) -> PoolQuota:
    body = mapping(detail, where)
    left = fraction(body, where)
    return PoolQuota(pool=POOL, pool_name=POOL_NAME, window=window, remaining_fraction=left,
                     reset_time=reset(body, where), omitted=left is None)


def check_error(body: dict[str, Any]) -> None:
    """Raise UpstreamMessage when a 200 reply is an error envelope."""
    err = body.get("error")
    if err in (None, "", {}) or "usage" in body:
        return
    if isinstance(err, dict):
        message = err.get("message") if isinstance(err.get("message"), str) else ""
        kind = err.get("type") if isinstance(err.get("type"), str) else ""
    else:
        message, kind = str(err), ""
    raise UpstreamMessage((message or kind or "an error without a message")[:300], kind or "")


def parse_usages(body: Any) -> Usages:
    """The reply as pools; ParseError naming the field when it is not a usages reply."""
    doc = mapping(body, "reply")
    check_error(doc)
    if "usage" not in doc and "limits" not in doc:
        raise ParseError("usage: missing (and no limits[])")
    pools: list[PoolQuota] = []
    if doc.get("usage") is not None:
        pools.append(pool(doc["usage"], WEEKLY, "usage"))
    limits = doc.get("limits")
    if limits is not None and not isinstance(limits, list):
        raise ParseError(f"limits: expected a list, got {type(limits).__name__}")
    skipped = 0
    seen = {p.window for p in pools}
    for i, entry in enumerate(limits or []):
        where = f"limits[{i}]"
        try:
            item = mapping(entry, where)
            window = window_name(item.get("window"), f"{where}.window")
            found = pool(item.get("detail"), window, f"{where}.detail")
        except ParseError:
            skipped += 1
            continue
        if window in seen:  # a second window of one length: the first one stands
            skipped += 1
            continue
        seen.add(window)
        pools.append(found)
    tier = _tier(doc)
    return Usages(tuple(pools), tier, PLAN_NAMES.get(tier, ""), skipped)


def _tier(doc: dict[str, Any]) -> str:
    user = doc.get("user")
    member = user.get("membership") if isinstance(user, dict) else None
    level = member.get("level") if isinstance(member, dict) else None
    if not isinstance(level, str) or not level.strip():
        return ""
    return slug(level.strip().removeprefix("LEVEL_")).replace("-", "_")
