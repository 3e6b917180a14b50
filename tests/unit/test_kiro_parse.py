"""Kiro's `GetUsageLimits` parser: the example bodies, the shapes other public tools
have seen (tests/fixtures/upstream/peers) and odd shapes."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.providers.kiro.client import decode_error, explain_error
from exporter.providers.kiro.parse import parse_usage
from exporter.providers.parsing import ParseError
from exporter.snapshot import Credit, FetchError, Reason
from exporter.timefmt import parse_rfc3339
from exporter.upstream.client import UpstreamError
from tests.unit.test_antigravity_parse import body, peer

SEPT_2026 = parse_rfc3339("2026-09-01T00:00:00Z")
DEC_2026 = parse_rfc3339("2026-12-01T00:00:00Z")


def entry(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "CREDIT", "usageLimitWithPrecision": 1000.0,
            "currentUsageWithPrecision": 250.0, **fields}


def test_power_plan_in_overage_is_spent_but_served_with_its_overage_headroom() -> None:
    reply = parse_usage(body("kiro.power-overage.json"))
    (pool,) = reply.pools
    assert (pool.pool, pool.pool_name, pool.window) == ("credit", "Credit", "monthly")
    # 13603.49 used in all, 3603.49 of it overage: the plan's own 10000 are spent.
    assert (pool.remaining_fraction, pool.remaining_credits, pool.limit_credits) == (
        0.0, 0.0, 10000.0)
    assert pool.reset_time == SEPT_2026
    assert pool.overage and not pool.unlimited and not pool.omitted
    assert reply.credits == (Credit("kiro_overage", pytest.approx(10000.0 - 3603.49)),)
    assert (reply.tier, reply.tier_name, reply.skipped) == (
        "Q_DEVELOPER_STANDALONE_POWER", "KIRO POWER", 0)


@pytest.mark.parametrize("name", ["kiro.error-403-bearer-invalid.json",
                                  "kiro.error-403-not-authorized.json"])
def test_error_bodies_are_read_for_their_message(name: str) -> None:
    info = decode_error(body(name))
    assert info.message.endswith(".") and len(info.message) > 20
    # The same body in a 200 is an account error with Kiro's words, never quota.
    with pytest.raises(FetchError) as caught:
        parse_usage(body(name))
    assert caught.value.reason is Reason.UPSTREAM
    assert info.message in caught.value.message


def test_older_agentic_request_shape_with_an_iso_reset() -> None:
    reply = parse_usage(peer("kiro.agentic-free-trial.json"))
    (pool,) = reply.pools
    assert (pool.pool, pool.pool_name, pool.window) == (
        "agentic-request", "AGENTIC_REQUEST", "monthly")
    assert (pool.remaining_fraction, pool.remaining_credits, pool.limit_credits) == (
        0.88, 880.0, 1000.0)
    assert pool.reset_time == DEC_2026 and not pool.overage
    # The trial's own credits are not exported (see the provider guide).
    assert reply.credits == () and (reply.tier, reply.tier_name) == (None, "Kiro Pro")


def test_bonuses_leave_what_is_left_unknown_never_exhausted() -> None:
    reply = parse_usage(peer("kiro.two-resources-bonuses.json"))
    completion, agentic = reply.pools
    assert (completion.pool, completion.limit_credits, completion.remaining_credits) == (
        "code-completion", 999.0, 998.0)
    assert completion.remaining_fraction == pytest.approx(998 / 999)
    assert completion.reset_time == 1796083200.0
    # 14 used of 10 with bonuses: the bonus spend is folded in, so the plan's own
    # use is not known; the limit is kept, no fraction and no remaining credits.
    assert (agentic.pool, agentic.limit_credits) == ("agentic-request", 10.0)
    assert agentic.remaining_fraction is None and agentic.remaining_credits is None
    assert not agentic.omitted and not agentic.overage


def test_an_empty_breakdown_is_a_reply_without_pools() -> None:
    reply = parse_usage(peer("kiro.empty-breakdown.json"))
    assert (reply.pools, reply.credits, reply.skipped) == ((), (), 0)
    assert (reply.tier, reply.tier_name) == ("Q_DEVELOPER_STANDALONE_FREE", "KIRO FREE")


def test_free_plan_spent_is_exhausted_and_strings_are_numbers() -> None:
    reply = parse_usage(peer("kiro.free-credits-strings.json"))
    (pool,) = reply.pools
    assert (pool.remaining_fraction, pool.remaining_credits, pool.limit_credits) == (
        0.0, 0.0, 50.0)
    assert not pool.overage  # overage DISABLED: requests fail, exhausted
    assert reply.credits == ()
    assert "example.invalid" not in repr(reply)


def test_invalid_profile_error_body() -> None:
    assert decode_error(peer("kiro.error-400-invalid-profile.json")).message == (
        "Invalid profileArn.")


def test_a_malformed_entry_is_skipped_and_counted() -> None:
    reply = parse_usage({"usageBreakdownList": [
        entry(), "not an object", {"resourceType": "CREDIT"}, entry(resourceType=7),
        entry(currentUsageWithPrecision=-1), entry(resourceType="CREDIT")]})
    assert [p.pool for p in reply.pools] == ["credit"] and reply.skipped == 5
    assert reply.pools[0].remaining_fraction == 0.75


def test_integer_twins_serve_when_the_precise_ones_are_missing() -> None:
    reply = parse_usage({"usageBreakdownList": [
        {"resourceType": "CREDIT", "usageLimit": 50, "currentUsage": 10, "extra": {"x": 1}}]})
    assert reply.pools[0].remaining_fraction == 0.8


def test_a_zero_usage_is_full_and_a_zero_limit_has_no_fraction() -> None:
    full = parse_usage({"usageBreakdownList": [entry(currentUsageWithPrecision=0)]})
    assert full.pools[0].remaining_fraction == 1.0
    zero = parse_usage({"usageBreakdownList": [entry(usageLimitWithPrecision=0)]})
    assert zero.pools[0].remaining_fraction is None
    assert (zero.pools[0].remaining_credits, zero.pools[0].limit_credits) == (0.0, 0.0)


def test_reset_in_milliseconds_or_nonsense_is_left_out() -> None:
    ms = parse_usage({"nextDateReset": 1788220800000,
                      "usageBreakdownList": [entry(nextDateReset=1788220800000)]})
    assert ms.pools[0].reset_time is None
    top = parse_usage({"nextDateReset": 1.7882208e9, "usageBreakdownList": [entry()]})
    assert top.pools[0].reset_time == SEPT_2026


@pytest.mark.parametrize(("status", "credit"), [
    ("ENABLED", True), ("DISABLED", False), ("SOMETHING_NEW", True), (None, True)])
def test_overage_credits_only_where_a_cap_exists_and_overage_is_not_off(
        status: str | None, credit: bool) -> None:
    doc: dict[str, Any] = {"usageBreakdownList": [
        entry(overageCapWithPrecision=100.0, currentOveragesWithPrecision=40.0,
              currentUsageWithPrecision=1040.0)]}
    if status:
        doc["overageConfiguration"] = {"overageStatus": status}
    reply = parse_usage(doc)
    assert reply.credits == ((Credit("kiro_overage", 60.0),) if credit else ())
    # Only an explicit ENABLED says the spent plan keeps serving.
    assert reply.pools[0].overage is (status == "ENABLED")
    no_cap = parse_usage({"overageConfiguration": {"overageStatus": "ENABLED"},
                          "usageBreakdownList": [entry()]})
    assert no_cap.credits == ()


def test_overage_at_its_cap_is_exhausted_not_overage() -> None:
    reply = parse_usage({"overageConfiguration": {"overageStatus": "ENABLED"},
                         "usageBreakdownList": [entry(
                             overageCapWithPrecision=100.0, currentOveragesWithPrecision=100.0,
                             currentUsageWithPrecision=1100.0)]})
    assert not reply.pools[0].overage and reply.pools[0].remaining_fraction == 0.0
    assert reply.credits == (Credit("kiro_overage", 0.0),)


@pytest.mark.parametrize(("doc", "field"), [
    ([], "reply"), ({}, "usageBreakdownList"), ({"usageBreakdownList": {}}, "usageBreakdownList"),
])
def test_a_reply_of_the_wrong_shape_names_the_field(doc: Any, field: str) -> None:
    with pytest.raises(ParseError, match=field):
        parse_usage(doc)


@pytest.mark.parametrize(("status", "name", "has_arn", "reason", "says"), [
    (403, "kiro.error-403-bearer-invalid.json", True, Reason.AUTH, "open Kiro"),
    (403, "kiro.error-403-not-authorized.json", False, Reason.FORBIDDEN, "need their profile ARN"),
    (403, "kiro.error-403-not-authorized.json", True, Reason.FORBIDDEN, "another region's host"),
    (400, "peers/kiro.error-400-invalid-profile.json", True, Reason.FORBIDDEN, "sign in again"),
])
def test_kiro_errors_say_what_to_do(status: int, name: str, has_arn: bool, reason: Reason,
                                    says: str) -> None:
    info = decode_error(body(name))
    exc = UpstreamError(Reason.FORBIDDEN, f"usage: answered {status}", http_status=status,
                        info=info)
    explained = explain_error(exc, has_arn)
    assert explained.reason is reason
    assert info.message in explained.message and says in explained.message
