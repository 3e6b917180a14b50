"""Pure parser of z.ai's `GET /api/monitor/usage/quota/limit` reply.

The envelope carries its own status: HTTP 200 with `success: false` is an account
error (`code` 401: the key; `code` 500 "当前用户不存在coding plan": no Coding Plan)::

    {"code": 200, "msg": "Operation successful", "success": true,
     "data": {"level": "lite", "limits": [
        {"type": "CREDIT_LIMIT", "unit": 3, "number": 5, "usage": 2000,
         "currentValue": 402, "remaining": 1597, "percentage": 20,
         "nextResetTime": 1788351145586},
        {"type": "TIME_LIMIT", "unit": 5, "number": 1, "usage": 1000,
         "currentValue": 19, "remaining": 981, "percentage": 1}]}}

`percentage` is the integer percent used. `CREDIT_LIMIT` (and the older name
`TOKENS_LIMIT`) are the GLM windows, pool `glm`; `TIME_LIMIT` counts the month's
MCP tool calls (web search, reader, zread), pool `mcp`. A window is named from
`(unit, number)`: unit 3 is hours (`5h`), unit 6 weeks (`weekly`), and unit 5 on a
`TIME_LIMIT` a month; any other code is named by its raw value (`unit7x1`), as
peers disagree on what it means.

>>> reply = parse_quota({"success": True, "data": {"level": "pro", "limits": [
...     {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": 17}]}})
>>> [(p.pool, p.window, p.remaining_fraction) for p in reply.pools], reply.tier
([('glm', '5h', 0.83)], 'pro')
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
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
from exporter.snapshot import PoolQuota

log = logging.getLogger(__name__)

GLM_TYPES = ("CREDIT_LIMIT", "TOKENS_LIMIT")
CREDIT_TYPE = "CREDIT_LIMIT"
TIME_TYPE = "TIME_LIMIT"
GLM_POOL = "glm"
MCP_POOL = "mcp"
HOURS, MONTHS, WEEKS = 3, 5, 6
LEVEL_NAMES = {"lite": "GLM Coding Lite", "pro": "GLM Coding Pro", "max": "GLM Coding Max"}
_ORDER = {"5h": 0, "weekly": 1, "monthly": 2}
POOL_NAMES = {GLM_POOL: "GLM models", MCP_POOL: "MCP tool calls"}


@dataclass(frozen=True)
class Refusal:
    """`success: false` inside HTTP 200: the upstream's code and its own words."""

    code: int | None
    message: str

    @property
    def no_coding_plan(self) -> bool:
        return "coding plan" in self.message.lower()


@dataclass(frozen=True)
class QuotaReply:
    tier: str  # `data.level` ("lite", "pro"), "unknown" when absent
    tier_name: str
    pools: tuple[PoolQuota, ...]
    skipped: int  # malformed limit entries left out


def window_name(kind: str, unit: float, count: float | None) -> str:
    """The window of a limit entry from its `unit` code and `number`.

    >>> [window_name("CREDIT_LIMIT", u, n) for u, n in ((3., 5.), (6., 1.), (6., 2.), (7., 1.))]
    ['5h', 'weekly', '2w', 'unit7x1']
    >>> window_name("TIME_LIMIT", 5., 1.), window_name("TOKENS_LIMIT", 5., 1.)
    ('monthly', 'unit5x1')
    >>> window_name("TIME_LIMIT", 5., None)
    'unit5'
    """
    if count is None:  # a reply without `number` says no length: only the raw unit
        return f"unit{_raw(unit)}"
    if unit.is_integer() and count.is_integer() and count > 0:
        u, n = int(unit), int(count)
        if u == HOURS:
            return f"{n}h"
        if u == WEEKS:
            return "weekly" if n == 1 else f"{n}w"
        # Unit 5 is a month for the tool-call limit (its reset lands a month out);
        # on a GLM window peers read it as minutes or months: not decoded there.
        if u == MONTHS and kind == TIME_TYPE and n == 1:
            return "monthly"
    return f"unit{_raw(unit)}x{_raw(count)}"


def _raw(value: float) -> str:
    return str(int(value)) if value.is_integer() else slug(str(value))


def pool_of(kind: str) -> str:
    """`glm` for the GLM windows, `mcp` for tool calls; a type not seen yet keeps its
    own name (`FOO_LIMIT` -> `foo`) rather than being dropped: a limit nobody shows
    is how peers reported "0 % used" on exhausted accounts."""
    if kind in GLM_TYPES:
        return GLM_POOL
    if kind == TIME_TYPE:
        return MCP_POOL
    return slug(kind.removesuffix("_LIMIT")) or "unknown"


def _counts(raw: dict[str, Any], where: str) -> tuple[float | None, float | None]:
    """(left, limit) from `usage` (the window's capacity), `currentValue` (used) and
    `remaining`; the lower of `remaining` and `usage - currentValue`, as the two can
    disagree by one. (None, None) without a capacity."""
    limit = number(raw.get("usage"), f"{where}.usage")
    used = number(raw.get("currentValue"), f"{where}.currentValue")
    remaining = number(raw.get("remaining"), f"{where}.remaining")
    if limit is None or limit <= 0 or (used is None and remaining is None):
        return None, None
    candidates = [v for v in (remaining, None if used is None else limit - used) if v is not None]
    return max(0.0, min(candidates)), limit


def parse_limit(raw: Any, where: str) -> PoolQuota:
    """One `limits[]` entry as a pool window; ParseError when it is malformed."""
    entry = mapping(raw, where)
    kind = opt_str(entry.get("type"), f"{where}.type")
    if not kind:
        raise ParseError(f"{where}.type: missing")
    unit = number(entry.get("unit"), f"{where}.unit")
    count = number(entry.get("number"), f"{where}.number")
    if unit is None:
        raise ParseError(f"{where}.unit: missing")
    used_fraction = fraction_left(entry.get("percentage"), f"{where}.percentage")
    left, limit = _counts(entry, where)
    counted = None if left is None or limit is None else min(1.0, left / limit)
    known = [f for f in (used_fraction, counted) if f is not None]
    if not known:
        raise ParseError(f"{where}: neither percentage nor usage counts")
    fraction = min(known)  # the percent is rounded; the counts are exact
    pool = pool_of(kind)
    window = window_name(kind, unit, count)
    quota = PoolQuota(
        pool=pool, pool_name=POOL_NAMES.get(pool, kind), window=window, remaining_fraction=fraction,
        reset_time=parse_time(entry.get("nextResetTime"), f"{where}.nextResetTime"),
        bucket_id=f"{kind}/{_raw(unit)}/{'' if count is None else _raw(count)}")
    if left is None:
        return quota
    # Credits are z.ai's unit; a TOKENS_LIMIT's counts are tokens (no series for
    # those) and a TIME_LIMIT's are tool calls, counted as requests.
    if kind == CREDIT_TYPE:
        return replace(quota, remaining_credits=left, limit_credits=limit)
    if kind == TIME_TYPE:
        return replace(quota, remaining_requests=left, limit_requests=limit)
    return quota


def _lower(a: PoolQuota, b: PoolQuota) -> PoolQuota:
    """Two entries for one window (never seen): the one with less left, so a limit
    that is reached is never hidden behind one that is not."""
    return b if (b.remaining_fraction or 0.0) < (a.remaining_fraction or 0.0) else a


def refusal(doc: dict[str, Any]) -> Refusal | None:
    """The envelope's error, if it says the call failed."""
    success = doc.get("success")
    code = doc.get("code")
    code_num = code if isinstance(code, int) and not isinstance(code, bool) else None
    failed = success is False or (success is None and code_num not in (None, 0, 200))
    if not failed:
        return None
    msg = doc.get("msg") if isinstance(doc.get("msg"), str) else doc.get("message")
    return Refusal(code_num, (msg if isinstance(msg, str) else "").strip()[:200])


def parse_quota(body: Any) -> QuotaReply | Refusal:
    """quota/limit -> the plan level and its pool windows, or the envelope's refusal."""
    doc = mapping(body, "quota/limit")
    refused = refusal(doc)
    if refused is not None:
        return refused
    data = mapping(doc.get("data"), "data")
    level = opt_str(data.get("level"), "data.level")
    tier = level.strip().lower() if level and level.strip() else "unknown"
    limits = data.get("limits")
    if limits is None:
        limits = []  # team scope without its selectors answers `data: {}`
    if not isinstance(limits, list):
        raise ParseError(f"data.limits: expected a list, got {type(limits).__name__}")
    found: dict[tuple[str, str], PoolQuota] = {}
    skipped = 0
    for i, raw in enumerate(limits):
        try:
            quota = parse_limit(raw, f"data.limits[{i}]")
        except ParseError as exc:
            skipped += 1
            log.debug("skipped a malformed z.ai limit", extra={"kv": {"why": str(exc)}})
            continue
        key = (quota.pool, quota.window)
        found[key] = _lower(found[key], quota) if key in found else quota
    pools = sorted(found.values(), key=lambda p: (p.pool != GLM_POOL, p.pool,
                                                   _ORDER.get(p.window, 9), p.window))
    return QuotaReply(tier, LEVEL_NAMES.get(tier, ""), tuple(pools), skipped)
