"""GitHub Copilot's body parser (copilot_internal/user): the example body, the shapes
other public tools have seen (tests/fixtures/upstream/peers) and odd shapes."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.providers.copilot.parse import parse_user
from exporter.providers.parsing import ParseError
from exporter.snapshot import PoolQuota
from exporter.timefmt import parse_rfc3339
from tests.unit.test_antigravity_parse import body, peer


def pools_of(doc: Any) -> dict[str, PoolQuota]:
    return {p.pool: p for p in parse_user(doc).pools}


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
