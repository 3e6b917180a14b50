"""GitHub Copilot and Gemini CLI body parsers: the example bodies, the shapes other
public tools have seen (tests/fixtures/upstream/peers) and odd shapes."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.providers.copilot.parse import parse_user
from exporter.providers.gemini_cli.parse import parse_quota
from exporter.providers.parsing import ParseError
from exporter.snapshot import ModelQuota, PoolQuota
from exporter.timefmt import parse_rfc3339

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"


def body(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def peer(name: str) -> Any:
    return body(f"peers/{name}")


def pools_of(doc: Any) -> dict[str, PoolQuota]:
    return {p.pool: p for p in parse_user(doc).pools}


def models_of(doc: Any) -> dict[str, ModelQuota]:
    return {m.model: m for m in parse_quota(doc).models}


# -- Copilot ---------------------------------------------------------------------------


def test_copilot_example_body_gives_premium_counts_and_unlimited_chat() -> None:
    reply = parse_user(body("copilot.user.json"))
    assert (reply.tier, reply.tier_name, reply.has_access) == (
        "individual_pro", "Copilot Pro", True)
    assert [p.pool for p in reply.pools] == ["premium-interactions", "chat", "completions"]
    premium, chat, completions = reply.pools
    reset = parse_rfc3339("2026-12-01T00:00:00Z")
    assert (premium.window, premium.remaining_fraction, premium.reset_time) == (
        "monthly", 0.14, reset)
    assert (premium.remaining_requests, premium.limit_requests) == (42.0, 300.0)
    assert premium.pool_name == "Premium requests" and not premium.unlimited
    for pool in (chat, completions):
        assert pool.unlimited and pool.remaining_fraction is None
        assert (pool.window, pool.remaining_requests, pool.limit_requests) == (
            "monthly", None, None)
    assert reply.skipped == 0


def test_copilot_free_legacy_shape_counts_what_is_left_of_the_monthly_totals() -> None:
    reply = parse_user(peer("copilot.free-legacy.json"))
    assert (reply.tier, reply.tier_name) == ("individual", "Copilot Free")
    pools = {p.pool: p for p in reply.pools}
    assert set(pools) == {"chat", "completions"}
    assert (pools["chat"].remaining_requests, pools["chat"].limit_requests) == (250.0, 500.0)
    assert pools["chat"].remaining_fraction == 0.5
    assert pools["completions"].remaining_fraction == 0.5
    # A date-only reset is midnight UTC.
    assert pools["chat"].reset_time == parse_rfc3339("2026-12-03T00:00:00Z")
    assert all(p.window == "monthly" for p in reply.pools)


def test_copilot_business_seat_billed_by_usage_shows_no_false_zero() -> None:
    reply = parse_user(peer("copilot.business-token-billing.json"))
    pools = {p.pool: p for p in reply.pools}
    # premium_interactions at entitlement 0 is no quota: no pool, not a 0%.
    assert "premium-interactions" not in pools
    assert pools["chat"].unlimited and pools["completions"].unlimited  # -1 is GitHub's sentinel
    assert all(p.reset_time is None for p in reply.pools)  # quota_reset_at: 0 is no date
    assert (reply.tier, reply.tier_name) == ("business", "Copilot Business")


def test_copilot_no_access_has_no_pools_and_says_so() -> None:
    reply = parse_user(peer("copilot.no-access.json"))
    assert not reply.has_access and reply.pools == () and reply.sku == "no_access"


def test_copilot_pro_plus_on_credits_uses_the_snapshots_not_the_legacy_keys() -> None:
    reply = parse_user(peer("copilot.pro-plus-credits.json"))
    assert reply.tier_name == "Copilot Pro+"  # the SKU tells Pro+ from Pro
    pools = pools_of(peer("copilot.pro-plus-credits.json"))
    premium = pools["premium-interactions"]
    assert premium.remaining_fraction == pytest.approx(0.832)
    assert (premium.remaining_requests, premium.limit_requests) == (5824.0, 7000.0)
    assert premium.reset_time == parse_rfc3339("2026-12-01T00:00:00Z")
    assert pools["chat"].unlimited and pools["completions"].unlimited


def test_copilot_minus_one_without_an_unlimited_flag_is_unlimited() -> None:
    pools = pools_of(peer("copilot.unlimited-sentinel.json"))
    for name in ("chat", "completions"):
        assert pools[name].unlimited and pools[name].remaining_fraction is None
        assert (pools[name].remaining_requests, pools[name].limit_requests) == (None, None)
        assert not pools[name].overage
    premium = pools["premium-interactions"]
    assert (premium.unlimited, premium.remaining_fraction, premium.remaining_requests) == (
        False, 0.64, 640.0)
    # The sentinel in `remaining` alone, under no positive entitlement, is unlimited too.
    (pool,) = parse_user({"quota_snapshots": {"chat": {"remaining": -1}}}).pools
    assert pool.unlimited and pool.remaining_fraction is None


def test_copilot_negative_remaining_is_overage_not_a_negative_count() -> None:
    premium = pools_of(peer("copilot.overage.json"))["premium-interactions"]
    assert (premium.remaining_fraction, premium.remaining_requests, premium.limit_requests) == (
        0.0, 0.0, 1500.0)
    assert premium.overage and not premium.unlimited
    assert premium.reset_time == parse_rfc3339("2026-12-01T00:00:00Z")


def test_copilot_one_past_the_quota_with_overage_refused_is_exhausted_not_unlimited() -> None:
    # remaining -1 under an entitlement of 300 is not GitHub's sentinel, and with
    # overage_permitted false GitHub refuses the next request: exhausted.
    premium = pools_of(peer("copilot.one-over-refused.json"))["premium-interactions"]
    assert not premium.unlimited and not premium.overage
    assert (premium.remaining_fraction, premium.remaining_requests, premium.limit_requests) == (
        0.0, 0.0, 300.0)


@pytest.mark.parametrize(("extra", "overage"), [
    ({"remaining": -3821, "percent_remaining": -254.7}, True),  # served past it: overage
    ({"remaining": -3821, "overage_permitted": False}, False),  # GitHub says it refuses
    ({"remaining": 0, "percent_remaining": 0, "overage_permitted": True}, True),
    ({"remaining": 0, "percent_remaining": 0}, False),  # nothing says it keeps serving
    ({"remaining": 0, "percent_remaining": 0, "overage_count": 12}, True),
    ({"remaining": 4, "percent_remaining": 0.3, "overage_permitted": True}, False),  # left
])
def test_copilot_overage_is_what_github_says_or_shows(extra: dict[str, Any],
                                                      overage: bool) -> None:
    snapshot = {"entitlement": 1500, **extra}
    (pool,) = parse_user({"quota_snapshots": {"premium_interactions": snapshot}}).pools
    assert pool.overage is overage
    if overage:
        assert (pool.remaining_fraction, pool.remaining_requests) == (0.0, 0.0)


def test_copilot_token_billed_zero_buckets_are_no_quota_and_never_exhausted() -> None:
    reply = parse_user(peer("copilot.token-billed-zero.json"))
    # `entitlement: 0, remaining: 0, percent_remaining: 100`: billed by tokens, no
    # meter; only the bucket that says `unlimited: true` is kept, as unlimited.
    assert [(p.pool, p.unlimited, p.remaining_fraction) for p in reply.pools] == [
        ("chat", True, None)]
    assert reply.has_access and reply.skipped == 0


def test_copilot_free_plan_premium_without_a_quota_is_no_pool() -> None:
    pools = pools_of(peer("copilot.free-has-quota-false.json"))
    assert set(pools) == {"chat", "completions"}
    assert (pools["chat"].remaining_fraction, pools["chat"].remaining_requests) == (0.76, 38.0)
    # The same with no counts at all: `percent_remaining: 0.0` beside has_quota false
    # is no quota, not an exhausted one.
    reply = parse_user({"quota_snapshots": {"premium_interactions": {
        "percent_remaining": 0.0, "unlimited": False, "has_quota": False}}})
    assert reply.pools == () and reply.skipped == 0


def test_copilot_remaining_is_the_count_when_quota_remaining_differs() -> None:
    (premium,) = parse_user(peer("copilot.remaining-differs.json")).pools
    assert (premium.remaining_requests, premium.limit_requests) == (473.0, 1500.0)
    assert premium.remaining_fraction == pytest.approx(0.31578)
    assert premium.reset_time == parse_rfc3339("2026-12-01T00:00:00Z")  # epoch quota_reset_at
    assert not premium.overage


def test_copilot_subscription_ended_without_quotas_is_no_access() -> None:
    reply = parse_user(peer("copilot.subscription-ended.json"))
    assert reply.ended and not reply.has_access and reply.pools == ()
    # An ended SKU that still carries a quota is served: that quota is shown.
    still = parse_user({"access_type_sku": "subscription_ended", "quota_snapshots": {
        "chat": {"entitlement": 50, "remaining": 10}}})
    assert not still.ended and still.has_access and len(still.pools) == 1


@pytest.mark.parametrize(("snapshot", "fraction", "remaining"), [
    ({"entitlement": 300, "remaining": 150}, 0.5, 150.0),  # no percent: from the counts
    ({"entitlement": 300, "quota_remaining": 12.5, "percent_remaining": 4.1666}, 0.041666,
     12.5),
    ({"entitlement": "300", "remaining": "30", "percent_remaining": "10"}, 0.1, 30.0),
    ({"entitlement": 300, "remaining": -7, "percent_remaining": -2.3, "overage_count": 7},
     0.0, 0.0),  # overage: the included quota is gone, never a negative count
    ({"entitlement": 300, "remaining": 301, "percent_remaining": 100.4}, 1.0, 301.0),
    # A count at 0 of a real entitlement wins over a stale percent; without an
    # entitlement a 0 count is no evidence against the percent.
    ({"entitlement": 300, "remaining": 0, "percent_remaining": 3.0}, 0.0, 0.0),
    ({"remaining": 0, "percent_remaining": 100}, 1.0, 0.0),
])
def test_copilot_snapshot_forms(snapshot: dict[str, Any], fraction: float,
                                remaining: float) -> None:
    pool = parse_user({"copilot_plan": "individual_pro",
                       "quota_snapshots": {"premium_interactions": snapshot}}).pools[0]
    assert pool.remaining_fraction == pytest.approx(fraction)
    assert pool.remaining_requests == remaining


def test_copilot_reset_forms() -> None:
    def reset(**doc: Any) -> float | None:
        snap = {"premium_interactions": {"entitlement": 10, "remaining": 5}}
        return parse_user({**doc, "quota_snapshots": snap}).pools[0].reset_time

    utc = parse_rfc3339("2027-01-01T00:00:00Z")
    assert reset(quota_reset_date_utc="2027-01-01T00:00:00.000Z",
                 quota_reset_date="2026-12-31") == utc
    assert reset(quota_reset_date="2027-01-01") == utc
    assert reset(quota_reset_at=0) is None
    assert reset(quota_reset_at=1798761600) == utc
    assert reset(quota_reset_at="1798761600000") == utc
    assert reset(quota_reset_date_utc="2027-01-01T00:00:00Z") == utc
    with pytest.raises(ParseError, match="quota_reset_date"):
        reset(quota_reset_date="soon")


def test_copilot_unknown_snapshot_keys_become_their_own_pools_after_the_known_ones() -> None:
    reply = parse_user({"copilot_plan": "enterprise", "quota_snapshots": {
        "code_review": {"entitlement": 20, "remaining": 5},
        "chat": {"unlimited": True},
        "premium_interactions": {"entitlement": 1000, "remaining": 1000}}})
    assert [(p.pool, p.pool_name) for p in reply.pools] == [
        ("premium-interactions", "Premium requests"), ("chat", "Chat"),
        ("code-review", "Code review")]
    assert reply.tier_name == "Copilot Enterprise"


@pytest.mark.parametrize("bad", [
    "lots", [1], {"entitlement": "many"}, {"entitlement": 10},
    {"remaining": 5, "unlimited": False}, {"percent_remaining": True},
])
def test_copilot_one_malformed_snapshot_is_skipped_and_counted(bad: Any) -> None:
    reply = parse_user({"copilot_plan": "individual_pro", "quota_snapshots": {
        "premium_interactions": bad, "chat": {"unlimited": True}}})
    assert [p.pool for p in reply.pools] == ["chat"] and reply.skipped == 1


def test_copilot_malformed_legacy_entries_are_skipped_and_counted() -> None:
    reply = parse_user({"copilot_plan": "individual",
                        "limited_user_quotas": {"chat": "x", "completions": 10, "extra": 3},
                        "monthly_quotas": {"completions": 20}})
    assert [(p.pool, p.remaining_requests) for p in reply.pools] == [("completions", 10.0)]
    assert reply.skipped == 2  # chat is not a number; extra has no total


def test_copilot_legacy_without_a_meter_is_no_quota() -> None:
    reply = parse_user({"copilot_plan": "individual",
                        "limited_user_quotas": {"chat": -1, "completions": 0},
                        "monthly_quotas": {"chat": 50, "completions": 0}})
    assert reply.pools == () and reply.skipped == 0


def test_copilot_reply_of_the_wrong_shape_raises_naming_the_field() -> None:
    with pytest.raises(ParseError, match="copilot_internal/user"):
        parse_user(["not", "an", "object"])
    with pytest.raises(ParseError, match="copilot_plan"):
        parse_user({"copilot_plan": 7})
    with pytest.raises(ParseError, match="quota_snapshots"):
        parse_user({"copilot_plan": "individual_pro", "quota_snapshots": ["chat"]})


def test_copilot_empty_reply_is_no_quotas_not_an_error() -> None:
    reply = parse_user({})
    assert (reply.tier, reply.tier_name, reply.pools, reply.has_access) == (
        "unknown", "", (), True)


# -- Gemini CLI ------------------------------------------------------------------------


def test_gemini_cli_example_body() -> None:
    models = models_of(body("geminicli.retrieveUserQuota.json"))
    reset = parse_rfc3339("2026-11-29T00:00:00Z")
    pro, flash, lite = (models[m] for m in ("gemini-2.5-pro", "gemini-2.5-flash",
                                            "gemini-2.5-flash-lite"))
    assert (pro.remaining_fraction, pro.remaining_requests, pro.reset_time) == (0.75, 75.0, reset)
    assert (flash.remaining_fraction, flash.remaining_requests) == (0.9333, 1400.0)
    # No fraction and no amount: unknown (not zero), and said so.
    assert (lite.remaining_fraction, lite.omitted, lite.remaining_requests) == (None, True, None)
    assert not pro.omitted and pro.model_provider == "google"
    assert pro.display_name == "gemini-2.5-pro" and pro.pools == ()


def test_gemini_cli_mixed_buckets() -> None:
    reply = parse_quota(peer("geminicli.mixed-buckets.json"))
    models = {m.model: m for m in reply.models}
    assert list(models) == sorted(models)
    # REQUESTS at 90% (180 left) and INPUT_TOKENS at 76%: one series, the lower one;
    # the count belongs to the other limit, so none is shown.
    preview = models["gemini-3-pro-preview"]
    assert (preview.remaining_fraction, preview.remaining_requests) == (0.76175, None)
    # remainingAmount is left out at 100%: no count, no zero.
    full = models["gemini-3.1-pro-preview"]
    assert (full.remaining_fraction, full.remaining_requests, full.omitted) == (1.0, None, False)
    # The same bucket twice is one series; resetTime null is no reset.
    flash = models["gemini-2.5-flash"]
    assert (flash.remaining_fraction, flash.remaining_requests, flash.reset_time) == (
        0.04, 40.0, None)
    assert models["gemini-2.5-pro"].remaining_fraction is None
    assert models["gemini-2.5-pro"].omitted
    assert reply.skipped == 1  # the bucket without modelId
    assert len(reply.models) == 4


def test_gemini_cli_integer_fractions_string_amounts_and_missing_fields() -> None:
    models = models_of(peer("geminicli.vertex-duplicates.json"))
    # `remainingFraction: 1` with no tokenType and no resetTime: full, no count (the
    # unit of the amount is unknown without a tokenType), no reset.
    flash = models["gemini-2.5-flash"]
    assert (flash.remaining_fraction, flash.remaining_requests, flash.reset_time) == (
        1.0, None, None)
    assert not flash.omitted
    # `remainingFraction: 0` sent as an integer is an explicit 0, with its count.
    preview = models["gemini-3-flash-preview"]
    assert (preview.remaining_fraction, preview.omitted, preview.remaining_requests) == (
        0.0, False, 0.0)


def test_gemini_cli_vertex_twins_are_one_model_under_the_plain_id_keeping_the_lower() -> None:
    reply = parse_quota(peer("geminicli.vertex-duplicates.json"))
    assert [m.model for m in reply.models] == [
        "gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-flash-preview", "gemini-3-pro-preview"]
    assert reply.skipped == 0
    # gemini-2.5-pro at 84.8% and its _vertex twin at 0: the lower number is kept.
    pro = next(m for m in reply.models if m.model == "gemini-2.5-pro")
    assert (pro.remaining_fraction, pro.remaining_requests, pro.display_name) == (
        0.0, 0.0, "gemini-2.5-pro")
    assert pro.reset_time == parse_rfc3339("2026-11-29T07:00:00Z")
    # A _vertex bucket without its plain twin is still shown under the plain id.
    alone = next(m for m in reply.models if m.model == "gemini-3-pro-preview")
    assert (alone.remaining_fraction, alone.remaining_requests) == (0.6, 120.0)
    # The suffix alone is no model id to strip.
    (odd,) = parse_quota({"buckets": [{"modelId": "_vertex", "remainingFraction": 1}]}).models
    assert odd.model == "_vertex"


def test_gemini_cli_ties_keep_the_later_reset_and_its_count() -> None:
    reply = parse_quota({"buckets": [
        {"modelId": "m", "tokenType": "OUTPUT_TOKENS", "remainingFraction": 0.5,
         "resetTime": "2026-11-29T00:00:00Z"},
        {"modelId": "m", "tokenType": "REQUESTS", "remainingFraction": 0.5,
         "remainingAmount": "10", "resetTime": "2026-11-30T00:00:00Z"}]})
    m = reply.models[0]
    assert (m.reset_time, m.remaining_requests) == (parse_rfc3339("2026-11-30T00:00:00Z"), 10.0)


def test_gemini_cli_an_amount_without_a_fraction_contradicts_itself_and_is_skipped() -> None:
    reply = parse_quota({"buckets": [
        {"modelId": "m", "tokenType": "REQUESTS", "remainingAmount": "5"},
        {"modelId": "n", "tokenType": "REQUESTS", "remainingAmount": "0"}]})
    assert [(m.model, m.remaining_fraction, m.remaining_requests) for m in reply.models] == [
        ("n", 0.0, 0.0)]
    assert reply.skipped == 1


def test_gemini_cli_token_amounts_are_not_request_counts() -> None:
    reply = parse_quota({"buckets": [{"modelId": "m", "tokenType": "INPUT_TOKENS",
                                      "remainingAmount": "900000", "remainingFraction": 0.9}]})
    assert reply.models[0].remaining_requests is None


@pytest.mark.parametrize("bad", [
    "junk", None, [], {"modelId": ""}, {"modelId": 7}, {"modelId": "m", "remainingFraction": -1},
    {"modelId": "m", "remainingFraction": "lots"}, {"modelId": "m", "resetTime": "tomorrow"},
    {"modelId": "m", "remainingFraction": 0.5, "remainingAmount": "-3"},
    {"modelId": "m", "remainingFraction": 0.5, "tokenType": 3},
])
def test_gemini_cli_one_malformed_bucket_is_skipped_and_counted(bad: Any) -> None:
    reply = parse_quota({"buckets": [bad, {"modelId": "ok", "remainingFraction": 0.5}]})
    assert [m.model for m in reply.models] == ["ok"] and reply.skipped == 1


def test_gemini_cli_fractions_above_one_are_clamped_and_strings_accepted() -> None:
    models = models_of({"buckets": [{"modelId": "m", "remainingFraction": "1.2",
                                     "remainingAmount": " 12 ", "tokenType": "requests"}]})
    assert (models["m"].remaining_fraction, models["m"].remaining_requests) == (1.0, 12.0)


def test_gemini_cli_reply_shapes() -> None:
    assert parse_quota({}).models == ()
    assert parse_quota({"buckets": None}).models == ()
    with pytest.raises(ParseError, match="buckets: expected a list"):
        parse_quota({"buckets": {"modelId": "m"}})
    with pytest.raises(ParseError, match="retrieveUserQuota"):
        parse_quota("not json object")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["buckets", "quotaBuckets", "modelId", "tokenType", "remainingAmount",
                         "remainingFraction", "resetTime", "copilot_plan", "access_type_sku",
                         "quota_snapshots", "premium_interactions", "chat", "entitlement",
                         "remaining", "percent_remaining", "unlimited", "limited_user_quotas",
                         "monthly_quotas", "quota_reset_date", "m"]),
        children,
        max_size=5,
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_yields_a_result_or_a_parse_error(doc: Any) -> None:
    for parse in (parse_user, parse_quota):
        with contextlib.suppress(ParseError):
            result = parse(doc)
            fractions = [getattr(q, "remaining_fraction", None)
                         for q in (*getattr(result, "pools", ()), *getattr(result, "models", ()))]
            assert all(f is None or 0.0 <= f <= 1.0 for f in fractions)


def test_gemini_cli_an_omitted_fraction_with_an_amount_of_zero_is_used_up() -> None:
    """remainingAmount "0" is a number from upstream: the evidence that makes it 0."""
    reply = parse_quota({"buckets": [
        {"modelId": "m", "tokenType": "REQUESTS", "remainingAmount": "0",
         "resetTime": "2026-11-29T00:00:00Z"}]})
    (m,) = reply.models
    assert (m.remaining_fraction, m.omitted, m.remaining_requests) == (0.0, False, 0.0)


def test_gemini_cli_a_known_bucket_wins_over_an_omitted_one() -> None:
    reply = parse_quota({"buckets": [
        {"modelId": "m", "tokenType": "INPUT_TOKENS", "resetTime": "2026-11-29T00:00:00Z"},
        {"modelId": "m", "tokenType": "REQUESTS", "remainingFraction": 0.4,
         "resetTime": "2026-11-29T00:00:00Z"}]})
    (m,) = reply.models
    assert (m.remaining_fraction, m.omitted) == (0.4, False)
