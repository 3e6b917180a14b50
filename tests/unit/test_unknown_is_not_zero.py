"""Unknown is not zero: a quota entry that came without its number is resolved from
evidence (its pool windows, then a sibling model with the same reset), and stays
unknown, said so, when there is none. An explicit 0 is always exhausted; a reset in
the past is no evidence. Each rule here is one that paged falsely, or would have
missed a page, in other tools (docs/metrics.md tells the record)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from exporter.collector import text
from exporter.providers.antigravity.parse import parse_models, parse_summary, with_pools
from exporter.quota import NO_EVIDENCE, NO_POOL_NUMBER, POOLS_UNKNOWN, resolve
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    AccountSnapshot,
    ModelQuota,
    PoolQuota,
    Snapshot,
)
from tests.procs import by_label
from tests.unit.test_antigravity_parse import body, peer

NOW = 1_795_800_000.0
INFO = AccountInfo("g1-pro-tier", "Google AI Pro")


def model(name: str, fraction: float | None, reset: float | None = NOW + 3600,
          pools: tuple[str, ...] = ("claude-gpt",)) -> ModelQuota:
    return ModelQuota(name, name.title(), "anthropic", fraction, reset, pools=pools,
                      omitted=fraction is None)


def window(name: str, fraction: float | None, reset: float | None = NOW + 3600,
           pool: str = "claude-gpt") -> PoolQuota:
    return PoolQuota(pool, "Claude and GPT models", name, fraction, reset,
                     omitted=fraction is None)


def data(models: tuple[ModelQuota, ...], pools: tuple[PoolQuota, ...] = (),
         **kw: object) -> AccountData:
    return AccountData(INFO, models, pools, as_of=NOW, **kw)  # type: ignore[arg-type]


def effective_of(m: ModelQuota, d: AccountData) -> float | None:
    limit = resolve(m, d).limit
    return None if limit is None else limit.fraction


# -- the rules, one by one ---------------------------------------------------------------


def test_an_omitted_fraction_takes_its_pools_number_not_zero() -> None:
    m = model("claude-sonnet-4-5", None)
    d = data((m,), (window("5h", 0.6), window("weekly", 0.8, NOW + 86400)))
    found = resolve(m, d)
    assert found.limit is not None and found.limit.fraction == 0.6
    assert found.limit.pool is not None and found.limit.pool.window == "5h"


def test_a_pool_bucket_without_a_number_but_a_reset_ahead_is_zero() -> None:
    m = model("claude-sonnet-4-5", None)
    d = data((m,), (window("5h", None, NOW + 600), window("weekly", 0.8, NOW + 86400)))
    found = resolve(m, d)
    assert found.limit is not None and found.limit.fraction == 0.0
    assert "reset ahead" in found.limit.evidence


def test_an_empty_pool_bucket_also_binds_a_model_that_says_100() -> None:
    m = model("claude-sonnet-4-5", 1.0)
    assert effective_of(m, data((m,), (window("5h", None, NOW + 600),))) == 0.0


def test_a_pool_bucket_without_a_number_and_a_past_reset_is_no_evidence() -> None:
    m = model("claude-sonnet-4-5", None)
    stale = data((m,), (window("5h", None, NOW - 60),))
    assert resolve(m, stale).limit is None
    assert resolve(m, stale).why == NO_POOL_NUMBER
    # Without any reset time it says nothing either.
    assert resolve(m, data((m,), (window("5h", None, None),))).limit is None


def test_a_sibling_with_the_same_reset_and_a_number_stands_in() -> None:
    opus = model("claude-opus-4-5", None, NOW + 1800)
    sonnet = model("claude-sonnet-4-5", 0.4, NOW + 1800)
    other = model("gpt-oss", 0.0, NOW + 900)  # another reset: another quota, no evidence
    found = resolve(opus, data((opus, sonnet, other)))
    assert found.limit is not None and found.limit.fraction == 0.4
    assert "same quota as Claude-Sonnet-4-5" in found.limit.evidence


def test_a_sibling_in_another_pool_or_with_a_past_reset_is_no_evidence() -> None:
    opus = model("claude-opus-4-5", None, NOW + 1800)
    gemini = model("gemini-3-flash", 0.2, NOW + 1800, pools=("gemini",))
    assert resolve(opus, data((opus, gemini))).limit is None
    past_opus = model("claude-opus-4-5", None, NOW - 10)
    past_sonnet = model("claude-sonnet-4-5", 0.0, NOW - 10)
    assert resolve(past_opus, data((past_opus, past_sonnet))).limit is None


def test_pool_windows_and_a_sibling_together_give_the_lowest() -> None:
    opus = model("claude-opus-4-5", None, NOW + 1800)
    sonnet = model("claude-sonnet-4-5", 0.2, NOW + 1800)
    d = data((opus, sonnet), (window("5h", 0.6),))
    assert effective_of(opus, d) == 0.2


def test_no_evidence_is_unknown_with_the_reason() -> None:
    lone = model("gemini-4", None, pools=())
    found = resolve(lone, data((lone,)))
    assert (found.limit, found.why) == (None, NO_EVIDENCE)
    assert NO_EVIDENCE == "no number from upstream and no pool data"


def test_an_explicit_zero_is_exhausted_whatever_the_pool_says() -> None:
    m = model("claude-sonnet-4-5", 0.0)
    assert effective_of(m, data((m,), (window("5h", 1.0),))) == 0.0
    # ... and while the pool source fails.
    assert effective_of(m, data((m,), pools_known=False)) == 0.0


def test_an_omitted_fraction_while_the_pool_source_fails_is_unknown() -> None:
    m = model("claude-sonnet-4-5", None)
    found = resolve(m, data((m,), pools_known=False))
    assert (found.limit, found.why) == (None, POOLS_UNKNOWN)


# -- on the shared example bodies and the peers' bodies -------------------------------------


def _resolved(models_body: object, summary_body: object) -> dict[str, float | None]:
    summary = parse_summary(summary_body)
    models = with_pools(parse_models(models_body).models, summary.groups)
    d = AccountData(INFO, models, summary.pools, as_of=NOW)
    return {m.model: effective_of(m, d) for m in models}


def test_the_example_opus_without_a_fraction_takes_its_pool() -> None:
    models = body("fetchAvailableModels.paid.json")
    summary = body("retrieveUserQuotaSummary.json")
    resolved = _resolved(models, summary)
    groups = {g["displayName"]: g for g in summary["groups"]}
    claude = {b["window"]: b for b in groups["Claude and GPT models"]["buckets"]}
    lowest = min(b["remainingFraction"] for b in claude.values())
    assert resolved["claude-opus-4-5-thinking"] == lowest


def test_the_peers_empty_quota_info_without_pools_is_unknown() -> None:
    models = parse_models(peer("models.renamed.json")).models
    d = AccountData(INFO, models, as_of=NOW)
    empty = next(m for m in models if m.model == "claude-opus-4-6-thinking")
    assert resolve(empty, d).limit is None


def test_the_peers_summary_bucket_without_a_fraction_binds_only_with_a_reset_ahead() -> None:
    summary = parse_summary(peer("summary.local-envelope.json"))
    bucket = next(p for p in summary.pools if p.omitted)
    m = model("claude-sonnet-4-5", 0.8, pools=(bucket.pool,))
    d = AccountData(INFO, (m,), summary.pools, as_of=NOW)
    # That bucket has neither a number nor a reset time: it tells nothing, so the
    # model's own 80% stands; with a reset ahead it would be the empty pool.
    assert bucket.reset_time is None and effective_of(m, d) == 0.8
    live = replace(bucket, reset_time=NOW + 60)
    d = AccountData(INFO, (m,), (live,), as_of=NOW)
    assert effective_of(m, d) == 0.0


# -- the exposition ---------------------------------------------------------------------------


def _exposition(d: AccountData) -> str:
    acc = AccountSnapshot("antigravity", "fresh", True, d, None, 0.1, NOW, NOW)
    return text(Snapshot((acc,), NOW)).decode()


def test_exposition_never_exports_an_omitted_fraction_as_a_number() -> None:
    fresh = model("claude-sonnet-4-5", None)
    lone = model("gemini-4", None, pools=())
    out = _exposition(data((fresh, lone), (window("5h", 0.6),)))
    raw = by_label(out, "llm_quota_remaining_fraction", "model")
    assert raw == {}
    assert by_label(out, "llm_quota_remaining_fraction_omitted", "model") == {
        ("claude-sonnet-4-5",): 1.0, ("gemini-4",): 1.0}
    # Resolved from its pool; the lone one has no effective sample at all.
    assert by_label(out, "llm_quota_effective_remaining_fraction", "model") == {
        ("claude-sonnet-4-5",): 0.6}
    # The reset time is still there for both.
    assert set(by_label(out, "llm_quota_reset_timestamp_seconds", "model")) == {
        ("claude-sonnet-4-5",), ("gemini-4",)}


def test_exposition_of_a_pool_bucket_without_a_number_exports_no_pool_fraction() -> None:
    m = model("claude-sonnet-4-5", None)
    out = _exposition(data((m,), (window("5h", None, NOW + 600),)))
    assert by_label(out, "llm_quota_pool_remaining_fraction", "pool", "window") == {}
    assert by_label(out, "llm_quota_pool_reset_timestamp_seconds", "pool", "window") == {
        ("claude-gpt", "5h"): NOW + 600}
    assert by_label(out, "llm_quota_effective_remaining_fraction", "model") == {
        ("claude-sonnet-4-5",): 0.0}


def test_pool_counts_in_credits_and_overage_are_exported() -> None:
    pool = replace(window("monthly", 0.0, pool="premium-interactions"), overage=True,
                   remaining_credits=0.0, limit_credits=300.0)
    out = _exposition(data((), (pool,)))
    assert by_label(out, "llm_quota_pool_overage", "pool") == {("premium-interactions",): 1.0}
    assert by_label(out, "llm_quota_pool_limit_credits", "pool") == {
        ("premium-interactions",): 300.0}
    assert by_label(out, "llm_quota_pool_remaining_credits", "pool") == {
        ("premium-interactions",): 0.0}


@pytest.mark.parametrize("as_of", [NOW, None])
def test_as_of_decides_what_is_past(as_of: float | None) -> None:
    """The fetch engine stamps when the replies were read; without it, now."""
    m = model("claude-sonnet-4-5", None)
    d = replace(data((m,), (window("5h", None, NOW + 600),)), as_of=as_of)
    expected = 0.0 if as_of is not None else None  # NOW + 600 is long past today
    assert effective_of(m, d) == expected
