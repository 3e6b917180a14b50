"""Logging in logfmt or JSON, Prometheus style: `ts=... level=... msg=... key=value`.

Structured fields travel in `extra={"kv": {...}}`. Secrets are kept out of log
calls at the source (config.Secret prints as `<secret>`; error text is redacted by
the fetch engine); a logged exception shows its stack and type but not its text.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

LEVELS = ("debug", "info", "warn", "error")


def _fields(record: logging.LogRecord) -> dict[str, str]:
    out = {
        "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "level": {"WARNING": "warn", "CRITICAL": "error"}.get(
            record.levelname, record.levelname.lower()
        ),
        "caller": record.name,
        "msg": record.getMessage(),
    }
    extra = getattr(record, "kv", None)
    if isinstance(extra, dict):
        out.update({str(k): str(v) for k, v in extra.items()})
    if record.exc_info and record.exc_info[0] is not None:
        out["exc"] = _traceback_text(record.exc_info)
    return out


def _traceback_text(exc_info: Any) -> str:
    """The stack and the exception's type, not its text: an exception's message can
    carry what a bug was holding (a token, a reply body), a stack cannot."""
    exc_type, _exc, tb = exc_info
    frames = "".join(traceback.format_tb(tb))
    return f"Traceback (most recent call last):\n{frames}{exc_type.__name__} (message withheld)"


def _logfmt_value(value: str) -> str:
    if value and not any(c in value for c in ' ="\\\n\t'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), ensure_ascii=False)


def setup(level: str = "info", fmt: str = "logfmt", stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel({"warn": logging.WARNING}.get(level, getattr(logging, level.upper())))
    # urllib3 (under requests) and aiohttp at debug log connection details; they carry
    # no tokens but are noise.
    logging.getLogger("urllib3").setLevel(max(root.level, logging.INFO))
    logging.getLogger("aiohttp").setLevel(max(root.level, logging.INFO))
