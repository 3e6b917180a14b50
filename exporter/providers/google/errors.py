"""Google API error bodies (`google.rpc.Status` as JSON), shared by the Google providers.

    {"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED",
               "details": [{"@type": ".../google.rpc.RetryInfo", "retryDelay": "3.2s"}]}}
"""

from __future__ import annotations

from typing import Any

from exporter.timefmt import parse_duration
from exporter.upstream.client import MAX_MESSAGE_CHARS, ErrorInfo


def parse_error(body: Any) -> ErrorInfo:
    """A Google-style error body; tolerant: any shape gives an UpstreamErrorInfo."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return ErrorInfo()
    raw_message, raw_status = err.get("message"), err.get("status")
    message = raw_message if isinstance(raw_message, str) else ""
    status = raw_status if isinstance(raw_status, str) else ""
    reasons: list[str] = []
    delay: float | None = None
    details = err.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        if isinstance(detail.get("reason"), str):
            reasons.append(detail["reason"])
        candidates = [detail.get("retryDelay")]
        meta = detail.get("metadata")
        if isinstance(meta, dict):
            candidates.append(meta.get("quotaResetDelay"))
        for raw in candidates:
            if isinstance(raw, str):
                try:
                    seconds = parse_duration(raw)
                except ValueError:
                    continue
                delay = seconds if delay is None else max(delay, seconds)
    return ErrorInfo(
        message=message[:MAX_MESSAGE_CHARS], status=status, reasons=tuple(reasons),
        retry_delay=delay,
    )
