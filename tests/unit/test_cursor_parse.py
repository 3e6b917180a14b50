"""Cursor's reply parsers: every example body, the shapes other public tools have seen
(tests/fixtures/upstream/peers) and odd shapes."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.providers.cursor.parse import (
    parse_period_usage,
    parse_request_usage,
    parse_usage_summary,
)
from exporter.providers.parsing import ParseError
from exporter.snapshot import PoolQuota
from exporter.timefmt import parse_rfc3339
from tests.unit.test_antigravity_parse import body, peer


def pools(reply: Any) -> dict[str, PoolQuota]:
    return {p.pool: p for p in reply.pools}


def test_team_reply_gives_the_two_bars_the_included_dollars_and_the_spend_limits() -> None:
    reply = parse_period_usage(body("cursor.current-period-usage-team.json"))
    got = pools(reply)
    assert list(got) == ["auto", "api", "included", "spend-limit", "spend-limit-pooled"]
    reset = 1771077734.0  # billingCycleEnd, epoch ms as a string
    assert all(p.window == "monthly" and p.reset_time == reset for p in reply.pools)
    assert got["auto"].remaining_fraction == 1.0  # 0% used is all left, not hidden
    assert got["api"].remaining_fraction == pytest.approx(1 - 0.46444)
    included = got["included"]
    # Dollars, from cents; no fraction of its own: the two bars say it.
    assert (included.remaining_credits, included.limit_credits) == (167.78, 400.0)
    assert included.remaining_fraction is None and not included.omitted
    assert (got["spend-limit"].remaining_credits, got["spend-limit"].limit_credits,
            got["spend-limit"].remaining_fraction) == (100.0, 100.0, 1.0)
    assert (got["spend-limit-pooled"].remaining_credits,
            got["spend-limit-pooled"].limit_credits) == (500.0, 500.0)
    assert reply.skipped == 0 and reply.has_usage


def test_enterprise_reply_with_the_billing_cycle_only_is_a_reply_without_pools() -> None:
    reply = parse_period_usage(body("cursor.current-period-usage-enterprise-empty.json"))
    assert reply.pools == () and reply.skipped == 0 and not reply.has_usage


def test_usage_summary_of_an_enterprise_seat_reads_overall_and_the_team_pool() -> None:
    reply = parse_usage_summary(body("cursor.usage-summary-enterprise-overall.json"))
    got = pools(reply)
    assert reply.plan == "enterprise"
    assert set(got) == {"included", "team-pooled"}  # onDemand limit null: no cap
    reset = parse_rfc3339("2026-05-01T00:00:00Z")
    assert (got["included"].remaining_fraction, got["included"].remaining_credits,
            got["included"].limit_credits, got["included"].reset_time) == (
        0.2616, 26.16, 100.0, reset)
    assert got["team-pooled"].remaining_fraction == pytest.approx(15396865 / 28122000)
    assert got["team-pooled"].limit_credits == 281220.0


def test_free_plan_reads_only_its_total_percent() -> None:
    reply = parse_usage_summary(body("cursor.usage-summary-free.json"))
    got = pools(reply)
    assert reply.plan == "free"
    # limit 0: no dollars, and the bucket percents count bonus use against nothing.
    assert list(got) == ["included"]
    assert got["included"].remaining_fraction == pytest.approx(0.945)
    assert got["included"].remaining_credits is None and got["included"].reset_time is None


def test_request_counts_of_older_plans() -> None:
    reply = parse_request_usage(body("cursor.usage-requests-enterprise.json"))
    (pool,) = reply.pools
    assert (pool.pool, pool.window, pool.remaining_requests, pool.limit_requests) == (
        "requests", "monthly", 713.0, 750.0)
    assert pool.remaining_fraction == pytest.approx(713 / 750)
    assert pool.reset_time is None  # not given; not guessed from startOfMonth


def test_refresh_reply_is_no_usage() -> None:
    # What the token endpoint says of a dead session: never a pool (and never asked:
    # the exporter does not refresh Cursor tokens).
    assert parse_period_usage(body("cursor.oauth-refresh-should-logout.json")).pools == ()


def test_peer_team_on_demand_numbers_become_the_pooled_spend_limit() -> None:
    got = pools(parse_usage_summary(peer("cursor.summary-team-on-demand.json")))
    assert set(got) == {"included", "spend-limit-pooled"}
    assert (got["spend-limit-pooled"].remaining_credits,
            got["spend-limit-pooled"].limit_credits) == (330.45, 350.0)
    assert got["included"].remaining_fraction == pytest.approx(0.794)


def test_peer_breakdown_total_is_used_not_the_limit() -> None:
    got = pools(parse_usage_summary(peer("cursor.summary-plan-breakdown.json")))
    # used 3035 of limit 40000 (breakdown.total is what was used): $369.65 left.
    assert (got["included"].remaining_credits, got["included"].limit_credits) == (369.65, 400.0)
    assert got["included"].remaining_fraction == pytest.approx(1 - 3035 / 40000)
    assert (got["spend-limit"].remaining_credits, got["spend-limit"].limit_credits) == (20.0,
                                                                                        20.0)


def test_peer_total_percent_only_fills_included_and_a_limitless_spend_cap_is_none() -> None:
    got = pools(parse_period_usage(peer("cursor.period-usage-total-only.json")))
    assert list(got) == ["included"]
    assert got["included"].remaining_fraction == pytest.approx(0.575)
    assert (got["included"].remaining_credits, got["included"].limit_credits) == (11.5, 20.0)


def test_exhausted_bar_is_zero_and_over_100_percent_is_clamped() -> None:
    got = pools(parse_period_usage({"planUsage": {"autoPercentUsed": "100",
                                                  "apiPercentUsed": 112.5,
                                                  "remaining": 0, "limit": 2000}}))
    assert got["auto"].remaining_fraction == 0.0 and got["api"].remaining_fraction == 0.0
    assert got["included"].remaining_credits == 0.0  # a zero is never hidden
    assert got["auto"].reset_time is None


def test_omitted_percents_are_unknown_not_zero() -> None:
    got = pools(parse_period_usage({"billingCycleEnd": "1771077734000",
                                    "planUsage": {"apiPercentUsed": 10}}))
    assert set(got) == {"api"}


def test_a_malformed_part_is_skipped_and_counted_the_rest_kept() -> None:
    reply = parse_period_usage({"planUsage": {"autoPercentUsed": 10, "apiPercentUsed": "x"},
                                "spendLimitUsage": {"individualLimit": 500,
                                                    "individualRemaining": 100}})
    assert reply.skipped == 1
    assert [p.pool for p in reply.pools] == ["spend-limit"]
    assert reply.pools[0].remaining_fraction == pytest.approx(0.2)


def test_extra_keys_and_numeric_strings_are_fine() -> None:
    got = pools(parse_period_usage({"planUsage": {"autoPercentUsed": "25", "new": {"x": 1},
                                                  "remaining": "500", "limit": "2000"},
                                    "somethingNew": [1, 2]}))
    assert got["auto"].remaining_fraction == 0.75
    assert got["included"].remaining_credits == 5.0


@pytest.mark.parametrize("doc", [[], "x", None, {"planUsage": [1]}])
def test_a_reply_of_the_wrong_shape_names_what_is_wrong(doc: Any) -> None:
    with pytest.raises(ParseError):
        parse_period_usage(doc)
