"""MiniMax's body parser (coding_plan/remains, token_plan/remains): the example bodies,
the shapes other public tools have seen (tests/fixtures/upstream/peers) and odd shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exporter.providers.minimax.credentials import minimax_keys, parse_minimax
from exporter.providers.minimax.parse import AccountError, parse_remains
from exporter.providers.parsing import ParseError
from exporter.snapshot import FetchError, PoolQuota
from tests.unit.test_antigravity_parse import body, peer

NOW = 1774600000.0


def windows(doc: Any, counts_left: bool = True) -> dict[tuple[str, str], PoolQuota]:
    return {(p.pool, p.window): p for p in parse_remains(doc, NOW, counts_left).pools}


def test_count_reply_reads_usage_count_as_what_is_left() -> None:
    reply = parse_remains(body("minimax.coding-plan-counts.json"), NOW)
    assert (reply.tier, reply.tier_name, reply.skipped) == ("unknown", "", 0)
    found = windows(body("minimax.coding-plan-counts.json"))
    assert list(found) == [("minimax-m", "5h"), ("minimax-m", "weekly")]
    interval, weekly = found.values()
    # 1500 of 1500 "used" is all of it left: the field is named usage but means remaining.
    assert (interval.remaining_fraction, interval.remaining_requests, interval.limit_requests) == (
        1.0, 1500.0, 1500.0)
    assert interval.reset_time == 1774604131.794  # end_time, epoch ms
    assert interval.pool_name == "MiniMax-M*"  # the older replies' `model` key
    assert (weekly.remaining_fraction, weekly.remaining_requests, weekly.limit_requests) == (
        1.0, 15000.0, 15000.0)
    assert weekly.reset_time == 1775136534.203


def test_status_2_is_exhausted_and_status_3_is_not_a_quota() -> None:
    found = windows(body("minimax.percent-interval-exhausted.json"))
    assert list(found) == [("general", "5h"), ("general", "weekly")]  # no video: status 3
    interval, weekly = found.values()
    assert interval.remaining_fraction == 0.0 and not interval.omitted
    # No end_time: the reset is now + remains_time (ms).
    assert interval.reset_time == pytest.approx(NOW + 2711.991)
    assert weekly.remaining_fraction == 0.61
    assert weekly.reset_time == pytest.approx(NOW + 103511.991)
    # Percent replies carry counts of 0 as placeholders: no request counts from them.
    assert (interval.remaining_requests, interval.limit_requests) == (None, None)


def test_the_interval_is_named_from_its_length() -> None:
    found = windows(body("minimax.token-plan-weekly-boost.json"))
    # start_time..end_time spans 4 hours in this reply: a 4h window, not a guessed 5h.
    assert list(found) == [("general", "4h"), ("general", "weekly")]
    interval, weekly = found.values()
    assert (interval.remaining_fraction, interval.reset_time) == (1.0, 1782057600.0)
    # The boosted weekly allowance: the percent already counts it.
    assert (weekly.remaining_fraction, weekly.reset_time) == (0.7, 1782057600.0)


def test_data_wrapper_string_percents_and_the_plan_title() -> None:
    reply = parse_remains(body("minimax.data-wrapped-string-percent.json"), NOW)
    assert (reply.tier, reply.tier_name) == ("token-plan-plus", "Token Plan Plus")
    found = {(p.pool, p.window): p for p in reply.pools}
    assert found["general", "5h"].remaining_fraction == 0.96
    assert found["general", "5h"].reset_time == 1780297200.0
    assert found["general", "weekly"].remaining_fraction == 0.99
    assert found["general", "weekly"].reset_time == 1780848000.0


def test_base_resp_error_in_a_200_is_an_account_error_with_the_upstreams_words() -> None:
    with pytest.raises(AccountError) as exc:
        parse_remains(body("minimax.error-1004.json"), NOW)
    assert (exc.value.code, exc.value.message) == (1004, "cookie is missing, log in again")
    with pytest.raises(AccountError) as bad_key:
        parse_remains(peer("minimax.error-2049-invalid-key.json"), NOW)
    assert (bad_key.value.code, bad_key.value.message) == (2049, "invalid api key")
    with pytest.raises(AccountError) as login:
        parse_remains(peer("minimax.error-1004-login-fail.json"), NOW)
    assert login.value.message.startswith("login fail: Please carry the API secret key")


def test_peer_count_shape_keyed_model_name_with_a_plan_name() -> None:
    reply = parse_remains(peer("minimax.counts-model-name.json"), NOW)
    assert (reply.tier, reply.tier_name) == ("plus", "Plus")
    (interval,) = reply.pools
    assert (interval.pool, interval.window) == ("minimax-m2", "5h")
    assert (interval.remaining_fraction, interval.remaining_requests,
            interval.limit_requests) == (0.6, 180.0, 300.0)
    assert interval.reset_time == 1700018000.0


def test_peer_percent_reply_without_times_or_status() -> None:
    found = windows(peer("minimax.percent-no-times.json"))
    assert {k: (p.remaining_fraction, p.reset_time) for k, p in found.items()} == {
        ("general", "5h"): (0.92, None), ("general", "weekly"): (0.98, None)}


def test_peer_plan_without_a_weekly_limit_has_no_weekly_window() -> None:
    found = windows(peer("minimax.interval-only-percent.json"))
    assert list(found) == [("general", "5h")]  # weekly counts 0 and no percent: not a zero
    assert found["general", "5h"].remaining_fraction == 0.37
    assert found["general", "5h"].reset_time == 1782061200.0


def test_china_count_replies_export_only_the_window_size() -> None:
    # On token_plan/remains (China) peers disagree whether usage_count is left or used.
    found = windows(body("minimax.coding-plan-counts.json"), counts_left=False)
    interval = found["minimax-m", "5h"]
    assert interval.remaining_fraction is None and not interval.omitted
    assert (interval.remaining_requests, interval.limit_requests) == (None, 1500.0)
    # A percent is percent left on either platform.
    assert windows(body("minimax.percent-interval-exhausted.json"), counts_left=False)[
        "general", "weekly"].remaining_fraction == 0.61


def entry(**fields: Any) -> dict[str, Any]:
    return {"base_resp": {"status_code": 0}, "model_remains": [
        {"model_name": "general", **fields}]}


def test_odd_entries() -> None:
    # Remaining above the window's size is clamped; a percent above 100 too.
    over = windows(entry(current_interval_total_count=100, current_interval_usage_count=130,
                         current_weekly_remaining_percent=104))
    assert (over["general", "5h"].remaining_fraction, over["general", "5h"].remaining_requests) \
        == (1.0, 100.0)
    assert over["general", "weekly"].remaining_fraction == 1.0
    # Status 2 with counts: 0 left of the window, whatever the count says.
    done = windows(entry(current_interval_status=2, current_interval_total_count=100,
                         current_interval_usage_count=40))["general", "5h"]
    assert (done.remaining_fraction, done.remaining_requests, done.limit_requests) == (
        0.0, 0.0, 100.0)
    # Status 2 with no number at all is still exhausted, never unknown.
    assert windows(entry(current_weekly_status=2))["general", "weekly"].remaining_fraction == 0.0
    # An explicit 0 % is a zero, not an absence.
    assert windows(entry(current_interval_remaining_percent=0))[
        "general", "5h"].remaining_fraction == 0.0
    # Nothing but counts of 0: nothing to say.
    assert windows(entry(current_interval_total_count=0, current_interval_usage_count=0)) == {}
    # A 90-minute interval is named by its seconds.
    odd = windows(entry(current_interval_remaining_percent=50, start_time=0,
                        end_time=5_400_000))
    assert list(odd) == [("general", "5400s")]


def test_a_malformed_entry_is_skipped_and_counted_the_rest_kept() -> None:
    doc = {"base_resp": {"status_code": 0}, "model_remains": [
        "junk", {"current_interval_remaining_percent": 5},
        {"model_name": "general", "current_interval_remaining_percent": "lots"},
        {"model_name": "general", "current_weekly_remaining_percent": -3},
        {"model_name": "MiniMax-M2.7", "current_interval_remaining_percent": 40},
        {"model_name": "MiniMax M2 7", "current_interval_remaining_percent": 90}]}
    reply = parse_remains(doc, NOW)
    assert reply.skipped == 5  # the last one has the same slug as the one before it
    assert [(p.pool, p.window, p.remaining_fraction) for p in reply.pools] == [
        ("minimax-m2-7", "5h", 0.4)]


@pytest.mark.parametrize("doc, field", [
    ([], "remains"), ({"base_resp": {"status_code": 0}}, "model_remains"),
    ({"model_remains": {"general": 7}}, "model_remains"),
    ({"base_resp": "ok", "model_remains": []}, "base_resp"),
])
def test_a_reply_of_the_wrong_shape_names_the_field(doc: Any, field: str) -> None:
    with pytest.raises(ParseError, match=field):
        parse_remains(doc, NOW)


# -- credentials ---------------------------------------------------------------------------


def test_keys_from_claude_code_settings_and_opencode() -> None:
    settings = ('{"env": {"ANTHROPIC_BASE_URL": "https://api.minimaxi.com/anthropic", '
                '"ANTHROPIC_AUTH_TOKEN": "sk-cn-SECRET"}}')
    assert parse_minimax(settings, Path("settings.json")).access_token == "sk-cn-SECRET"
    zai = '{"env": {"ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic", ' \
          '"ANTHROPIC_AUTH_TOKEN": "k"}}'
    assert minimax_keys(zai, Path("settings.json")) == []
    assert parse_minimax(zai, Path("settings.json")).access_token is None
    auth = '{"minimax-coding-plan": {"type": "api", "key": "sk-cp-SECRET"}, "minimax": ' \
           '{"type": "api", "key": "pay-as-you-go"}}'
    (found,) = minimax_keys(auth, Path("auth.json"))
    assert (found.tool, found.access_token) == ("opencode", "sk-cp-SECRET")
    with pytest.raises(FetchError) as exc:
        minimax_keys("{not json", Path("auth.json"))
    assert "SECRET" not in exc.value.message
