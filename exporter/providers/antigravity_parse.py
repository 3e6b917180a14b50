"""Pure parsers for Antigravity's private Cloud Code API bodies.

Every field is optional and every shape may change (see the upstream notes in the
README). The rule: parse what is there, never invent a number, and raise
`ParseError` naming the field when a value cannot be what it claims to be.

>>> body = {"models": {"m": {"displayName": "M",
...     "quotaInfo": {"remainingFraction": 0.5, "resetTime": "2026-11-28T21:00:00Z"}}}}
>>> parse_models(body)[0].remaining_fraction, parse_models(body)[0].reset_time
(0.5, 1795899600.0)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from exporter.snapshot import ModelQuota, PoolQuota
from exporter.timefmt import parse_duration, parse_rfc3339

# Small rounding noise above 1.0 is clamped; anything further out is a changed API.
_FRACTION_SLACK = 1e-6
# Words that carry no meaning in a pool's display name ("Claude and GPT models").
_POOL_STOPWORDS = {"and", "models", "model", "the", "&"}


class ParseError(ValueError):
    """An upstream body that does not have the shape we rely on; names the field."""


@dataclass(frozen=True)
class ProjectInfo:
    project: str | None  # None: the account was never onboarded
    tier: str
    tier_name: str
    ineligible_reason: str = ""  # upstream's explanation when there is no project


@dataclass(frozen=True)
class UpstreamErrorInfo:
    status: str  # google.rpc status, e.g. "RESOURCE_EXHAUSTED"; "" when absent
    message: str
    reasons: tuple[str, ...]  # ErrorInfo reasons, e.g. ("RATE_LIMIT_EXCEEDED",)
    retry_delay: float | None  # seconds, from RetryInfo.retryDelay or quotaResetDelay


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _opt_str(value: Any, where: str) -> str | None:
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
    text = _opt_str(value, where)
    if text is None or not text.strip():
        return None
    try:
        return parse_rfc3339(text)
    except ValueError:
        raise ParseError(f"{where}: {text[:40]!r} is not an RFC 3339 time") from None


def _tier(obj: Any, where: str) -> tuple[str, str] | None:
    if obj is None:
        return None
    tier = _mapping(obj, where)
    tier_id = _opt_str(tier.get("id"), f"{where}.id")
    if not tier_id:
        return None
    return tier_id, _opt_str(tier.get("name"), f"{where}.name") or ""


def parse_load_code_assist(body: Any) -> ProjectInfo:
    """loadCodeAssist -> project and tier. Tier rule: paidTier.id, else currentTier.id."""
    doc = _mapping(body, "loadCodeAssist")
    raw_project = doc.get("cloudaicompanionProject")
    project: str | None
    if isinstance(raw_project, dict):
        project = _opt_str(raw_project.get("id"), "cloudaicompanionProject.id")
    else:
        project = _opt_str(raw_project, "cloudaicompanionProject")
    tier = _tier(doc.get("paidTier"), "paidTier") or _tier(doc.get("currentTier"), "currentTier")
    tier_id, tier_name = tier or ("unknown", "")
    reasons = []
    ineligible = doc.get("ineligibleTiers")
    if isinstance(ineligible, list):
        for item in ineligible:
            if isinstance(item, dict) and isinstance(item.get("reasonMessage"), str):
                reasons.append(item["reasonMessage"])
    return ProjectInfo(
        project=project or None,
        tier=tier_id,
        tier_name=tier_name,
        ineligible_reason=" ".join(reasons),
    )


def model_provider_slug(raw: str | None) -> str:
    """`MODEL_PROVIDER_ANTHROPIC` -> `anthropic`."""
    if not raw:
        return ""
    return raw.removeprefix("MODEL_PROVIDER_").lower()


def parse_models(body: Any) -> tuple[ModelQuota, ...]:
    """fetchAvailableModels -> per-model quotas.

    Entries without `quotaInfo` are internal (`chat_20706`) and skipped. An entry
    with `quotaInfo` but no `remainingFraction` keeps `None`: free tiers get no
    fraction for some models even when unused, so reading it as 0 would lie.
    """
    doc = _mapping(body, "fetchAvailableModels")
    models = doc.get("models")
    if models is None:
        return ()
    models = _mapping(models, "models")
    out = []
    for model_id, entry in sorted(models.items()):
        where = f"models[{model_id!r}]"
        entry = _mapping(entry, where)
        quota = entry.get("quotaInfo")
        if quota is None:
            continue
        quota = _mapping(quota, f"{where}.quotaInfo")
        display = _opt_str(entry.get("displayName"), f"{where}.displayName") or model_id
        provider = _opt_str(entry.get("modelProvider"), f"{where}.modelProvider")
        out.append(
            ModelQuota(
                model=model_id,
                display_name=display,
                model_provider=model_provider_slug(provider),
                remaining_fraction=parse_fraction(
                    quota.get("remainingFraction"), f"{where}.quotaInfo.remainingFraction"
                ),
                reset_time=parse_time(quota.get("resetTime"), f"{where}.quotaInfo.resetTime"),
            )
        )
    return tuple(out)


def pool_slug(display_name: str) -> str:
    """A stable label value from a group's display name.

    >>> pool_slug("Gemini Models"), pool_slug("Claude and GPT models")
    ('gemini', 'claude-gpt')
    """
    words = re.findall(r"[a-z0-9]+", display_name.lower())
    kept = [w for w in words if w not in _POOL_STOPWORDS]
    return "-".join(kept or words)


def _window_slug(bucket: dict[str, Any], where: str) -> str:
    window = _opt_str(bucket.get("window"), f"{where}.window")
    if not window:
        # Fall back to the bucket id's suffix: "gemini-5h" -> "5h".
        bucket_id = _opt_str(bucket.get("bucketId"), f"{where}.bucketId") or ""
        window = bucket_id.rsplit("-", 1)[-1] if "-" in bucket_id else ""
    slug = "-".join(re.findall(r"[a-z0-9]+", window.lower()))
    if not slug:
        raise ParseError(f"{where}: bucket has neither window nor bucketId")
    return slug


def parse_summary(body: Any) -> tuple[PoolQuota, ...]:
    """retrieveUserQuotaSummary -> pool windows. Disabled buckets are not quotas."""
    doc = _mapping(body, "retrieveUserQuotaSummary")
    groups = doc.get("groups")
    if groups is None:
        return ()
    if not isinstance(groups, list):
        raise ParseError(f"groups: expected a list, got {type(groups).__name__}")
    out: dict[tuple[str, str], PoolQuota] = {}
    for gi, group in enumerate(groups):
        gwhere = f"groups[{gi}]"
        group = _mapping(group, gwhere)
        name = _opt_str(group.get("displayName"), f"{gwhere}.displayName") or ""
        buckets = group.get("buckets") or []
        if not isinstance(buckets, list):
            raise ParseError(f"{gwhere}.buckets: expected a list, got {type(buckets).__name__}")
        for bi, bucket in enumerate(buckets):
            where = f"{gwhere}.buckets[{bi}]"
            bucket = _mapping(bucket, where)
            if bucket.get("disabled") is True:
                continue
            bucket_id = _opt_str(bucket.get("bucketId"), f"{where}.bucketId") or ""
            slug = pool_slug(name) or pool_slug(bucket_id.rsplit("-", 1)[0])
            if not slug:
                raise ParseError(f"{where}: group has no displayName and bucket no bucketId")
            window = _window_slug(bucket, where)
            # Two buckets with one (pool, window) would be duplicate series; first wins.
            out.setdefault(
                (slug, window),
                PoolQuota(
                    pool=slug,
                    pool_name=name or slug,
                    window=window,
                    remaining_fraction=parse_fraction(
                        bucket.get("remainingFraction"), f"{where}.remainingFraction"
                    ),
                    reset_time=parse_time(bucket.get("resetTime"), f"{where}.resetTime"),
                    bucket_id=bucket_id,
                ),
            )
    return tuple(out.values())


def parse_error(body: Any) -> UpstreamErrorInfo:
    """A Google-style error body; tolerant: any shape gives an UpstreamErrorInfo."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return UpstreamErrorInfo(status="", message="", reasons=(), retry_delay=None)
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
    return UpstreamErrorInfo(
        status=status, message=message[:300], reasons=tuple(reasons), retry_delay=delay
    )
