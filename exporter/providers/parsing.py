"""Shared helpers for the pure parsers of upstream JSON.

Every field is optional and every shape may change: parse what is there, never
invent a number, and raise `ParseError` naming the field when a value cannot be
what it claims to be.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from exporter.snapshot import FetchError, Reason
from exporter.timefmt import parse_rfc3339

T = TypeVar("T")


class ParseError(ValueError):
    """An upstream body that does not have the shape we rely on; names the field."""


def mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def opt_str(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def parse_fraction(value: Any, where: str) -> float | None:
    """A fraction clamped to 0..1; numeric strings accepted; None when absent.

    Above 1 is clamped (rounding noise, or an upstream that over-reports); below 0
    or not a number is a ParseError: the entry is wrong, not "a bit off".

    >>> parse_fraction("0.25", "f"), parse_fraction(1.2, "f"), parse_fraction(None, "f")
    (0.25, 1.0, None)
    """
    f = number(value, where)
    if f is None:
        return None
    if f < 0:
        raise ParseError(f"{where}: {f!r} is not a fraction (0..1)")
    return min(f, 1.0)


def entry_fraction(value: Any, where: str) -> tuple[float | None, bool]:
    """(fraction, omitted) of a quota entry: None and True when it came without one.

    An absent fraction is not a zero: proto3 JSON leaves zeros out, but Google also
    leaves the field out for fresh accounts, free tiers and new models whose
    requests succeed. The caller keeps it unknown; exporter.quota resolves it from
    evidence.

    >>> entry_fraction(None, "f"), entry_fraction(0.5, "f"), entry_fraction(0, "f")
    ((None, True), (0.5, False), (0.0, False))
    """
    fraction = parse_fraction(value, where)
    return fraction, fraction is None


def number(value: Any, where: str) -> float | None:
    """A finite number; numeric strings (`"1000"`, `" 42 "`) accepted; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseError(f"{where}: expected a number, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ParseError(f"{where}: expected a number, got {value[:40]!r}") from None
    if not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise ParseError(f"{where}: expected a finite number, got {value!r}"[:120])
    return float(value)


def fraction_left(used_percent: Any, where: str) -> float | None:
    """1 - percent used / 100, clamped to 0..1 (over 100% is exhausted); None when
    upstream gave no percent.

    >>> [fraction_left(used, "u") for used in (37.5, "100", 120, None)]
    [0.625, 0.0, 0.0, None]
    """
    used = number(used_percent, where)
    if used is None:
        return None
    if used < 0:
        raise ParseError(f"{where}: {used!r} is not a percentage used")
    return min(1.0, max(0.0, 1.0 - used / 100.0))


# Epoch numbers above this are milliseconds (this many seconds is the year 5138).
_MS_EPOCH_ABOVE = 1e11


def parse_time(value: Any, where: str) -> float | None:
    """A reset time given as RFC 3339 / ISO 8601 text or as a Unix epoch number
    (seconds, or milliseconds when that large; numeric strings too). Upstreams use
    both, sometimes in one reply. None when absent, empty, or 0 (a zero epoch is
    how some replies say "no reset", never 1970).

    >>> [parse_time(v, "t") for v in ("2026-11-28T21:00:00Z", 1795899600, "1795899600000",
    ...                                "2026-11-28", 0, "", None)]
    [1795899600.0, 1795899600.0, 1795899600.0, 1795824000.0, None, None, None]
    """
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise ParseError(f"{where}: expected a time, got a boolean")
        return None
    if isinstance(value, int | float):
        return _epoch(float(value), where)
    text = opt_str(value, where)
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", stripped):
        return _epoch(float(stripped), where)
    try:
        return parse_rfc3339(stripped)
    except ValueError:
        raise ParseError(f"{where}: {text[:40]!r} is not an RFC 3339 time") from None


def _epoch(value: float, where: str) -> float | None:
    if not math.isfinite(value) or value < 0:
        raise ParseError(f"{where}: {value!r} is not a time")
    if value == 0:
        return None
    return value / 1000.0 if value > _MS_EPOCH_ABOVE else value


def parse_reply(reply: Any, call: str, parse: Callable[[Any], T]) -> T:
    """`parse(reply)`; raises a PARSE FetchError naming the call when the body has
    the wrong shape."""
    try:
        return parse(reply)
    except ParseError as exc:
        raise FetchError(Reason.PARSE, f"{call}: unexpected reply: {exc}") from None


def parser(call: str, parse: Callable[[Any], T]) -> Callable[[Any], T]:
    """`parse` as a `Call.parse`: a body of the wrong shape raises a PARSE FetchError
    naming the call. `parse` must depend on the body alone."""
    return partial(parse_reply, call=call, parse=parse)


def parsed(reply: Any, call: str, parse: Callable[[Any], T]) -> T | FetchError:
    """`parse_reply`, with the FetchError returned instead of raised; a reply that
    is itself a FetchError (as `UpstreamClient.call_many` returns them) is passed on."""
    if isinstance(reply, FetchError):
        return reply
    try:
        return parse_reply(reply, call, parse)
    except FetchError as exc:
        return exc


def words(text: str) -> list[str]:
    """The lower-case words of a display name: runs of letters and digits."""
    return re.findall(r"[a-z0-9]+", text.lower())


def slug(text: str, drop: frozenset[str] = frozenset()) -> str:
    """A label value from a display name; `drop` lists words that carry no meaning
    there (they are kept when nothing else is left).

    >>> slug("GPT-5.3-Codex-Spark"), slug("Claude Opus", frozenset({"claude"}))
    ('gpt-5-3-codex-spark', 'opus')
    """
    found = words(text)
    return "-".join([w for w in found if w not in drop] or found)
