"""Codex: the usage reply parser on every known shape (windows named by their length
whatever their order), and the provider against the simulated upstream
(ChatGPT-Account-Id, plan, an expired JWT never sent, a 401 not retried, the CLI's
renewal picked up)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import parse_config
from exporter.providers.codex.credentials import from_token
from exporter.providers.codex.parse import parse_usage, window_name
from exporter.providers.parsing import ParseError
from exporter.simulator import SimAccount, Simulator
from exporter.simulator.codex import account_id, weekly_first
from exporter.snapshot import FetchError, PoolQuota, Reason
from tests.sim_accounts import fetch, provider_for

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
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
    # No window lengths: named by their place. The secondary window has no
    # used_percent but its limit is reached: 0, marked omitted. The additional limit
    # is reached with no window at all: one window `unknown` at 0.
    assert {k: (p.remaining_fraction, p.omitted) for k, p in found.items()} == {
        ("codex", "primary"): (0.0, False), ("codex", "secondary"): (0.0, True),
        ("gpt-6", "unknown"): (0.0, True)}
    assert found["codex", "primary"].reset_time == NOW + 2548
    assert found["gpt-6", "unknown"].reset_time is None


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
LIMIT = st.none() | JSON | st.fixed_dictionaries({
    "limit_reached": st.booleans(), "primary_window": WINDOW, "secondary_window": WINDOW})


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"plan_type": st.none() | st.text(max_size=5), "rate_limit": LIMIT,
                              "code_review_rate_limit": LIMIT,
                              "additional_rate_limits": st.lists(st.fixed_dictionaries(
                                  {"limit_name": st.text(max_size=6), "rate_limit": LIMIT}),
                                  max_size=3) | JSON,
                              "credits": JSON}))
def test_any_reply_parses_or_is_skipped_and_every_fraction_is_within_0_1(doc: Any) -> None:
    reply = parse_usage(doc, now=NOW)
    assert all(0.0 <= (p.remaining_fraction or 0.0) <= 1.0 for p in reply.pools)


# -- the provider against the simulated upstream ---------------------------------------

ACCOUNTS = [
    SimAccount("cx-plus", provider="codex", tier="plus", drain_per_hour=0.0,
               pool_fractions={"codex/5h": 0.25, "codex/weekly": 0.5}),
    SimAccount("cx-pro", provider="codex", tier="pro", credential_style="cliproxyapi",
               drain_per_hour=0.0),
    SimAccount("cx-token", provider="codex", tier="pro", credential_style="access_token_file",
               drain_per_hour=0.0),
]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(ACCOUNTS) as s:
        yield s


def test_fetch_sends_the_account_id_from_the_file_and_reads_the_plan(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cx-plus", tmp_path) as provider:
        data = fetch(provider)
    assert (data.info.tier, data.info.tier_name) == ("plus", "ChatGPT Plus")
    found = {(p.pool, p.window): p.remaining_fraction for p in data.pools}
    assert found[("codex", "5h")] == pytest.approx(0.25)
    assert found[("codex", "weekly")] == pytest.approx(0.5)
    assert ("code-review", "weekly") in found
    assert [(c.credit_type, c.remaining) for c in data.credits] == [("codex", 0.0)]
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


def test_a_rejected_token_is_not_retried_and_says_to_run_codex(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cx-plus", tmp_path) as provider:
        sim.expire_access_tokens("cx-plus")
        for _ in range(2):
            with pytest.raises(FetchError, match=r"run `codex` once"):
                fetch(provider)
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
