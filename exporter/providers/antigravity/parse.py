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

import re
from typing import Any

from exporter.providers.parsing import ParseError, mapping, opt_str, parse_fraction, parse_time
from exporter.snapshot import ModelQuota, PoolQuota

# Words that carry no meaning in a pool's display name ("Claude and GPT models").
_POOL_STOPWORDS = {"and", "models", "model", "the", "&"}


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
    doc = mapping(body, "fetchAvailableModels")
    models = doc.get("models")
    if models is None:
        return ()
    models = mapping(models, "models")
    out = []
    for model_id, entry in sorted(models.items()):
        where = f"models[{model_id!r}]"
        entry = mapping(entry, where)
        quota = entry.get("quotaInfo")
        if quota is None:
            continue
        quota = mapping(quota, f"{where}.quotaInfo")
        display = opt_str(entry.get("displayName"), f"{where}.displayName") or model_id
        provider = opt_str(entry.get("modelProvider"), f"{where}.modelProvider")
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
    window = opt_str(bucket.get("window"), f"{where}.window")
    if not window:
        # Fall back to the bucket id's suffix: "gemini-5h" -> "5h".
        bucket_id = opt_str(bucket.get("bucketId"), f"{where}.bucketId") or ""
        window = bucket_id.rsplit("-", 1)[-1] if "-" in bucket_id else ""
    slug = "-".join(re.findall(r"[a-z0-9]+", window.lower()))
    if not slug:
        raise ParseError(f"{where}: bucket has neither window nor bucketId")
    return slug


def parse_summary(body: Any) -> tuple[PoolQuota, ...]:
    """retrieveUserQuotaSummary -> pool windows. Disabled buckets are not quotas."""
    doc = mapping(body, "retrieveUserQuotaSummary")
    groups = doc.get("groups")
    if groups is None:
        return ()
    if not isinstance(groups, list):
        raise ParseError(f"groups: expected a list, got {type(groups).__name__}")
    out: dict[tuple[str, str], PoolQuota] = {}
    for gi, group in enumerate(groups):
        gwhere = f"groups[{gi}]"
        group = mapping(group, gwhere)
        name = opt_str(group.get("displayName"), f"{gwhere}.displayName") or ""
        buckets = group.get("buckets") or []
        if not isinstance(buckets, list):
            raise ParseError(f"{gwhere}.buckets: expected a list, got {type(buckets).__name__}")
        for bi, bucket in enumerate(buckets):
            where = f"{gwhere}.buckets[{bi}]"
            bucket = mapping(bucket, where)
            if bucket.get("disabled") is True:
                continue
            bucket_id = opt_str(bucket.get("bucketId"), f"{where}.bucketId") or ""
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
