"""Logging in logfmt or JSON, Prometheus style: `ts=... level=... msg=... key=value`.

Structured fields travel in `extra={"kv": {...}}`. Nothing here redacts: secrets
are kept out of log calls at the source (config.Secret prints as `<secret>`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

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
        out["exc"] = logging.Formatter().formatException(record.exc_info)
    return out


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
    # urllib3 at debug logs request lines; they carry no tokens but are noise.
    logging.getLogger("urllib3").setLevel(max(root.level, logging.INFO))
