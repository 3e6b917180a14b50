"""MiniMax `coding_plan/remains` (and the China platform's `token_plan/remains`) -> pools.

A reply, in its current shape (percent remaining; counts 0 as placeholders)::

    {"base_resp": {"status_code": 0, "status_msg": "success"},
     "model_remains": [{"model_name": "general",
                        "current_interval_status": 2, "current_interval_remaining_percent": 0,
                        "start_time": 1782043200000, "end_time": 1782057600000,
                        "current_weekly_status": 1, "current_weekly_remaining_percent": 61,
                        "weekly_end_time": 1782057600000, ...}]}

Older accounts send counts instead (`current_interval_total_count`,
`current_interval_usage_count`, the same for `weekly`); a reply may be wrapped in
`data`. Each entry (`model_name`, or `model` in older replies) is a pool named by
its slug, with windows `5h` (the interval, named from its length) and `weekly`.

What is certain and what is not (docs/provider-guides.md says why):
- a `*_remaining_percent` is percent *remaining*: the fraction is that / 100;
- `*_status` 2 is exhausted (0 left, whatever else the entry says); 3 is not
  subscribed (the window is dropped); 1 is active;
- a count reply's `usage_count` is what is *left* on the international
  `coding_plan/remains`, so there it gives a fraction and remaining requests;
  on the China platform's `token_plan/remains` peers disagree (left or used), so
  only the window's size (`limit`) is exported there, never a fraction;
- a window with neither a percent nor a count is left out (never a zero).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from exporter.providers.parsing import (
    ParseError,
    mapping,
    number,
    opt_str,
    parse_time,
    slug,
)
from exporter.snapshot import PoolQuota

log = logging.getLogger(__name__)

ACTIVE, EXHAUSTED, NOT_SUBSCRIBED = 1, 2, 3
HOUR_MS = 3_600_000.0
DEFAULT_INTERVAL = "5h"  # the vendor documents a rolling 5-hour window


@dataclass(frozen=True)
class Window:
    """One window of an entry: the fields' prefix in the reply and their names."""

    name: str  # "interval" | "weekly": how the reply's fields call it
    prefix: str  # current_interval_ | current_weekly_
    start: str
    end: str
    remains: str


INTERVAL = Window("interval", "current_interval_", "start_time", "end_time", "remains_time")
WEEKLY = Window("weekly", "current_weekly_", "weekly_start_time", "weekly_end_time",
                "weekly_remains_time")


@dataclass(frozen=True)
class RemainsReply:
    tier: str  # a slug of `current_subscribe_title`, "unknown" when absent
    tier_name: str
    pools: tuple[PoolQuota, ...]
    skipped: int


class AccountError(Exception):
    """`base_resp.status_code` other than 0 in an HTTP 200 reply."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def interval_name(start_ms: float | None, end_ms: float | None) -> str:
    """The interval window's name from its length: whole hours as `<n>h`, else
    `<n>s`; the documented `5h` when the reply gives no start or end.

    >>> interval_name(0, 5 * 3_600_000), interval_name(0, 4 * 3_600_000), interval_name(None, 1)
    ('5h', '4h', '5h')
    >>> interval_name(0, 5_400_000)
    '5400s'
    """
    if start_ms is None or end_ms is None or end_ms <= start_ms:
        return DEFAULT_INTERVAL
    hours = (end_ms - start_ms) / HOUR_MS
    if abs(hours - round(hours)) < 1e-6:
        return f"{round(hours)}h"
    return f"{round((end_ms - start_ms) / 1000.0)}s"


def _status(entry: dict[str, Any], window: Window) -> int | None:
    value = number(entry.get(window.prefix + "status"), window.prefix + "status")
    return None if value is None else int(value)


def _reset(entry: dict[str, Any], window: Window, now: float) -> float | None:
    """The window's end (epoch ms), else now + its `remains` (ms); None when neither."""
    end = parse_time(entry.get(window.end), window.end)
    if end is not None:
        return end
    remains = number(entry.get(window.remains), window.remains)
    if remains is None or remains <= 0:
        return None
    return now + remains / 1000.0


def _window(entry: dict[str, Any], window: Window, pool: str, pool_name: str,
            now: float, counts_left: bool) -> PoolQuota | None:
    """One window of an entry; None when the reply says nothing about it."""
    status = _status(entry, window)
    if status == NOT_SUBSCRIBED:
        return None
    where = window.prefix
    percent = number(entry.get(where + "remaining_percent"), where + "remaining_percent")
    total = number(entry.get(where + "total_count"), where + "total_count")
    count = number(entry.get(where + "usage_count"), where + "usage_count")
    if percent is not None and percent < 0:
        raise ParseError(f"{where}remaining_percent: {percent!r} is not a percentage")
    if (total is not None and total < 0) or (count is not None and count < 0):
        raise ParseError(f"{where}total_count/usage_count: negative")
    name = "weekly" if window is WEEKLY else interval_name(
        number(entry.get(window.start), window.start), number(entry.get(window.end), window.end))
    reset = _reset(entry, window, now)
    fraction: float | None = None
    left: float | None = None
    limit: float | None = None
    if percent is not None:
        fraction = min(1.0, percent / 100.0)
    elif total is not None and total > 0:
        limit = total
        if counts_left and count is not None:
            left = min(count, total)  # clamped: a count above the window's size is noise
            fraction = left / total
    elif status != EXHAUSTED:
        return None  # no percent, no count: nothing to say (never a zero)
    if status == EXHAUSTED:
        fraction, left = 0.0, (0.0 if limit is not None else None)
    return PoolQuota(pool, pool_name, name, fraction, reset, bucket_id=f"{pool}-{window.name}",
                     remaining_requests=left, limit_requests=limit)


def _entry(raw: Any, index: int, now: float, counts_left: bool) -> list[PoolQuota]:
    entry = mapping(raw, f"model_remains[{index}]")
    name = opt_str(entry.get("model_name"), "model_name") or opt_str(entry.get("model"), "model")
    if not name or not slug(name):
        raise ParseError(f"model_remains[{index}]: no model_name")
    pool = slug(name)
    windows = (_window(entry, w, pool, name, now, counts_left) for w in (INTERVAL, WEEKLY))
    return [w for w in windows if w is not None]


def _check(doc: dict[str, Any]) -> None:
    base = doc.get("base_resp")
    if base is None:
        return
    base = mapping(base, "base_resp")
    code = number(base.get("status_code"), "base_resp.status_code")
    if code is not None and code != 0:
        message = base.get("status_msg")
        raise AccountError(int(code), message.strip() if isinstance(message, str) else "")


def parse_remains(body: Any, now: float, counts_left: bool = True) -> RemainsReply:
    """The reply -> pools. `counts_left`: a count reply's `usage_count` is what is
    left (the international `coding_plan/remains`); False on the China platform,
    where its meaning is disputed. Raises AccountError for a `base_resp` error and
    ParseError for a body without `model_remains`."""
    doc = mapping(body, "remains")
    _check(doc)
    if "model_remains" not in doc and isinstance(doc.get("data"), dict):
        doc = doc["data"]
        _check(doc)
    entries = doc.get("model_remains")
    if not isinstance(entries, list):
        raise ParseError("model_remains: expected a list, got "
                         f"{type(entries).__name__ if entries is not None else 'nothing'}")
    pools: list[PoolQuota] = []
    skipped = 0
    for index, raw in enumerate(entries):
        try:
            found = _entry(raw, index, now, counts_left)
            if {(p.pool, p.window) for p in found} & {(p.pool, p.window) for p in pools}:
                # Two names with one slug would make one series twice: the first stays.
                raise ParseError(f"model_remains[{index}]: a second entry for its pool")
        except ParseError as exc:
            skipped += 1
            log.debug("skipped a malformed MiniMax entry", extra={"kv": {"why": str(exc)}})
            continue
        pools += found
    # The plan's name: `current_subscribe_title` ("Token Plan Plus"), else `plan_name`.
    title = next((v.strip() for v in (doc.get("current_subscribe_title"), doc.get("plan_name"))
                  if isinstance(v, str) and v.strip()), "")
    return RemainsReply(slug(title) if title else "unknown", title, tuple(pools), skipped)
