"""Pure parsers for Antigravity's private Cloud Code API bodies.

Every field is optional and every shape may change (see docs/providers.md). The
rules: never invent a number, never hide a zero, and never call unknown exhausted
(a quota entry without its fraction is kept as unknown, `omitted`: exporter.quota
resolves it from the pools and sibling models); one malformed entry is skipped
and counted, never the whole reply; a reply that is not the expected shape at
all raises `ParseError` naming the field.

>>> body = {"models": {"m": {"displayName": "M",
...     "quotaInfo": {"remainingFraction": 0.5, "resetTime": "2026-11-28T21:00:00Z"}}}}
>>> reply = parse_models(body)
>>> reply.models[0].remaining_fraction, reply.models[0].reset_time, reply.skipped
(0.5, 1795899600.0, 0)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from exporter.providers.parsing import (
    ParseError,
    entry_fraction,
    mapping,
    opt_str,
    parse_time,
    slug,
    words,
)
from exporter.snapshot import ModelQuota, PoolQuota

log = logging.getLogger(__name__)

# Words that carry no meaning in a pool's display name ("Claude and GPT models").
_POOL_STOPWORDS = frozenset({"and", "models", "model", "the", "&"})
# Bucket id prefixes seen upstream, for groups that come without a display name.
_BUCKET_PREFIX_POOLS = {"3p": "claude-gpt", "gemini": "gemini"}
# modelProvider -> a word that names the pool family in group names and descriptions.
_PROVIDER_FAMILY = {"google": ("gemini",), "anthropic": ("claude", "gpt", "3p"),
                    "openai": ("gpt", "claude", "3p")}
_MEMBERS_RE = re.compile(r"models within this group\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ModelsReply:
    models: tuple[ModelQuota, ...]
    skipped: int  # malformed entries left out


@dataclass(frozen=True)
class PoolGroup:
    """A summary group: its pool slug and the model families its description lists."""

    pool: str
    name: str
    members: tuple[tuple[str, ...], ...]  # word sets: ("gemini", "flash"), ("claude", "opus")


@dataclass(frozen=True)
class SummaryReply:
    pools: tuple[PoolQuota, ...]
    groups: tuple[PoolGroup, ...]
    skipped: int


def _words(text: str) -> tuple[str, ...]:
    return tuple(words(text))


def _unwrap(body: Any, where: str, *envelopes: str) -> dict[str, Any]:
    """The reply object, out of `{"response": {...}}`-style envelopes when present."""
    doc = mapping(body, where)
    for key in envelopes:
        inner = doc.get(key)
        if isinstance(inner, dict) and len(doc) == 1:
            return _unwrap(inner, where, *envelopes)
    return doc


def model_provider_slug(raw: str | None) -> str:
    """`MODEL_PROVIDER_ANTHROPIC` -> `anthropic`."""
    if not raw:
        return ""
    return raw.removeprefix("MODEL_PROVIDER_").lower()


def _renames(raw: Any) -> dict[str, str]:
    """`deprecatedModelIds`: old id -> new id. Forms seen: `{old: {"newModelId": new}}`,
    `{old: new}`, `{old: {}}` (no successor) and `[]`; anything else renames nothing."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, str] = {}
    for old, value in raw.items():
        new = value.get("newModelId") if isinstance(value, dict) else value
        if isinstance(old, str) and isinstance(new, str) and new and new != old:
            out[old] = new
    return out


def _model(model_id: str, entry: Any, where: str) -> ModelQuota | None:
    entry = mapping(entry, where)
    quota = entry.get("quotaInfo")
    if quota is None:
        return None  # internal entries (chat_20706, tab_flash_lite_preview): not quotas
    quota = mapping(quota, f"{where}.quotaInfo")
    fraction, omitted = entry_fraction(
        quota.get("remainingFraction"), f"{where}.quotaInfo.remainingFraction"
    )
    display = opt_str(entry.get("displayName"), f"{where}.displayName") or model_id
    provider = opt_str(entry.get("modelProvider"), f"{where}.modelProvider")
    return ModelQuota(
        model=model_id,
        display_name=display,
        model_provider=model_provider_slug(provider),
        remaining_fraction=fraction,
        reset_time=parse_time(quota.get("resetTime"), f"{where}.quotaInfo.resetTime"),
        omitted=omitted,
    )


def parse_models(body: Any) -> ModelsReply:
    """fetchAvailableModels -> per-model quotas.

    Entries without `quotaInfo` are internal and left out (not counted). A
    renamed model (`deprecatedModelIds`) is shown once, under its new id: the old
    entry is dropped when the new one is there, and renamed when it is not.
    """
    doc = _unwrap(body, "fetchAvailableModels", "response")
    raw_models = doc.get("models")
    if raw_models is None:
        return ModelsReply((), 0)
    raw_models = mapping(raw_models, "models")
    skipped = 0
    models: dict[str, ModelQuota] = {}
    for model_id, entry in sorted(raw_models.items()):
        where = f"models[{model_id!r}]"
        try:
            model = _model(model_id, entry, where)
        except ParseError as exc:
            skipped += 1
            log.debug("skipped a malformed model entry", extra={"kv": {"why": str(exc)}})
            continue
        if model is not None:
            models[model_id] = model
    for old, new in _renames(doc.get("deprecatedModelIds")).items():
        if old not in models:
            continue
        moved = models.pop(old)
        if new not in models:
            models[new] = replace(moved, model=new)
    return ModelsReply(tuple(sorted(models.values(), key=lambda m: m.model)), skipped)


def pool_slug(display_name: str) -> str:
    """A stable label value from a group's display name.

    >>> pool_slug("Gemini Models"), pool_slug("Claude and GPT models")
    ('gemini', 'claude-gpt')
    """
    return slug(display_name, _POOL_STOPWORDS)


def window_slug(text: str) -> str:
    """`5h`, `weekly`, `daily` from a window field, a bucket id or a display name.

    >>> window_slug("Five Hour Limit Remaining"), window_slug("3p-weekly"), window_slug("5h")
    ('5h', 'weekly', '5h')
    """
    found = _words(text)
    joined = " ".join(found)
    if "week" in joined:
        return "weekly"
    if "daily" in found or "day" in found:
        return "daily"
    if "five hour" in joined or "5 hour" in joined or "5h" in found:
        return "5h"
    for word in reversed(found):
        if re.fullmatch(r"\d+[hmd]", word):
            return word
    return ""


def _bucket_fraction(bucket: dict[str, Any], where: str) -> tuple[float | None, bool]:
    """The fraction of a bucket in any of its seen forms: `remainingFraction`,
    `remaining_fraction`, `remaining: {remainingFraction}` or `remaining: {case, value}`."""
    raw = bucket.get("remainingFraction", bucket.get("remaining_fraction"))
    remaining = bucket.get("remaining")
    if raw is None and isinstance(remaining, dict):
        if remaining.get("case") == "remainingFraction":
            raw = remaining.get("value")
        else:
            raw = remaining.get("remainingFraction")
    return entry_fraction(raw, f"{where}.remainingFraction")


def _members(description: str) -> tuple[tuple[str, ...], ...]:
    """"Models within this group: Gemini Flash, Gemini Pro" -> (("gemini", "flash"), ...)."""
    match = _MEMBERS_RE.search(description)
    if not match:
        return ()
    parts = re.split(r",|\band\b", match.group(1))
    return tuple(w for w in (_words(p) for p in parts) if w)


def _group_pool(group: dict[str, Any], where: str) -> tuple[str, str]:
    """(slug, display name) of a group from its display name; ("", "") without one."""
    name = opt_str(group.get("displayName", group.get("name")), f"{where}.displayName") or ""
    return pool_slug(name), name if pool_slug(name) else ""


def bucket_pool(bucket: Any) -> str:
    """The pool a bucket id names (`3p-weekly` -> `claude-gpt`); "" when it names none.

    Only for buckets of a group without a display name: each bucket is named from
    its own id, since one unnamed group can hold buckets of several pools.

    >>> bucket_pool({"bucketId": "3p-5h"}), bucket_pool({"bucketId": "gemini-weekly"})
    ('claude-gpt', 'gemini')
    """
    if not isinstance(bucket, dict):
        return ""
    bucket_id = bucket.get("bucketId", bucket.get("id"))
    if not isinstance(bucket_id, str) or "-" not in bucket_id:
        return ""
    prefix = bucket_id.rsplit("-", 1)[0]
    return _BUCKET_PREFIX_POOLS.get(prefix, pool_slug(prefix))


def _bucket(
    bucket: Any, where: str, pool: str, name: str, taken: set[tuple[str, str]]
) -> PoolQuota | None:
    bucket = mapping(bucket, where)
    if bucket.get("disabled") is True:
        return None
    bucket_id = opt_str(bucket.get("bucketId", bucket.get("id")), f"{where}.bucketId") or ""
    window_text = opt_str(bucket.get("window"), f"{where}.window") or ""
    label = opt_str(bucket.get("displayName", bucket.get("name")), f"{where}.displayName") or ""
    window = window_slug(window_text) or window_slug(bucket_id) or window_slug(label)
    if not window:
        raise ParseError(f"{where}: no window in window, bucketId or displayName")
    if (pool, window) in taken:
        # A second bucket for one window (e.g. gemini-image-5h beside gemini-5h) is
        # its own pool, named by its id, so series stay unique and nothing is dropped.
        prefix = bucket_id.rsplit("-", 1)[0] if "-" in bucket_id else ""
        pool = pool_slug(prefix)
        if not pool or (pool, window) in taken:
            raise ParseError(f"{where}: a second {window} bucket with no distinct bucketId")
        name = f"{name} ({prefix})" if name else prefix
    fraction, omitted = _bucket_fraction(bucket, where)
    reset = parse_time(bucket.get("resetTime", bucket.get("reset_time")), f"{where}.resetTime")
    return PoolQuota(
        pool=pool, pool_name=name or pool, window=window, remaining_fraction=fraction,
        reset_time=reset, bucket_id=bucket_id, omitted=omitted,
    )


def parse_summary(body: Any) -> SummaryReply:
    """retrieveUserQuotaSummary -> pool windows and the model families of each pool.

    Disabled buckets are not quotas; a bucket without its fraction is kept as
    `omitted` (exporter.quota reads it as 0 while its reset time is ahead).
    """
    doc = _unwrap(body, "retrieveUserQuotaSummary", "response", "quotaSummary")
    raw_groups = doc.get("groups")
    if raw_groups is None:
        return SummaryReply((), (), 0)
    if not isinstance(raw_groups, list):
        raise ParseError(f"groups: expected a list, got {type(raw_groups).__name__}")
    skipped = 0
    pools: list[PoolQuota] = []
    groups: list[PoolGroup] = []
    taken: set[tuple[str, str]] = set()
    for gi, group in enumerate(raw_groups):
        gwhere = f"groups[{gi}]"
        try:
            group = mapping(group, gwhere)
            buckets = group.get("buckets") or []
            if not isinstance(buckets, list):
                raise ParseError(f"{gwhere}.buckets: expected a list")
            slug, name = _group_pool(group, gwhere)
            description = opt_str(group.get("description"), f"{gwhere}.description") or ""
        except ParseError as exc:
            skipped += 1
            log.debug("skipped a malformed summary group", extra={"kv": {"why": str(exc)}})
            continue
        if slug:
            groups.append(PoolGroup(slug, name, _members(description)))
        for bi, raw in enumerate(buckets):
            bwhere = f"{gwhere}.buckets[{bi}]"
            own = slug or bucket_pool(raw)
            try:
                if not own:
                    raise ParseError(f"{bwhere}: no group displayName and no bucketId to "
                                     "name the pool")
                pool = _bucket(raw, bwhere, own, name, taken)
            except ParseError as exc:
                skipped += 1
                log.debug("skipped a malformed bucket", extra={"kv": {"why": str(exc)}})
                continue
            if pool is None:
                continue
            taken.add((pool.pool, pool.window))
            pools.append(pool)
            if not slug and all(g.pool != own for g in groups):
                # Members unknown: models join it by their provider's family.
                groups.append(PoolGroup(own, own, ()))
    return SummaryReply(tuple(pools), tuple(groups), skipped)


def pools_for(model: ModelQuota, groups: Iterable[PoolGroup]) -> tuple[str, ...]:
    """The pool a model draws on: the group whose description lists its family
    ("Gemini Pro" covers "Gemini 3 Pro (High)"), else the group of its modelProvider.

    >>> g = [PoolGroup("gemini", "Gemini Models", (("gemini", "pro"),)),
    ...      PoolGroup("claude-gpt", "Claude and GPT models", (("claude", "opus"),))]
    >>> m = ModelQuota("claude-opus-4-5", "Claude Opus 4.5", "anthropic", 1.0, None)
    >>> pools_for(m, g)
    ('claude-gpt',)
    """
    groups = list(groups)
    names = set(_words(model.display_name)) | set(_words(model.model))
    for group in groups:
        if any(member and set(member) <= names for member in group.members):
            return (group.pool,)
    for word in _PROVIDER_FAMILY.get(model.model_provider, ()):
        for group in groups:
            text = {*_words(group.name), *_words(group.pool)}
            text.update(w for member in group.members for w in member)
            if word in text:
                return (group.pool,)
    return ()


def with_pools(models: Iterable[ModelQuota], groups: Iterable[PoolGroup]) -> tuple[ModelQuota, ...]:
    groups = tuple(groups)
    return tuple(replace(m, pools=pools_for(m, groups)) for m in models)
