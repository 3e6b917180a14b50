"""Durations and timestamps: parsing `30s`-style durations, RFC 3339, countdowns."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Parse a Prometheus-style duration into seconds.

    >>> parse_duration("1m30s")
    90.0
    >>> parse_duration("250ms")
    0.25

    Raises ValueError naming the bad text.
    """
    s = text.strip()
    if not s:
        raise ValueError("empty duration")
    pos = 0
    total = 0.0
    for match in _DURATION_RE.finditer(s):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"{text!r} is not a duration (use e.g. 500ms, 30s, 5m, 1h30m)")
    return total


def parse_rfc3339(text: str) -> float:
    """RFC 3339 (with or without fractional seconds, `Z` or offset) -> Unix seconds."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    # Python < 3.11 rejected >6 fractional digits; keep at most microseconds.
    s = re.sub(r"(\.\d{6})\d+", r"\1", s)
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def rfc3339(ts: float) -> str:
    """Unix seconds -> `2026-11-28T21:38:57Z` (UTC, whole seconds)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def countdown(seconds: float) -> str:
    """Human countdown: `in 3h 12m`, `in 45s`, `in 2d 4h`, `now` when due or past."""
    if seconds <= 0:
        return "now"
    s = int(seconds)
    days, rem = divmod(s, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"in {days}d {hours}h"
    if hours:
        return f"in {hours}h {minutes}m"
    if minutes:
        return f"in {minutes}m {secs}s" if minutes < 10 else f"in {minutes}m"
    return f"in {secs}s"


def human_duration(seconds: float) -> str:
    """Seconds -> `3.2s`, `5m`, `1h30m` for messages."""
    if seconds < 60:
        return f"{seconds:g}s"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    out = (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{sec}s" if sec else "")
    return out or "0s"
