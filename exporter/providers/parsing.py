"""Shared helpers for the pure parsers of upstream JSON.

Every field is optional and every shape may change: parse what is there, never
invent a number, and raise `ParseError` naming the field when a value cannot be
what it claims to be.
"""

from __future__ import annotations

import math
from typing import Any

from exporter.timefmt import parse_rfc3339

# Small rounding noise above 1.0 is clamped; anything further out is a changed API.
_FRACTION_SLACK = 1e-6


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
    """A fraction 0..1; numeric strings accepted; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseError(f"{where}: expected a number, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ParseError(f"{where}: expected a number, got {value[:40]!r}") from None
    if not isinstance(value, int | float):
        raise ParseError(f"{where}: expected a number, got {type(value).__name__}")
    f = float(value)
    if math.isnan(f) or f < 0 or f > 1 + _FRACTION_SLACK:
        raise ParseError(f"{where}: {f!r} is outside 0..1")
    return min(f, 1.0)


def parse_time(value: Any, where: str) -> float | None:
    text = opt_str(value, where)
    if text is None or not text.strip():
        return None
    try:
        return parse_rfc3339(text)
    except ValueError:
        raise ParseError(f"{where}: {text[:40]!r} is not an RFC 3339 time") from None


