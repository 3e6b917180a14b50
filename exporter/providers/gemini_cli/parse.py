"""Pure parser of Gemini CLI's `retrieveUserQuota` reply: a daily quota per model.

    {"buckets": [{"modelId": "gemini-2.5-pro", "tokenType": "REQUESTS",
                  "remainingAmount": "75", "remainingFraction": 0.75,
                  "resetTime": "2026-11-29T00:00:00Z"}]}

The rules, beside the common ones (docs/provider-guides.md, Gemini CLI):
- A bucket without `remainingFraction` is unknown, not 0: proto3 JSON leaves
  zeros out, but the field is also left out for quotas that serve fine. Only an
  explicit `remainingAmount` of 0 beside it says the quota is used up. Gemini
  CLI has no pools, so nothing else resolves it: the model's number stays unknown
  unless another of its buckets gives one. `remainingAmount` is not filled in
  reliably (it is left out at 100%), so a missing amount says nothing and no count
  is invented from it.
- One series per model. A model with several buckets (a `REQUESTS` bucket beside
  `INPUT_TOKENS`, or the same one twice) gets the lowest known fraction: the limit
  that stops requests first. Its reset is that bucket's (on a tie, the later one).
- A `<model>_vertex` bucket (the same model behind Vertex routing, sent beside the
  plain one) is one more bucket of `<model>`: users know the model by its plain id
  (it is what they pass to `gemini -m` and to `quota --best`), two rows for one
  model would count an account twice, and taking the lowest of the two never
  hides a lower number (a bucket without a number never overrides one with it).
- Every `tokenType` counts toward the fraction; only a `REQUESTS` bucket's
  `remainingAmount` is a count of requests, shown when that bucket is the one that
  binds (so the count and the fraction always speak of the same limit).
- A bucket without `modelId`, or malformed, is skipped and counted.

>>> reply = parse_quota({"buckets": [
...     {"modelId": "m", "tokenType": "REQUESTS", "remainingFraction": 0.5},
...     {"modelId": "m", "tokenType": "INPUT_TOKENS", "remainingFraction": 0.25}]})
>>> [(m.model, m.remaining_fraction) for m in reply.models], reply.skipped
([('m', 0.25)], 0)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from exporter.providers.parsing import (
    ParseError,
    entry_fraction,
    mapping,
    number,
    opt_str,
    parse_time,
)
from exporter.snapshot import ModelQuota

log = logging.getLogger(__name__)

REQUESTS = "REQUESTS"
VERTEX_SUFFIX = "_vertex"


@dataclass(frozen=True)
class QuotaReply:
    models: tuple[ModelQuota, ...]
    skipped: int  # malformed buckets left out


@dataclass(frozen=True)
class _Bucket:
    model: str
    fraction: float | None  # None: the bucket came without one
    omitted: bool
    reset: float | None
    requests: float | None  # remainingAmount of a REQUESTS bucket


def _bucket(raw: Any, where: str) -> _Bucket:
    doc = mapping(raw, where)
    model = opt_str(doc.get("modelId"), f"{where}.modelId")
    if not model or not model.strip():
        raise ParseError(f"{where}: no modelId")
    fraction, omitted = entry_fraction(
        doc.get("remainingFraction"), f"{where}.remainingFraction")
    amount = number(doc.get("remainingAmount"), f"{where}.remainingAmount")
    if amount is not None and amount < 0:
        raise ParseError(f"{where}.remainingAmount: {amount:g} is negative")
    if omitted and amount:
        # Not the proto3 zero: the bucket contradicts itself, so say nothing of it.
        raise ParseError(f"{where}: no remainingFraction, yet remainingAmount {amount:g}")
    if omitted and amount == 0:
        fraction, omitted = 0.0, False  # an explicit count of 0: used up
    token_type = opt_str(doc.get("tokenType"), f"{where}.tokenType") or ""
    model = model.strip()
    if model.lower().endswith(VERTEX_SUFFIX) and len(model) > len(VERTEX_SUFFIX):
        model = model[: -len(VERTEX_SUFFIX)]
    return _Bucket(
        model=model,
        fraction=fraction,
        omitted=omitted,
        reset=parse_time(doc.get("resetTime"), f"{where}.resetTime"),
        requests=amount if token_type.upper() == REQUESTS else None,
    )


def _binds_sooner(a: _Bucket, b: _Bucket) -> bool:
    """`a` stops requests no later than `b`: a lower fraction (a known one before an
    unknown one); on a tie the later reset (an unknown reset may never come)."""
    def key(x: _Bucket) -> tuple[float, float]:
        fraction = math.inf if x.fraction is None else x.fraction
        return (fraction, -(math.inf if x.reset is None else x.reset))

    return key(a) < key(b)


def _merge(buckets: list[_Bucket]) -> ModelQuota:
    binding = buckets[0]
    for bucket in buckets[1:]:
        if _binds_sooner(bucket, binding):
            binding = bucket
    return ModelQuota(
        model=binding.model,
        display_name=binding.model,
        model_provider="google",
        remaining_fraction=binding.fraction,
        reset_time=binding.reset,
        omitted=binding.omitted,
        remaining_requests=binding.requests,
    )


def parse_quota(body: Any) -> QuotaReply:
    """retrieveUserQuota -> one ModelQuota per model id, sorted by id."""
    doc = mapping(body, "retrieveUserQuota")
    raw = doc.get("buckets", doc.get("quotaBuckets"))
    if raw is None:
        return QuotaReply((), 0)
    if not isinstance(raw, list):
        raise ParseError(f"buckets: expected a list, got {type(raw).__name__}")
    by_model: dict[str, list[_Bucket]] = {}
    skipped = 0
    for i, entry in enumerate(raw):
        try:
            bucket = _bucket(entry, f"buckets[{i}]")
        except ParseError as exc:
            skipped += 1
            log.debug("skipped a malformed quota bucket", extra={"kv": {"why": str(exc)}})
            continue
        by_model.setdefault(bucket.model, []).append(bucket)
    models = tuple(_merge(by_model[model]) for model in sorted(by_model))
    return QuotaReply(models, skipped)
