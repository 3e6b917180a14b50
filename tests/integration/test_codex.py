"""Codex: the usage reply parser on every known shape (windows named by their length
whatever their order), and the provider against the simulated upstream
(ChatGPT-Account-Id, plan, an expired JWT never sent, a 401 not retried, the CLI's
renewal picked up)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.providers import make_provider, parse_config
from exporter.providers.codex.client import PLAN_NAMES, decode_error
from exporter.providers.codex.credentials import from_token
from exporter.providers.codex.parse import parse_usage, window_name
from exporter.providers.codex.simulated import account_id, jwt, weekly_first
from exporter.providers.parsing import ParseError
from exporter.simulator import SimAccount, Simulator
from exporter.snapshot import FetchError, PoolQuota, Reason
from exporter.upstream.transport import HttpClients
from tests.scripted_http import ScriptedServer
from tests.sim_accounts import fetch, provider_for

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"
NOW = 1_795_891_200.0  # 2026-11-28T16:00:00Z


def body(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def pools(doc: Any) -> dict[tuple[str, str], PoolQuota]:
    reply = parse_usage(doc, now=NOW)
    found = {(p.pool, p.window): p for p in reply.pools}
    assert len(found) == len(reply.pools)
    return found


def fractions(doc: Any) -> dict[tuple[str, str], float | None]:
    return {key: p.remaining_fraction for key, p in pools(doc).items()}


# -- the reply parser --------------------------------------------------------------------


def test_example_body_gives_codex_and_code_review_windows_and_credits() -> None:
    reply = parse_usage(body("codex.usage.json"), now=NOW)
    found = {(p.pool, p.window): p for p in reply.pools}
    assert {k: p.remaining_fraction for k, p in found.items()} == {
        ("codex", "5h"): 0.56, ("codex", "weekly"): 0.88, ("code-review", "weekly"): 1.0}
    assert found["codex", "5h"].reset_time == 1796000000.0
    assert (found["codex", "5h"].pool_name, found["code-review", "weekly"].pool_name) == (
        "Codex", "Code review")
    assert all(p.within == () and not p.omitted for p in reply.pools)
    assert reply.plan == "plus" and reply.skipped == 0
    assert [(c.credit_type, c.remaining) for c in reply.credits] == [("codex", 0.0)]


def test_windows_are_named_by_length_whatever_their_order() -> None:
    found = pools(body("peers/codex.usage.weekly-first.json"))
    assert found["codex", "weekly"].remaining_fraction == pytest.approx(0.6)
    assert found["codex", "weekly"].reset_time == 1796191200.0
    assert found["codex", "5h"].remaining_fraction == pytest.approx(0.1)
    assert found["codex-other", "1800s"].reset_time == NOW + 900  # reset_after_seconds
    swapped = {"plan_type": "pro", "rate_limit": {
        "primary_window": {"used_percent": 1, "limit_window_seconds": 86400},
        "secondary_window": {"used_percent": 2, "limit_window_seconds": 18000}}}
    assert fractions(swapped) == {("codex", "daily"): 0.99, ("codex", "5h"): 0.98}


def test_a_weekly_only_plan_and_null_windows() -> None:
    reply = parse_usage(body("peers/codex.usage.weekly-only.json"), now=NOW)
    assert [(p.pool, p.window, p.remaining_fraction) for p in reply.pools] == [
        ("codex", "weekly", 0.88)]
    assert (reply.plan, reply.credits, reply.skipped) == ("free", (), 0)


def test_additional_limits_are_pools_named_by_their_limit_name() -> None:
    reply = parse_usage(body("peers/codex.usage.full.json"), now=NOW)
    found = {(p.pool, p.window): p for p in reply.pools}
    assert set(found) == {("codex", "5h"), ("codex", "weekly"),
                          ("gpt-5-3-codex-spark", "5h"), ("gpt-5-3-codex-spark", "weekly")}
    assert found["codex", "5h"].remaining_fraction == pytest.approx(0.975)
    spark = found["gpt-5-3-codex-spark", "5h"]
    assert (spark.pool_name, spark.remaining_fraction) == ("GPT-5.3-Codex-Spark", 0.39)
    assert reply.plan == "prolite" and [c.remaining for c in reply.credits] == [0.0]


def test_a_reached_limit_without_numbers_is_at_zero_never_hidden() -> None:
    found = pools(body("peers/codex.usage.credits-depleted.json"))
    # No window lengths: window `unknown`, the one with less left standing for both
    # (the secondary has no used_percent but its limit is reached: 0). The additional
    # limit is reached with no window at all: `unknown` at 0. spend_control says
    # reached with no cap given: spend-limit at 0. Every 0 comes from evidence.
    assert {k: (p.remaining_fraction, p.omitted) for k, p in found.items()} == {
        ("codex", "unknown"): (0.0, False), ("gpt-6", "unknown"): (0.0, False),
        ("spend-limit", "monthly"): (0.0, False)}
    # Both unknown windows are at 0: the later reset says when the limit is free again.
    assert found["codex", "unknown"].reset_time == NOW + 90000
    assert found["gpt-6", "unknown"].reset_time is None


def test_windows_without_a_length_are_one_unknown_window_with_the_least_left() -> None:
    found = pools({"rate_limit": {"limit_reached": False,
                                  "primary_window": {"used_percent": 20, "reset_at": 1796000000},
                                  "secondary_window": {"used_percent": 70, "reset_at": 1797000000},
                                  "tertiary_window": {"used_percent": 40}}})
    assert [(k, p.remaining_fraction, p.reset_time) for k, p in found.items()] == [
        (("codex", "unknown"), pytest.approx(0.3), 1797000000.0)]


def test_a_reached_limit_whose_windows_all_have_room_gets_an_unknown_window_at_zero() -> None:
    found = fractions({"rate_limit": {"limit_reached": True, "primary_window": {
        "used_percent": 40, "limit_window_seconds": 18000}}})
    assert found == {("codex", "5h"): 0.6, ("codex", "unknown"): 0.0}
    # A window at 0 explains the reached flag: nothing more.
    assert fractions({"rate_limit": {"limit_reached": True, "primary_window": {
        "used_percent": 100, "limit_window_seconds": 18000}}}) == {("codex", "5h"): 0.0}


def test_a_window_without_numbers_in_a_limit_not_reached_exports_nothing() -> None:
    assert fractions({"rate_limit": {"limit_reached": False, "primary_window": {
        "limit_window_seconds": 18000, "reset_after_seconds": 60}}}) == {}


@pytest.mark.parametrize(("balance", "expected"), [
    (" 42 ", [42.0]), (40.5, [40.5]), ("0", [0.0]), (None, [])])
def test_credit_balances_as_strings_numbers_or_absent(balance: Any,
                                                      expected: list[float]) -> None:
    reply = parse_usage({"plan_type": "pro", "credits": {"has_credits": True,
                                                         "balance": balance}}, now=NOW)
    assert [c.remaining for c in reply.credits] == expected


def test_unlimited_credits_export_no_number() -> None:
    reply = parse_usage({"plan_type": "enterprise", "credits": {
        "has_credits": True, "unlimited": True, "balance": "0"}}, now=NOW)
    assert reply.credits == ()


def test_malformed_entries_are_skipped_and_counted_the_rest_kept() -> None:
    reply = parse_usage({
        "plan_type": ["plus"],
        "rate_limit": {"limit_reached": False,
                       "primary_window": {"used_percent": "lots", "limit_window_seconds": 18000},
                       "secondary_window": {"used_percent": 30, "limit_window_seconds": 604800}},
        "code_review_rate_limit": "ok",
        "additional_rate_limits": [
            {"limit_name": "", "rate_limit": {}}, 7,
            {"limit_name": "Spark", "rate_limit": {"primary_window": {
                "used_percent": 5, "limit_window_seconds": -1}}},
            {"limit_name": "codex", "rate_limit": {"primary_window": {
                "used_percent": 5, "limit_window_seconds": 604800}}},
        ],
        "credits": {"balance": "many"},
    }, now=NOW)
    assert [(p.pool, p.window, p.remaining_fraction) for p in reply.pools] == [
        ("codex", "weekly", 0.7)]
    # plan_type, the 5h window, code review, 2 additional entries, the negative length,
    # the second codex/weekly, credits
    assert reply.skipped == 8 and reply.plan is None and reply.credits == ()


def test_additional_limits_that_is_not_a_list_costs_one_entry() -> None:
    reply = parse_usage({"plan_type": "plus", "additional_rate_limits": {"x": 1}}, now=NOW)
    assert (reply.pools, reply.skipped) == ((), 1)


@pytest.mark.parametrize("reply", [[], None, {}, {"detail": "Unauthorized"},
                                   {"credits": {"balance": "3"}}])
def test_a_reply_that_is_not_the_usage_reply_is_a_parse_error(reply: Any) -> None:
    with pytest.raises(ParseError, match="usage"):
        parse_usage(reply, now=NOW)


def test_window_names() -> None:
    assert [window_name(s) for s in (18000, 86400, 604800, 1800, 18000.0, 90.5)] == [
        "5h", "daily", "weekly", "1800s", "5h", "90.5s"]


@pytest.mark.parametrize(("seconds", "name"), [
    (2592000, "monthly"), (2628000, "monthly"), (28 * 86400, "monthly"),
    (31 * 86400, "monthly"), (28 * 86400 - 1, "2419199s"), (31 * 86400 + 1, "2678401s")])
def test_windows_of_28_to_31_days_are_monthly(seconds: int, name: str) -> None:
    assert window_name(seconds) == name


def test_30_day_and_tertiary_windows_are_named_by_length() -> None:
    found = pools(body("peers/codex.usage.monthly-tertiary.json"))
    # primary 30 days and tertiary 2628000 s are both `monthly`: the second is a
    # duplicate window and counted as skipped, never a second series.
    assert {k: p.remaining_fraction for k, p in found.items()} == {
        ("codex", "monthly"): pytest.approx(0.94), ("codex", "weekly"): pytest.approx(0.7),
        ("gpt-5-3-codex-spark", "monthly"): pytest.approx(0.9)}
    assert found["codex", "monthly"].reset_time == 1797891200.0
    assert parse_usage(body("peers/codex.usage.monthly-tertiary.json"), now=NOW).skipped == 1
    [tertiary] = pools({"rate_limit": {"tertiary_window": {
        "used_percent": 55, "limit_window_seconds": 2628000,
        "reset_at": "2026-11-28T17:00:00Z"}}}).values()
    assert (tertiary.window, tertiary.remaining_fraction) == ("monthly", pytest.approx(0.45))
    assert tertiary.reset_time == 1795885200.0  # an ISO reset reads as well as an epoch


# -- plans without windows, spend caps, credits -----------------------------------------


def test_a_usage_based_business_plan_without_rate_limit_is_a_reply() -> None:
    reply = parse_usage(body("peers/codex.usage.business-usage-based.json"), now=NOW)
    assert (reply.plan, reply.pools, reply.skipped) == (
        "self_serve_business_usage_based", (), 0)
    # Depleted credits are 0 though the reply gives no balance; no reset banked.
    assert [(c.credit_type, c.remaining) for c in reply.credits] == [
        ("codex", 0.0), ("rate_limit_reset", 0.0)]


@pytest.mark.parametrize("kind", [
    "workspace_member_credits_depleted", {"type": "workspace_owner_credits_depleted"}])
def test_credits_the_reply_calls_depleted_are_zero_whatever_the_balance(kind: Any) -> None:
    reply = parse_usage({"plan_type": "team", "rate_limit_reached_type": kind,
                         "credits": {"has_credits": True, "balance": "12.5"}}, now=NOW)
    assert [(c.credit_type, c.remaining) for c in reply.credits] == [("codex", 0.0)]


@pytest.mark.parametrize("kind", [
    None, "rate_limit_reached", {"type": "workspace_member_usage_limit_reached"}])
def test_other_reached_types_leave_the_credits_as_the_balance_says(kind: Any) -> None:
    reply = parse_usage({"plan_type": "team", "rate_limit_reached_type": kind,
                         "credits": {"has_credits": False}}, now=NOW)
    assert reply.credits == () and reply.skipped == 0


def test_banked_rate_limit_resets_are_a_credit() -> None:
    reply = parse_usage(body("peers/codex.usage.reset-credits.json"), now=NOW)
    assert [(c.credit_type, c.remaining) for c in reply.credits] == [
        ("codex", 0.0), ("rate_limit_reset", 3.0)]
    # approx_*_messages, model_usage, rate_limit_upsell: not read, nothing skipped.
    assert reply.skipped == 0
    assert fractions(body("peers/codex.usage.reset-credits.json")) == {("codex", "weekly"): 0.0}
    bad = parse_usage({"plan_type": "pro", "rate_limit_reset_credits": {
        "available_count": -1}}, now=NOW)
    assert (bad.credits, bad.skipped) == ((), 1)


def test_a_team_seat_over_its_spend_cap_is_at_zero() -> None:
    found = pools(body("peers/codex.usage.team-over-cap.json"))
    cap = found["spend-limit", "monthly"]
    assert (cap.pool_name, cap.remaining_fraction, cap.omitted) == ("Spend limit", 0.0, False)
    assert (cap.remaining_credits, cap.limit_credits) == (0.0, 50.0)
    assert cap.reset_time == 1797091200.0
    assert found["codex", "weekly"].remaining_fraction == pytest.approx(0.78)
    assert "codex" not in {c.credit_type for c in parse_usage(
        body("peers/codex.usage.team-over-cap.json"), now=NOW).credits if c.remaining}


@pytest.mark.parametrize(("control", "fraction", "left"), [
    # 107% used and not (yet) flagged: clamped to 0 left.
    ({"reached": False, "individual_limit": {"limit": "50", "used": "53.5",
                                             "used_percent": 107}}, 0.0, 0.0),
    # Flagged reached: 0 whatever the percent says.
    ({"reached": True, "individual_limit": {"limit": "50", "used": "20", "remaining": "30",
                                            "used_percent": 40}}, 0.0, 0.0),
    ({"reached": False, "individual_limit": {"limit": "50.00", "used": "12.50", "remaining":
                                             "37.50", "used_percent": 25}}, 0.75, 37.5),
    # Percentages left out: from the money.
    ({"individual_limit": {"limit": 100, "used": 25}}, 0.75, 75.0),
    ({"individual_limit": {"limit": "100", "remaining": "-7"}}, 0.0, 0.0),
    ({"individual_limit": {"limit": "750", "remaining_percent": 40}}, 0.4, None),
    # Reached with only its limit given: no money left.
    ({"reached": True, "individual_limit": {"limit": "750"}}, 0.0, 0.0),
])
def test_spend_control_caps(control: Any, fraction: float, left: float | None) -> None:
    found = pools({"plan_type": "team", "spend_control": control})
    cap = found["spend-limit", "monthly"]
    assert (cap.remaining_fraction, cap.remaining_credits) == (pytest.approx(fraction), left)


def test_a_spend_cap_without_numbers_or_flag_exports_nothing() -> None:
    assert fractions({"plan_type": "team", "spend_control": {
        "reached": False, "individual_limit": None}}) == {}
    assert fractions({"plan_type": "team", "spend_control": {
        "reached": False, "individual_limit": {"source": "workspace"}}}) == {}


def test_a_spend_cap_that_names_its_period_is_named_by_it() -> None:
    assert set(fractions({"plan_type": "team", "spend_control": {"individual_limit": {
        "limit": "10", "used": "5", "limit_window_seconds": 604800}}})) == {
        ("spend-limit", "weekly")}
    assert set(fractions({"plan_type": "team", "spend_control": {"individual_limit": {
        "limit": "10", "used": "5", "period": "Daily"}}})) == {("spend-limit", "daily")}


def test_rate_limit_individual_limit_is_a_spend_cap_with_resets_at() -> None:
    reply = parse_usage(body("peers/codex.usage.individual-limit.json"), now=NOW)
    [cap] = reply.pools
    assert (cap.pool, cap.window) == ("spend-limit", "monthly")
    assert cap.remaining_fraction == pytest.approx(0.92239)
    assert (cap.remaining_credits, cap.limit_credits) == (92239.0, 100000.0)
    assert cap.reset_time == 1798761600.0
    assert (reply.plan, reply.credits, reply.skipped) == ("enterprise", (), 0)


def test_one_cap_given_twice_keeps_the_tighter_reading() -> None:
    found = pools({"rate_limit": {"individual_limit": {"limit": "100", "used": "10"}},
                   "spend_control": {"individual_limit": {"limit": "100", "used": "90"}}})
    assert found["spend-limit", "monthly"].remaining_fraction == pytest.approx(0.1)


def test_plan_names_outside_any_list_are_the_tier_as_given() -> None:
    assert parse_usage({"plan_type": "ent26", "rate_limit": None}, now=NOW).plan == "ent26"
    assert (PLAN_NAMES.get("prolite"), PLAN_NAMES.get("ent26")) == ("ChatGPT Pro Lite", None)


def test_the_token_expired_body_reads_as_an_expired_token() -> None:
    info = decode_error(body("peers/codex.error.token-expired.json"))
    assert (info.message, info.status) == ("the access token has expired", "token_expired")
    words = decode_error({"error": {"message": "Your token has expired.",
                                    "code": "token_expired"}})
    assert words.message == "Your token has expired."


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=16)
WINDOW = st.none() | JSON | st.fixed_dictionaries({
    "used_percent": st.none() | st.floats(-5, 150) | st.text(max_size=3),
    "limit_window_seconds": st.none() | st.sampled_from([18000, 604800, 0, 1800, "x"]),
    "reset_at": st.none() | st.integers(0, 2 * 10**9) | st.text(max_size=3)})
CAP = st.none() | JSON | st.fixed_dictionaries({
    "limit": st.none() | st.sampled_from(["50.00", 0, -3, "x", 100]),
    "used": st.none() | st.sampled_from(["53.50", 0, "7761", "y"]),
    "used_percent": st.none() | st.floats(-5, 150),
    "remaining_percent": st.none() | st.floats(-5, 150),
    "resets_at": st.none() | st.integers(0, 2 * 10**9) | st.text(max_size=3)})
LIMIT = st.none() | JSON | st.fixed_dictionaries({
    "limit_reached": st.booleans(), "primary_window": WINDOW, "secondary_window": WINDOW,
    "tertiary_window": WINDOW, "individual_limit": CAP})


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"plan_type": st.none() | st.text(max_size=5), "rate_limit": LIMIT,
                              "code_review_rate_limit": LIMIT,
                              "additional_rate_limits": st.lists(st.fixed_dictionaries(
                                  {"limit_name": st.text(max_size=6), "rate_limit": LIMIT}),
                                  max_size=3) | JSON,
                              "credits": JSON,
                              "spend_control": st.none() | JSON | st.fixed_dictionaries(
                                  {"reached": st.booleans(), "individual_limit": CAP}),
                              "rate_limit_reached_type": JSON,
                              "rate_limit_reset_credits": JSON}))
def test_any_reply_parses_or_is_skipped_and_every_fraction_is_within_0_1(doc: Any) -> None:
    reply = parse_usage(doc, now=NOW)
    assert all(0.0 <= (p.remaining_fraction or 0.0) <= 1.0 for p in reply.pools)
    assert all(p.remaining_credits is None or p.remaining_credits >= 0 for p in reply.pools)


# -- the provider against the simulated upstream ---------------------------------------

ACCOUNTS = [
    SimAccount("cx-plus", provider="codex", tier="plus", drain_per_hour=0.0,
               pool_fractions={"codex/5h": 0.25, "codex/weekly": 0.5}),
    SimAccount("cx-pro", provider="codex", tier="pro", credential_style="cliproxyapi",
               drain_per_hour=0.0),
    SimAccount("cx-token", provider="codex", tier="pro", credential_style="access_token_file",
               drain_per_hour=0.0),
    SimAccount("cx-team", provider="codex", tier="team", drain_per_hour=0.0,
               pool_fractions={"codex/weekly": 0.7, "spend-limit/monthly": 0.0}),
]



def test_fetch_sends_the_account_id_from_the_file_and_reads_the_plan(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cx-plus", tmp_path) as provider:
        data = fetch(provider)
    assert (data.info.tier, data.info.tier_name) == ("plus", "ChatGPT Plus")
    found = {(p.pool, p.window): p.remaining_fraction for p in data.pools}
    assert found[("codex", "5h")] == pytest.approx(0.25)
    assert found[("codex", "weekly")] == pytest.approx(0.5)
    assert ("code-review", "weekly") in found
    assert [(c.credit_type, c.remaining) for c in data.credits] == [
        ("codex", 0.0), ("rate_limit_reset", 0.0)]
    [seen] = sim.requests_seen()
    auth = json.loads((tmp_path / "cx-plus" / "auth.json").read_text())
    assert (seen.verb, seen.path) == ("GET", "/codex/wham/usage")
    assert seen.headers["Authorization"] == "Bearer " + auth["tokens"]["access_token"]
    assert seen.headers["ChatGPT-Account-Id"] == auth["tokens"]["account_id"]
    assert seen.headers["User-Agent"] == "codex-cli"
    assert sim.calls()["cx-plus"] == {"usage": 1, "token": 0}


def test_both_window_orders_of_the_simulator_come_out_named_by_length(
        sim: Simulator, tmp_path: Path) -> None:
    assert weekly_first("cx-pro") != weekly_first("cx-plus")  # both orders are sent
    for name in ("cx-plus", "cx-pro"):
        with provider_for(sim, name, tmp_path) as provider:
            found = {(p.pool, p.window) for p in fetch(provider).pools}
        assert {("codex", "5h"), ("codex", "weekly")} <= found, name


def test_a_bare_token_names_its_account_and_plan_itself(sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cx-token", tmp_path) as provider:
        data = fetch(provider)
    assert data.info.tier == "pro"
    assert ("gpt-5-3-codex-spark", "5h") in {(p.pool, p.window) for p in data.pools}
    [seen] = sim.requests_seen()
    assert seen.headers["ChatGPT-Account-Id"] == account_id(sim.account("cx-token"))


def test_no_account_id_header_when_nothing_names_the_account(
        sim: Simulator, tmp_path: Path) -> None:
    token = "opaque-token-that-is-no-jwt"
    sim.register_token("cx-plus", token, float("inf"))
    assert from_token(token).account_id is None
    with provider_for(sim, "cx-plus", tmp_path, credentials={"access_token": token}) as provider:
        data = fetch(provider)
    assert data.info.tier == "plus"  # from the reply's plan_type
    [seen] = sim.requests_seen()
    assert "chatgpt-account-id" not in {k.lower() for k in seen.headers}


def test_an_expired_jwt_is_never_sent_and_the_renewed_file_is_picked_up(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cx-pro", tmp_path) as provider:
        sim.expire_credentials("cx-pro")
        with pytest.raises(FetchError) as err:
            fetch(provider)
        assert err.value.reason is Reason.AUTH and "expired at" in err.value.message
        # A CLIProxyAPI file: the proxy renews it, not `codex`.
        assert "CLIProxyAPI renews this file" in err.value.message
        assert sim.calls()["cx-pro"]["usage"] == 0
        sim.renew_credentials("cx-pro")
        assert fetch(provider).pools
    assert sim.calls()["cx-pro"] == {"usage": 1, "token": 0}


def test_a_team_seat_over_its_spend_cap_has_its_spend_limit_at_zero(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cx-team", tmp_path) as provider:
        data = fetch(provider)
    assert (data.info.tier, data.info.tier_name) == ("team", "ChatGPT Team")
    found = {(p.pool, p.window): p for p in data.pools}
    cap = found["spend-limit", "monthly"]
    assert (cap.remaining_fraction, cap.omitted) == (0.0, False)
    assert (cap.remaining_credits, cap.limit_credits) == (0.0, 50.0)
    assert cap.reset_time is not None and cap.reset_time > NOW
    # The weekly window still has room, and team plans have no 5-hour window.
    assert found["codex", "weekly"].remaining_fraction == pytest.approx(0.7)
    assert ("codex", "5h") not in found


def test_a_team_seat_under_its_cap_shows_the_money_left(
        sim: Simulator, tmp_path: Path) -> None:
    sim.set_pool_fraction("cx-team", "spend-limit", "monthly", 0.4)
    with provider_for(sim, "cx-team", tmp_path) as provider:
        cap = {(p.pool, p.window): p for p in fetch(provider).pools}["spend-limit", "monthly"]
    assert cap.remaining_fraction == pytest.approx(0.4)
    assert (cap.remaining_credits, cap.limit_credits) == (pytest.approx(20.0), 50.0)


def test_a_pro_plan_reports_its_banked_rate_limit_resets(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cx-pro", tmp_path) as provider:
        credits = {c.credit_type: c.remaining for c in fetch(provider).credits}
    assert credits == {"codex": 125.5, "rate_limit_reset": 2.0}


def test_a_rejected_token_is_not_retried_and_says_to_run_codex(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cx-plus", tmp_path) as provider:
        sim.expire_access_tokens("cx-plus")
        for _ in range(2):
            with pytest.raises(FetchError, match=r"run `codex` once") as err:
                fetch(provider)
            assert err.value.reason is Reason.AUTH
            assert "or `codex login`" in err.value.message
        sim.renew_credentials("cx-plus")
        assert fetch(provider).pools
    assert sim.calls()["cx-plus"] == {"usage": 2, "token": 0}


def test_an_api_key_only_auth_json_says_a_chatgpt_sign_in_is_needed(
        sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"OPENAI_API_KEY": "sk-proj-secret"}))
    with (provider_for(sim, "cx-plus", tmp_path, credentials={"file": str(path)}) as provider,
          pytest.raises(FetchError, match="ChatGPT sign-in") as err):
        fetch(provider)
    assert "sk-proj-secret" not in err.value.message
    assert sim.calls()["cx-plus"]["usage"] == 0


def test_error_bodies_are_shown_in_openai_words(sim: Simulator, tmp_path: Path) -> None:
    sim.set_fault("cx-plus", "503")
    with provider_for(sim, "cx-plus", tmp_path) as provider, pytest.raises(FetchError) as err:
        fetch(provider)
    assert err.value.reason is Reason.UPSTREAM and "Service Unavailable" in err.value.message


def test_codex_defaults(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text((FIXTURES / "codex.auth.json").read_text())
    account = parse_config({"accounts": [
        {"name": "a", "provider": "codex", "credentials": {"file": str(path)}}]},
        env={}).accounts[0]
    assert (account.endpoints, account.user_agent) == (
        ("https://chatgpt.com/backend-api",), "codex-cli")


def test_a_401_token_expired_served_as_text_says_the_token_expired(tmp_path: Path) -> None:
    """The bare `{"error": {"code": "token_expired"}}` body, as text/plain: an auth
    error that says the token expired and how to renew it, without the token."""
    token = jwt({"exp": 4_102_444_800})  # the file's own expiry is far away
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"tokens": {"access_token": token, "account_id": "acct-1"}}))
    script = ScriptedServer()
    server, base = script.start()
    script.add("/wham/usage", status=401, content_type="text/plain; charset=utf-8",
               body=(FIXTURES / "peers" / "codex.error.token-expired.json").read_bytes())
    account = parse_config({"accounts": [{"name": "a", "provider": "codex", "endpoints": [base],
                                          "credentials": {"file": str(path)}}]},
                           env={}).accounts[0]
    clients = HttpClients.create(2)
    try:
        provider = make_provider(account, clients)
        for _ in range(2):
            with pytest.raises(FetchError) as err:
                fetch(provider)
            message = err.value.message
            assert err.value.reason is Reason.AUTH
            assert "the access token has expired" in message
            assert "run `codex` once (or `codex login`" in message and str(path) in message
            assert token not in message
    finally:
        clients.close()
        server.shutdown()
        server.server_close()
    assert len(script.calls) == 1  # the rejected token is not sent again
