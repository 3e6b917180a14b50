"""Kimi Code's body parser (`/coding/v1/usages`): the example bodies, the shapes other
public tools have seen (tests/fixtures/upstream/peers) and odd shapes."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.providers.kimi.parse import UpstreamMessage, parse_usages
from exporter.providers.parsing import ParseError
from exporter.snapshot import PoolQuota
from exporter.timefmt import parse_rfc3339
from tests.unit.test_antigravity_parse import body, peer


def windows(doc: Any) -> dict[str, PoolQuota]:
    reply = parse_usages(doc)
    assert {p.pool for p in reply.pools} == {"kimi"}
    return {p.window: p for p in reply.pools}


def test_january_reply_gives_weekly_and_five_hour_fractions_of_request_counts() -> None:
    reply = parse_usages(body("kimi.usages-code-api-2026-01.json"))
    assert (reply.tier, reply.tier_name, reply.skipped) == ("", "", 0)
    weekly, five = reply.pools
    assert (weekly.window, weekly.remaining_fraction) == ("weekly", 1834 / 2048)
    assert weekly.reset_time == pytest.approx(parse_rfc3339("2026-01-09T15:23:13.716839Z"))
    assert (five.window, five.remaining_fraction) == ("5h", 61 / 200)
    assert five.reset_time == pytest.approx(parse_rfc3339("2026-01-06T13:33:02.717479Z"))
    # Counts are not exported: their unit changed since (see docs/provider-guides.md).
    for pool in reply.pools:
        assert (pool.remaining_requests, pool.limit_requests) == (None, None)
        assert (pool.remaining_credits, pool.limit_credits) == (None, None)
        assert pool.pool_name == "Kimi Code" and not pool.omitted


def test_api_key_reply_without_used_reads_remaining_and_the_membership() -> None:
    reply = parse_usages(body("kimi.usages-apikey-no-used.json"))
    assert (reply.tier, reply.tier_name) == ("advanced", "Allegro")
    got = {p.window: p for p in reply.pools}
    assert got["weekly"].remaining_fraction == 1.0
    assert got["weekly"].reset_time == parse_rfc3339("2026-09-21T03:17:42Z")
    assert got["5h"].remaining_fraction == 0.99
    assert got["5h"].reset_time == parse_rfc3339("2026-09-14T10:17:42Z")


def test_total_quota_is_not_read_and_a_window_without_used_is_remaining_over_limit() -> None:
    reply = parse_usages(body("kimi.usages-totalquota.json"))
    assert (reply.tier, reply.tier_name) == ("intermediate", "Allegretto")
    got = {p.window: p for p in reply.pools}
    assert set(got) == {"weekly", "5h"}
    assert (got["weekly"].remaining_fraction, got["5h"].remaining_fraction) == (0.34, 1.0)
    assert got["5h"].reset_time == parse_rfc3339("2026-07-14T16:13:41Z")


def test_error_body_in_a_200_is_the_upstreams_message_never_data() -> None:
    with pytest.raises(UpstreamMessage) as caught:
        parse_usages(body("kimi.error-401.json"))
    assert caught.value.message == "Invalid Authentication"
    assert caught.value.kind == "invalid_authentication_error"


def test_peer_trial_membership_is_its_own_tier() -> None:
    reply = parse_usages(peer("kimi.trial-cn.json"))
    assert (reply.tier, reply.tier_name) == ("trial", "")
    got = {p.window: p.remaining_fraction for p in reply.pools}
    assert got == {"weekly": 0.87, "5h": 0.35}


def test_peer_numbers_instead_of_strings_and_a_used_up_window_is_zero() -> None:
    got = windows(peer("kimi.numeric.json"))
    assert got["weekly"].remaining_fraction == 2000 / 2048
    assert got["5h"].remaining_fraction == 0.0 and not got["5h"].omitted


def test_used_alone_gives_what_is_left() -> None:
    got = windows({"usage": {"limit": "100", "used": "66", "resetTime": "2026-07-15T07:13:41Z"}})
    assert got["weekly"].remaining_fraction == 0.34


@pytest.mark.parametrize("detail", [
    {"remaining": "5"},  # no limit
    {"limit": "0", "remaining": "0"},  # a zero limit says nothing of what is left
    {"limit": "100"},  # neither remaining nor used
])
def test_a_window_that_does_not_say_is_unknown_never_exhausted(detail: dict[str, str]) -> None:
    pool = windows({"usage": detail})["weekly"]
    assert pool.remaining_fraction is None and pool.omitted


def test_other_window_lengths_are_named_by_their_raw_length() -> None:
    doc = {"usage": {"limit": "10", "remaining": "5"}, "limits": [
        {"window": {"duration": 60, "timeUnit": "TIME_UNIT_MINUTE"}, "detail": {
            "limit": "10", "remaining": "1"}},
        {"window": {"duration": "5", "timeUnit": "TIME_UNIT_HOUR"}, "detail": {
            "limit": "10", "remaining": "2"}},
        {"window": {"duration": 1, "timeUnit": "TIME_UNIT_DAY"}, "detail": {
            "limit": "10", "remaining": "3"}},
        {"window": {"duration": 2, "timeUnit": "TIME_UNIT_EON"}, "detail": {
            "limit": "10", "remaining": "4"}}]}
    got = {p.window: p.remaining_fraction for p in parse_usages(doc).pools}
    assert got == {"weekly": 0.5, "60m": 0.1, "5h": 0.2, "1d": 0.3, "2-time-unit-eon": 0.4}


def test_one_malformed_limit_is_skipped_and_counted_the_rest_kept() -> None:
    doc = body("kimi.usages-code-api-2026-01.json")
    doc["limits"] += [
        "not an object",
        {"window": {"timeUnit": "TIME_UNIT_MINUTE"}, "detail": {"limit": "1"}},
        {"window": {"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"},
         "detail": {"limit": "lots", "remaining": "1"}},
        {"window": {"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"},
         "detail": {"limit": "10", "remaining": "-1"}},
        # a second window of one length: the first stands
        {"window": {"duration": 5, "timeUnit": "TIME_UNIT_HOUR"},
         "detail": {"limit": "10", "remaining": "10"}},
    ]
    doc["extra"] = {"new": "key"}
    reply = parse_usages(doc)
    assert reply.skipped == 5
    assert {p.window: p.remaining_fraction for p in reply.pools} == {
        "weekly": 1834 / 2048, "5h": 61 / 200}


@pytest.mark.parametrize(("doc", "field"), [
    ([], "reply"),
    ({"user": {}}, "usage"),
    ({"usage": "plenty"}, "usage"),
    ({"usage": {"limit": "100", "remaining": "x"}}, "usage.remaining"),
    ({"usage": {"limit": "100", "resetTime": "soon"}}, "usage.resetTime"),
    ({"usage": {}, "limits": {"window": 300}}, "limits"),
])
def test_a_reply_of_another_shape_names_the_field(doc: Any, field: str) -> None:
    with pytest.raises(ParseError, match=field.replace(".", r"\.")):
        parse_usages(doc)


def test_over_the_limit_is_clamped() -> None:
    over = windows({"usage": {"limit": "100", "remaining": "120"}})["weekly"]
    used_up = windows({"usage": {"limit": "100", "used": "130"}})["weekly"]
    assert (over.remaining_fraction, used_up.remaining_fraction) == (1.0, 0.0)
