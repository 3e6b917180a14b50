"""z.ai's quota/limit parser: every example body, the shapes other public tools have
seen (tests/fixtures/upstream/peers) and odd shapes; the envelope's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.providers.parsing import ParseError
from exporter.providers.zai.client import refused
from exporter.providers.zai.parse import QuotaReply, Refusal, parse_quota
from exporter.snapshot import PoolQuota, Reason
from exporter.timefmt import parse_rfc3339
from tests.unit.test_antigravity_parse import body, peer


def reply_of(doc: Any) -> QuotaReply:
    reply = parse_quota(doc)
    assert isinstance(reply, QuotaReply), reply
    return reply


def windows(doc: Any) -> dict[tuple[str, str], PoolQuota]:
    return {(p.pool, p.window): p for p in reply_of(doc).pools}


def test_pro_tokens_limit_gives_percent_windows_and_monthly_tool_calls() -> None:
    reply = reply_of(body("zai.pro-tokens-limit.json"))
    assert (reply.tier, reply.tier_name, reply.skipped) == ("pro", "GLM Coding Pro", 0)
    assert [(p.pool, p.window) for p in reply.pools] == [
        ("glm", "5h"), ("glm", "weekly"), ("mcp", "monthly")]
    five, week, mcp = reply.pools
    assert (five.remaining_fraction, five.reset_time) == (0.83, 1782724971.179)
    assert (week.remaining_fraction, week.reset_time) == (0.97, 1783305486.997)
    # Percentages only: no counts invented for the GLM windows.
    assert (five.remaining_credits, five.limit_credits, five.remaining_requests) == (
        None, None, None)
    assert (mcp.remaining_fraction, mcp.remaining_requests, mcp.limit_requests) == (
        1.0, 1000.0, 1000.0)
    assert mcp.reset_time == 1785292686.976 and mcp.remaining_credits is None


def test_lite_credit_limit_counts_credits_and_takes_the_lower_of_remaining_and_used() -> None:
    found = windows(body("zai.lite-credit-limit.json"))
    assert reply_of(body("zai.lite-credit-limit.json")).tier_name == "GLM Coding Lite"
    five, week = found["glm", "5h"], found["glm", "weekly"]
    # 402 used + 1597 left of 2000: the lower count left, never the rounded 20 %.
    assert (five.remaining_credits, five.limit_credits) == (1597.0, 2000.0)
    assert five.remaining_fraction == pytest.approx(0.7985)
    assert five.reset_time == 1788351145.586
    assert (week.remaining_credits, week.limit_credits) == (4792.0, 10000.0)
    assert week.remaining_fraction == pytest.approx(0.4792)
    assert set(found) == {("glm", "5h"), ("glm", "weekly")}  # no tool-call limit on Lite


def test_idle_five_hour_window_has_no_reset_and_a_nearly_empty_week_is_not_hidden() -> None:
    found = windows(body("zai.lite-credit-limit-no-reset.json"))
    five, week = found["glm", "5h"], found["glm", "weekly"]
    assert (five.remaining_fraction, five.reset_time) == (1.0, None)  # none fabricated
    assert (five.remaining_credits, five.limit_credits) == (2000.0, 2000.0)
    assert week.remaining_fraction == pytest.approx(0.0145)  # not the rounded 2 %
    assert (week.remaining_credits, week.reset_time) == (145.0, 1786685679.998)


def test_legacy_token_count_past_its_limit_is_exhausted_and_tokens_are_no_credits() -> None:
    reply = reply_of(body("zai.legacy-token-count.json"))
    assert reply.tier == "unknown" and reply.tier_name == ""
    found = {(p.pool, p.window): p for p in reply.pools}
    five = found["glm", "5h"]
    assert (five.remaining_fraction, five.reset_time) == (0.0, 1770398385.482)
    assert (five.remaining_credits, five.limit_credits) == (None, None)  # tokens, not credits
    mcp = found["mcp", "monthly"]
    assert (mcp.remaining_requests, mcp.limit_requests) == (981.0, 1000.0)
    assert mcp.remaining_fraction == pytest.approx(0.981) and mcp.reset_time is None


@pytest.mark.parametrize(("name", "code", "message", "reason", "says"), [
    ("zai.no-coding-plan.json", 500, "当前用户不存在coding plan", Reason.FORBIDDEN,
     "no GLM Coding Plan"),
    ("zai.unauthorized-http200.json", 401, "Unauthorized", Reason.AUTH,
     "z.ai refused the API key (code 401, 'Unauthorized')"),
])
def test_success_false_inside_http_200_is_an_account_error_with_zais_words(
        name: str, code: int, message: str, reason: Reason, says: str) -> None:
    refusal = parse_quota(body(name))
    assert refusal == Refusal(code, message)
    error = refused(refusal)
    assert error.reason is reason and says in error.message
    assert message in error.message
    assert "https://open.bigmodel.cn" in error.message  # what to do about the region


def test_peer_bigmodel_lite_counts_its_hundred_tool_calls() -> None:
    reply = reply_of(peer("zai.bigmodel-lite-mcp-100.json"))
    found = {(p.pool, p.window): p for p in reply.pools}
    assert reply.tier == "lite"
    assert found["glm", "5h"].remaining_fraction == 0.96
    mcp = found["mcp", "monthly"]
    assert (mcp.remaining_requests, mcp.limit_requests, mcp.remaining_fraction) == (
        69.0, 100.0, 0.69)


def test_peer_time_limit_without_number_is_named_by_its_raw_unit() -> None:
    found = windows(peer("zai.time-limit-without-number.json"))
    assert set(found) == {("glm", "5h"), ("glm", "weekly"), ("mcp", "unit5")}
    assert found["glm", "weekly"].remaining_fraction == pytest.approx(0.59)
    assert found["mcp", "unit5"].remaining_requests == 93.0


def test_peer_pro_credit_limit_used_up_week_is_at_zero() -> None:
    found = windows(peer("zai.pro-credit-limit.json"))
    week = found["glm", "weekly"]
    assert (week.remaining_fraction, week.remaining_credits, week.limit_credits) == (
        0.0, 0.0, 30000.0)
    assert found["glm", "5h"].remaining_credits == 4500.0
    assert found["mcp", "monthly"].remaining_requests == 988.0


def test_peer_unit_codes_nobody_decodes_keep_their_raw_names_and_iso_resets() -> None:
    reply = reply_of(peer("zai.odd-units-iso-reset.json"))
    assert reply.tier == "unknown"  # planName is not a level
    found = {(p.pool, p.window): p for p in reply.pools}
    assert set(found) == {("glm", "6h"), ("glm", "unit5x15"), ("mcp", "unit1x30")}
    assert found["glm", "6h"].reset_time == parse_rfc3339("2026-01-08T00:00:00Z")
    assert found["mcp", "unit1x30"].remaining_fraction == pytest.approx(0.875)


def test_peer_other_refusal_is_an_upstream_error_quoting_the_message() -> None:
    refusal = parse_quota(peer("zai.endpoint-disabled.json"))
    assert isinstance(refusal, Refusal) and not refusal.no_coding_plan
    error = refused(refusal)
    assert error.reason is Reason.UPSTREAM
    assert error.message == "z.ai answered success: false (code 500, 'quota endpoint disabled')"


def test_one_malformed_limit_is_skipped_and_counted_the_rest_kept() -> None:
    doc = {"success": True, "data": {"level": "max", "limits": [
        "nonsense", {"type": "CREDIT_LIMIT", "unit": 3, "number": 5},
        {"type": "TOKENS_LIMIT", "unit": "x", "number": 1, "percentage": 3},
        {"unit": 3, "number": 5, "percentage": 3},
        {"type": "TOKENS_LIMIT", "unit": "6", "number": "1", "percentage": "25"}]}}
    reply = reply_of(doc)
    assert reply.skipped == 4 and reply.tier_name == "GLM Coding Max"
    assert [(p.pool, p.window, p.remaining_fraction) for p in reply.pools] == [
        ("glm", "weekly", 0.75)]


def test_two_entries_for_one_window_keep_the_one_with_less_left() -> None:
    doc = {"success": True, "data": {"limits": [
        {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": 10},
        {"type": "CREDIT_LIMIT", "unit": 3, "number": 5, "percentage": 100}]}}
    assert [(p.window, p.remaining_fraction) for p in reply_of(doc).pools] == [("5h", 0.0)]


def test_an_unseen_limit_type_is_kept_under_its_own_name_not_dropped() -> None:
    doc = {"success": True, "data": {"limits": [
        {"type": "IMAGE_LIMIT", "unit": 6, "number": 1, "percentage": 40}]}}
    (pool,) = reply_of(doc).pools
    assert (pool.pool, pool.window, pool.remaining_fraction) == ("image", "weekly", 0.6)


def test_team_scope_without_selectors_is_a_reply_without_windows() -> None:
    reply = reply_of({"code": 200, "success": True, "data": {}})
    assert reply.pools == () and reply.tier == "unknown"


@pytest.mark.parametrize(("doc", "field"), [
    ([], "quota/limit"),
    ({"success": True, "data": None}, "data"),
    ({"success": True, "data": {"limits": {"type": "TOKENS_LIMIT"}}}, "data.limits"),
    ({"success": True, "data": {"level": 7, "limits": []}}, "data.level"),
])
def test_a_reply_of_the_wrong_shape_names_the_field(doc: Any, field: str) -> None:
    with pytest.raises(ParseError, match=field.replace(".", r"\.")):
        parse_quota(doc)
