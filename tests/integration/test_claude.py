"""Claude Code: the usage reply parser on every known shape, the provider against the
simulated upstream (headers, one call per fetch, an expired or rejected token never
refreshed and never retried in a loop, the CLI's renewal picked up), and what
`best` makes of a scoped pool within the plan-wide one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.config import AccountConfig, ConfigError, Credentials, Secret
from exporter.providers import Provider, make_provider, parse_config
from exporter.providers.claude.credentials import parse_claude, plan_name
from exporter.providers.claude.parse import parse_usage
from exporter.providers.parsing import ParseError
from exporter.quota import best, pool_effective
from exporter.simulator import SimAccount, Simulator
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    AccountSnapshot,
    FetchError,
    PoolQuota,
    Reason,
    Snapshot,
)
from exporter.timefmt import parse_rfc3339
from exporter.upstream.transport import HttpClients
from tests.scripted_http import ScriptedServer, serving
from tests.sim_accounts import fetch, provider_for

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"


def body(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def pools(doc: Any) -> dict[tuple[str, str], PoolQuota]:
    reply = parse_usage(doc)
    found = {(p.pool, p.window): p for p in reply.pools}
    assert len(found) == len(reply.pools), "a limit was exported twice"
    return found


def fractions(doc: Any) -> dict[tuple[str, str], float | None]:
    return {key: p.remaining_fraction for key, p in pools(doc).items()}


# -- the reply parser --------------------------------------------------------------------


def test_example_body_gives_the_plan_pools_with_opus_within_all() -> None:
    reply = parse_usage(body("claude.usage.json"))
    found = {(p.pool, p.window): p for p in reply.pools}
    assert {k: p.remaining_fraction for k, p in found.items()} == {
        ("all", "5h"): 0.625, ("all", "weekly"): 0.39, ("opus", "weekly"): 0.0}
    assert found["opus", "weekly"].within == ("all",) and found["all", "5h"].within == ()
    assert found["all", "5h"].reset_time == parse_rfc3339("2026-11-28T21:00:00.000412+00:00")
    assert found["opus", "weekly"].pool_name == "Opus"
    assert reply.credits == () and reply.skipped == 0  # extra usage off; sonnet null


def test_a_limit_in_both_shapes_is_exported_once_from_the_named_window() -> None:
    found = pools(body("peers/claude.usage.live-limits.json"))
    assert set(found) == {("all", "5h"), ("all", "weekly"), ("fable", "weekly")}
    assert found["all", "5h"].reset_time == parse_rfc3339("2026-11-28T20:49:59.940321Z")
    fable = found["fable", "weekly"]
    assert (fable.remaining_fraction, fable.pool_name, fable.within) == (0.94, "Fable", ("all",))


def test_limits_alone_give_the_same_pools() -> None:
    assert fractions(body("peers/claude.usage.limits-only.json")) == {
        ("all", "5h"): 0.48, ("all", "weekly"): 0.8, ("fable", "weekly"): 0.79}


def test_a_scoped_limit_named_like_a_window_is_that_window() -> None:
    reply = parse_usage(body("peers/claude.usage.scoped-opus.json"))
    found = {(p.pool, p.window): p.remaining_fraction for p in reply.pools}
    # opus once (seven_day_opus and the scoped "opus" limit); no "Ghost" (no percent);
    # the unknown kind and the keys of unknown meaning add nothing.
    assert found == {("all", "5h"): 0.575, ("all", "weekly"): pytest.approx(0.29),
                     ("opus", "weekly"): pytest.approx(0.67),
                     ("fable", "weekly"): pytest.approx(0.43)}
    assert [(c.credit_type, c.remaining) for c in reply.credits] == [("extra_usage", 40.0)]
    assert reply.skipped == 0


def test_a_null_reset_gives_no_reset_and_a_window_without_utilization_nothing() -> None:
    found = pools(body("peers/claude.usage.null-reset.json"))
    assert set(found) == {("all", "5h"), ("all", "weekly"), ("sonnet", "weekly")}
    assert (found["all", "5h"].remaining_fraction, found["all", "5h"].reset_time) == (1.0, None)
    assert found["sonnet", "weekly"].remaining_fraction == pytest.approx(0.97)


def test_fractional_numeric_string_and_over_100_percents() -> None:
    assert fractions({"five_hour": {"utilization": 12.345, "resets_at": None},
                      "seven_day": {"utilization": "37.5", "resets_at": None},
                      "seven_day_opus": {"utilization": 100.4, "resets_at": None}}) == {
        ("all", "5h"): pytest.approx(0.87655), ("all", "weekly"): 0.625,
        ("opus", "weekly"): 0.0}


def test_malformed_entries_are_skipped_and_counted_the_rest_kept() -> None:
    reply = parse_usage({
        "five_hour": "37%",
        "seven_day": {"utilization": 20, "resets_at": "2026-12-02T09:00:00Z"},
        "seven_day_opus": {"utilization": -3, "resets_at": None},
        "seven_day_sonnet": {"utilization": 10, "resets_at": "next tuesday"},
        "limits": [
            "session",
            {"kind": "weekly_scoped", "percent": 10, "scope": None},
            {"kind": "weekly_scoped", "percent": 20, "scope": {"model": {"display_name": "Fable"}}},
            {"kind": "weekly_scoped", "percent": 30, "scope": {"model": {"display_name": "fable"}}},
            {"kind": "weekly_scoped", "percent": "lots", "scope": {"model": {"display_name": "X"}}},
        ],
        "extra_usage": {"is_enabled": True, "monthly_limit": "a lot", "used_credits": 1},
    })
    assert {(p.pool, p.window): p.remaining_fraction for p in reply.pools} == {
        ("all", "weekly"): 0.8, ("fable", "weekly"): 0.8}
    # five_hour, opus, sonnet, 4 of the 5 limits (the second fable too), extra_usage
    assert reply.skipped == 8 and reply.credits == ()


def test_limits_that_is_not_a_list_costs_one_entry() -> None:
    reply = parse_usage({"five_hour": {"utilization": 50, "resets_at": None},
                         "limits": {"kind": "session"}})
    assert [(p.pool, p.window) for p in reply.pools] == [("all", "5h")]
    assert reply.skipped == 1


def test_a_scope_is_named_by_its_model_else_its_surface_without_the_word_claude() -> None:
    def scoped(scope: Any) -> dict[str, Any]:
        return {"kind": "weekly_scoped", "percent": 5, "scope": scope}

    found = fractions({"limits": [
        scoped({"model": {"display_name": "Claude Opus"}}),
        scoped({"model": None, "surface": {"display_name": "Cowork"}}),
        scoped({"model": {"display_name": "Claude"}}),
    ]})
    assert set(found) == {("opus", "weekly"), ("cowork", "weekly"), ("claude", "weekly")}


def test_extra_usage_left_is_in_currency_units_and_only_when_on_with_a_cap() -> None:
    def credit(extra: Any) -> list[float]:
        reply = parse_usage({"five_hour": None, "extra_usage": extra})
        return [c.remaining for c in reply.credits]

    assert credit({"is_enabled": True, "monthly_limit": 5000, "used_credits": 3462.0}) == [15.38]
    assert credit({"is_enabled": True, "monthly_limit": 2000, "used_credits": 2500}) == [0.0]
    assert credit({"is_enabled": True, "monthly_limit": None, "used_credits": 10}) == []
    assert credit({"is_enabled": False, "monthly_limit": 4000}) == []


def test_an_enterprise_reply_with_only_extra_usage_is_a_reply_with_its_credit() -> None:
    reply = parse_usage(body("peers/claude.usage.enterprise-extra-only.json"))
    # $500.00 cap, $46.315 spent: what is left, in dollars (upstream counts cents).
    assert reply.pools == () and reply.skipped == 0
    assert [(c.credit_type, c.remaining) for c in reply.credits] == [
        ("extra_usage", pytest.approx(453.685))]


def test_an_enterprise_reply_with_null_windows_and_spend_gives_the_credit_only() -> None:
    reply = parse_usage(body("peers/claude.usage.enterprise-spend.json"))
    assert reply.pools == () and reply.skipped == 0
    assert [(c.credit_type, c.remaining) for c in reply.credits] == [
        ("extra_usage", pytest.approx(281.98))]


def test_a_reply_with_spend_and_no_window_is_a_reply_with_nothing_in_it() -> None:
    reply = parse_usage({"spend": {"used": {"amount_minor": 0}},
                         "member_dashboard_available": True})
    assert (reply.pools, reply.credits, reply.skipped) == ((), (), 0)


def test_extra_usage_reads_decimal_places_utilization_and_a_reached_limit() -> None:
    def credit(**extra: Any) -> list[float]:
        doc = {"is_enabled": True, "monthly_limit": 50000, "currency": "USD", **extra}
        return [c.remaining for c in parse_usage({"extra_usage": doc}).credits]

    assert credit(used_credits=4631.5) == [pytest.approx(453.685)]
    assert credit(used_credits=4631, currency="JPY", decimal_places=0) == [45369.0]
    assert credit(utilization=9.263) == [pytest.approx(453.685)]  # no used_credits
    assert credit(used_credits=120.0, spend_limit_reached=True) == [0.0]
    assert credit(used_credits=61000) == [0.0]  # over the cap: nothing left
    assert credit(used_credits=None) == []  # nothing says what was spent
    for bad in ({"used_credits": -5}, {"used_credits": 1, "decimal_places": 2.5},
                {"monthly_limit": -100, "used_credits": 0}):
        reply = parse_usage({"extra_usage": {"is_enabled": True, "monthly_limit": 50000, **bad}})
        assert (reply.credits, reply.skipped) == ((), 1), bad


def test_codename_keys_spend_and_window_extras_are_ignored_not_counted() -> None:
    reply = parse_usage(body("peers/claude.usage.codenames.json"))
    found = {(p.pool, p.window): p for p in reply.pools}
    assert {k: p.remaining_fraction for k, p in found.items()} == {
        ("all", "5h"): 0.76, ("all", "weekly"): pytest.approx(0.17),
        ("fable", "weekly"): 0.64}
    assert found["all", "weekly"].reset_time == parse_rfc3339("2026-12-02T12:00:00.134101Z")
    # nimbus_quill (a zeroed window-like object), spend, the booleans: no pool, no skip
    assert (reply.credits, reply.skipped) == ((), 0)


def test_an_idle_session_is_all_left_with_no_reset_and_epoch_resets_are_read() -> None:
    reply = parse_usage(body("peers/claude.usage.idle-epoch.json"))
    found = {(p.pool, p.window): (p.remaining_fraction, p.reset_time) for p in reply.pools}
    assert found == {
        ("all", "5h"): (1.0, None),
        ("all", "weekly"): (pytest.approx(0.82), parse_rfc3339("2026-12-02T12:00:01Z")),
        ("fable-5", "weekly"): (0.515, 1796212800.0),  # resets_at as epoch seconds
    }
    assert reply.skipped == 0  # seven_day_omelette is a codename, not a window of ours


def test_iguana_necktie_is_not_read_as_a_window_even_when_it_has_numbers() -> None:
    reply = parse_usage({"seven_day": {"utilization": 10, "resets_at": 1796212800000},
                         "iguana_necktie": {"utilization": 57.0, "resets_at": None}})
    assert [(p.pool, p.window, p.reset_time) for p in reply.pools] == [
        ("all", "weekly", 1796212800.0)]  # a reset in epoch milliseconds too
    assert reply.skipped == 0


@pytest.mark.parametrize("reply", [[], "usage", {}, {"error": {"type": "x"}},
                                   {"seven_day_oauth_apps": None},
                                   {"tangelo": None, "member_dashboard_available": False}])
def test_a_reply_that_is_not_the_usage_reply_is_a_parse_error(reply: Any) -> None:
    with pytest.raises(ParseError, match="usage"):
        parse_usage(reply)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-200, 200) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)
WINDOW = st.none() | JSON | st.fixed_dictionaries(
    {"utilization": st.none() | st.floats(-10, 200) | st.text(max_size=4),
     "resets_at": st.none() | st.sampled_from(["2026-12-02T09:00:00Z", "x", ""])})


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({"five_hour": WINDOW, "seven_day": WINDOW,
                              "seven_day_opus": WINDOW, "limits": st.lists(JSON, max_size=4)}))
def test_any_reply_parses_or_is_skipped_and_every_fraction_is_within_0_1(doc: Any) -> None:
    reply = parse_usage(doc)
    assert all(0.0 <= (p.remaining_fraction or 0.0) <= 1.0 for p in reply.pools)
    assert len({(p.pool, p.window) for p in reply.pools}) == len(reply.pools)


# -- the credentials file --------------------------------------------------------------


def test_plan_names_come_from_the_subscription_and_the_max_multiplier() -> None:
    assert plan_name("max", "default_claude_max_5x") == "Claude Max 5x"
    assert plan_name("Max", "v2_default_claude_max_20x") == "Claude Max 20x"
    assert plan_name("team", "default_claude_max_5x") == "Claude Team"
    assert plan_name("pro", None) == "Claude Pro"
    assert plan_name(None, "default_claude_max_20x") is None
    creds = parse_claude((FIXTURES / "claude.credentials.json").read_text(), Path("c.json"))
    assert (creds.plan, creds.plan_name) == ("max", "Claude Max 5x")


# -- best and effective numbers: a scoped pool meets the plan-wide windows too ----------


def _account(name: str, windows: dict[tuple[str, str], float]) -> AccountSnapshot:
    doc: dict[str, Any] = {"five_hour": None, "seven_day": None, "seven_day_opus": None}
    named = {("all", "5h"): "five_hour", ("all", "weekly"): "seven_day",
             ("opus", "weekly"): "seven_day_opus", ("sonnet", "weekly"): "seven_day_sonnet"}
    for key, used in windows.items():
        doc[named[key]] = {"utilization": used, "resets_at": "2026-12-02T09:00:00Z"}
    data = AccountData(AccountInfo("max", "Claude Max 20x"), pools=parse_usage(doc).pools)
    return AccountSnapshot("claude", name, True, data, None, 0.1, 0.0, 0.0)


def test_opus_used_up_while_all_is_not_makes_that_account_unusable_for_opus() -> None:
    spent = _account("spent", {("all", "5h"): 40.0, ("all", "weekly"): 40.0,
                               ("opus", "weekly"): 100.0})
    fresh = _account("fresh", {("all", "5h"): 70.0, ("all", "weekly"): 20.0,
                               ("opus", "weekly"): 10.0})
    assert spent.data is not None and fresh.data is not None
    assert spent.data.pool_windows("opus")[0].remaining_fraction == 0.0
    limit = pool_effective("opus", spent.data)
    assert limit is not None and limit.fraction == 0.0
    # fresh's Opus pool has 90% left, but its 5-hour window (all) only 30%: that binds.
    fresh_opus = pool_effective("opus", fresh.data)
    assert fresh_opus is not None and fresh_opus.fraction == pytest.approx(0.3)
    assert fresh_opus.pool is not None and fresh_opus.pool.pool == "all"
    answer = best(Snapshot((spent, fresh), 0.0), "opus")
    assert answer is not None and (answer.account, answer.usable) == ("fresh", True)
    assert answer.fraction == pytest.approx(0.3)
    alone = best(Snapshot((spent,), 0.0), "opus", provider="claude")
    assert alone is not None and (alone.account, alone.fraction, alone.usable) == (
        "spent", 0.0, False)
    everything = best(Snapshot((spent, fresh), 0.0), "all")
    assert everything is not None and everything.account == "spent"  # 60% left vs 30%
    assert best(Snapshot((spent, fresh), 0.0), "sonnet") is None  # no such limit here


# -- the provider against the simulated upstream ---------------------------------------

ACCOUNTS = [
    SimAccount("cl-max", provider="claude", tier="max", drain_per_hour=0.0,
               pool_fractions={"all/5h": 0.6, "opus/weekly": 0.0}),
    SimAccount("cl-pro", provider="claude", tier="pro", credential_style="cliproxyapi",
               drain_per_hour=0.0),
    SimAccount("cl-token", provider="claude", credential_style="access_token",
               drain_per_hour=0.0),
    SimAccount("cl-ent", provider="claude", tier="enterprise", drain_per_hour=0.0,
               pool_fractions={"extra-usage/monthly": 0.6}),
]



def test_fetch_reads_the_file_sends_claude_code_headers_and_makes_one_call(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cl-max", tmp_path) as provider:
        data = fetch(provider)
    assert (data.info.tier, data.info.tier_name) == ("max", "Claude Max 20x")
    found = {(p.pool, p.window): p for p in data.pools}
    assert found["all", "5h"].remaining_fraction == pytest.approx(0.6)
    assert found["opus", "weekly"].remaining_fraction == 0.0
    assert found["opus", "weekly"].within == ("all",)
    assert [c.credit_type for c in data.credits] == ["extra_usage"]
    assert sim.calls()["cl-max"] == {"usage": 1, "token": 0}
    [seen] = sim.requests_seen()
    creds = json.loads((tmp_path / "cl-max" / ".credentials.json").read_text())
    assert (seen.verb, seen.path) == ("GET", "/claude/api/oauth/usage")
    assert seen.headers["Authorization"] == "Bearer " + creds["claudeAiOauth"]["accessToken"]
    assert seen.headers["anthropic-beta"] == "oauth-2025-04-20"
    assert seen.headers["User-Agent"] == "claude-code/2.1.0"


def test_user_agent_and_headers_are_configurable_and_never_sent_twice(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cl-max", tmp_path, user_agent="claude-code/2.9.9",
                      headers={"Anthropic-Beta": "oauth-2099-01-01"}) as provider:
        fetch(provider)
    [seen] = sim.requests_seen()
    assert seen.headers["User-Agent"] == "claude-code/2.9.9"
    betas = [v for k, v in seen.headers.items() if k.lower() == "anthropic-beta"]
    assert betas == ["oauth-2099-01-01"]


def test_cliproxyapi_file_and_bare_token_work_with_an_unknown_tier(
        sim: Simulator, tmp_path: Path) -> None:
    for name in ("cl-pro", "cl-token"):
        with provider_for(sim, name, tmp_path) as provider:
            data = fetch(provider)
        assert data.info.tier == "unknown" and data.pools, name
    pro = {(p.pool, p.window) for p in fetch_pools(sim, "cl-pro", tmp_path)}
    assert ("opus", "weekly") not in pro  # a Pro plan's Opus window is null


def fetch_pools(sim: Simulator, name: str, directory: Path) -> tuple[PoolQuota, ...]:
    with provider_for(sim, name, directory) as provider:
        return fetch(provider).pools


def test_an_enterprise_seat_is_a_reply_with_its_spend_limit_left_as_credit(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cl-ent", tmp_path) as provider:
        data = fetch(provider)
    assert (data.info.tier, data.info.tier_name) == ("enterprise", "Claude Enterprise")
    assert data.pools == ()  # no windows: not a parse error, not an account down
    # 60% of a $500.00 cap left, in dollars
    assert [(c.credit_type, c.remaining) for c in data.credits] == [
        ("extra_usage", pytest.approx(300.0))]
    assert [(r.source, r.up, r.skipped) for r in data.sources] == [("usage", True, 0)]
    assert sim.calls()["cl-ent"] == {"usage": 1, "token": 0}


def test_an_expired_token_is_never_sent_and_the_renewed_file_is_picked_up(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cl-max", tmp_path) as provider:
        fetch(provider)
        sim.expire_credentials("cl-max")
        for _ in range(3):
            with pytest.raises(FetchError) as err:
                fetch(provider)
            assert err.value.reason is Reason.AUTH
            assert "expired at" in err.value.message and "run `claude` once" in err.value.message
        assert sim.calls()["cl-max"]["usage"] == 1  # nothing sent with the expired token
        sim.renew_credentials("cl-max")  # the user ran `claude`
        assert fetch(provider).pools
    assert sim.calls()["cl-max"] == {"usage": 2, "token": 0}


def test_a_rejected_token_is_not_sent_again_until_the_file_changes(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cl-max", tmp_path) as provider:
        sim.expire_access_tokens("cl-max")  # the file still says it is good
        for _ in range(3):
            with pytest.raises(FetchError) as err:
                fetch(provider)
            assert err.value.reason is Reason.AUTH
            assert "rejected" in err.value.message and "`claude`" in err.value.message
        assert sim.calls()["cl-max"] == {"usage": 1, "token": 0}  # one 401, no loop
        sim.renew_credentials("cl-max")
        assert fetch(provider).pools
    assert sim.calls()["cl-max"]["usage"] == 2


def test_a_rejected_bare_token_says_to_supply_a_fresh_one(
        sim: Simulator, tmp_path: Path) -> None:
    with provider_for(sim, "cl-token", tmp_path) as provider:
        sim.expire_access_tokens("cl-token")
        with pytest.raises(FetchError, match="put a fresh one in access_token") as err:
            fetch(provider)
    assert err.value.reason is Reason.AUTH and "refresh_token" not in err.value.message


def test_a_429_closes_the_host_for_its_retry_after(sim: Simulator, tmp_path: Path) -> None:
    sim.set_fault("cl-max", "429", times=1, retry_delay=30)
    with provider_for(sim, "cl-max", tmp_path) as provider:
        with pytest.raises(FetchError) as first:
            fetch(provider)
        with pytest.raises(FetchError) as second:
            fetch(provider)
    assert first.value.reason is second.value.reason is Reason.RATE_LIMITED
    assert "Rate limited" in first.value.message and first.value.retry_after == 30
    assert "User-Agent" not in first.value.message  # a real wait: no hint about it
    assert "asked us to wait" in second.value.message
    assert sim.calls()["cl-max"]["usage"] == 1  # the second fetch waited: no call


def test_an_error_body_is_shown_in_anthropic_words(sim: Simulator, tmp_path: Path) -> None:
    sim.set_fault("cl-max", "403")
    with provider_for(sim, "cl-max", tmp_path) as provider, pytest.raises(FetchError) as err:
        fetch(provider)
    assert err.value.reason is Reason.FORBIDDEN
    assert "does not meet scope requirement user:profile" in err.value.message


def test_wrong_types_are_skipped_entries_not_a_crash(sim: Simulator, tmp_path: Path) -> None:
    sim.set_fault("cl-max", "wrong_types")
    with provider_for(sim, "cl-max", tmp_path) as provider:
        data = fetch(provider)
    assert data.pools == () and data.sources[0].skipped == 5


# -- error answers that say what they mean ---------------------------------------------

TOKEN = "sk-ant-oat01-inference-only-token"
USAGE = "/claude/api/oauth/usage"


@pytest.fixture
def script() -> Iterator[tuple[ScriptedServer, str]]:
    with serving() as served:
        yield served


@contextmanager
def token_provider(base: str, **kw: Any) -> Iterator[Provider]:
    account = AccountConfig(name="cl", provider="claude",
                            credentials=Credentials(kind="access_token", secret=Secret(TOKEN)),
                            endpoints=(f"{base}/claude",), **kw)
    clients = HttpClients.create(2)
    try:
        yield make_provider(account, clients)
    finally:
        clients.close()


def answer(message: str) -> str:
    """What follows "usage: <host> answered "."""
    prefix, _, rest = message.partition(" answered ")
    assert prefix.startswith("usage: 127.0.0.1:"), message
    return rest


def sent_agent(server: ScriptedServer) -> str:
    [agent] = [v for k, v in server.calls[0].headers.items() if k.lower() == "user-agent"]
    return agent


def test_a_token_without_user_profile_says_it_is_for_inference_only_and_how_to_sign_in(
        script: tuple[ScriptedServer, str]) -> None:
    server, base = script
    server.add(USAGE, status=403, json_body=body("peers/claude.usage.403-scope.json"))
    with token_provider(base) as provider, pytest.raises(FetchError) as err:
        fetch(provider)
    message = err.value.message
    assert err.value.reason is Reason.FORBIDDEN
    # Anthropic's words first (its line break folded), then what it means and what to do.
    assert answer(message).startswith(
        "403: OAuth token does not meet scope requirement user:profile: this token was made "
        "for inference only (by `claude setup-token`")
    assert "sign in with `claude` (its /login)" in message
    assert "~/.claude/.credentials.json holds a token with the user:profile scope" in message
    assert TOKEN not in message and "sk-ant" not in message
    assert len(server.calls) == 1


def test_another_403_keeps_anthropic_words_alone(script: tuple[ScriptedServer, str]) -> None:
    server, base = script
    server.add(USAGE, status=403, json_body={"type": "error", "error": {
        "type": "permission_error", "message": "This organization has been disabled."}})
    with token_provider(base) as provider, pytest.raises(FetchError) as err:
        fetch(provider)
    assert answer(err.value.message) == "403: This organization has been disabled."


def test_a_429_without_a_wait_names_the_user_agent_and_is_not_retried_at_once(
        script: tuple[ScriptedServer, str]) -> None:
    server, base = script
    server.add(USAGE, status=429, json_body=body("peers/claude.usage.429-no-wait.json"),
               headers={"Retry-After": "0"})
    with token_provider(base, user_agent="my-dashboard/1.0") as provider:
        with pytest.raises(FetchError) as err:
            fetch(provider)
        with pytest.raises(FetchError) as again:
            fetch(provider)
    assert err.value.reason is again.value.reason is Reason.RATE_LIMITED
    assert answer(err.value.message) == (
        "429: Rate limited. Please try again later.; a 429 "
        "without a wait that keeps coming usually means the endpoint does not take this "
        "User-Agent ('my-dashboard/1.0'): it serves Claude Code's (claude-code/<version>), "
        "set by `user_agent`")
    assert "asked us to wait" in again.value.message
    assert len(server.calls) == 1  # the second fetch made no call: no hot loop
    assert sent_agent(server) == "my-dashboard/1.0"


def test_a_429_without_a_wait_to_claude_codes_user_agent_suggests_a_newer_version(
        script: tuple[ScriptedServer, str]) -> None:
    server, base = script
    server.add(USAGE, status=429, json_body=body("peers/claude.usage.429-no-wait.json"),
               headers={"Retry-After": "0"})
    with token_provider(base) as provider, pytest.raises(FetchError) as err:
        fetch(provider)
    assert answer(err.value.message) == (
        "429: Rate limited. Please try again later.; the exporter waits and backs off; if "
        "this keeps coming, the endpoint may want a newer Claude Code User-Agent than "
        "'claude-code/2.1.0' (`user_agent`)")


def test_the_user_agent_named_is_the_one_sent(script: tuple[ScriptedServer, str]) -> None:
    server, base = script
    server.add(USAGE, status=429, json_body=body("peers/claude.usage.429-no-wait.json"))
    with token_provider(base, headers=(("user-agent", "curl/8.0"),)) as provider, \
            pytest.raises(FetchError, match=r"User-Agent \('curl/8.0'\)"):
        fetch(provider)
    assert sent_agent(server) == "curl/8.0"


# -- config -----------------------------------------------------------------------------


def test_claude_accounts_take_files_and_access_tokens_but_no_refresh_token(
        tmp_path: Path) -> None:
    creds = tmp_path / ".credentials.json"
    creds.write_text((FIXTURES / "claude.credentials.json").read_text())
    config = parse_config({"accounts": [
        {"name": "a", "provider": "claude", "credentials": {"file": str(creds)}}]}, env={})
    account = config.accounts[0]
    assert account.endpoints == ("https://api.anthropic.com",)
    assert account.sources == frozenset({"usage"})
    assert account.user_agent == "claude-code/2.1.0"
    with pytest.raises(ConfigError) as err:
        parse_config({"accounts": [{"name": "b", "provider": "claude",
                                    "credentials": {"refresh_token": "sk-ant-ort01-x"}}]}, env={})
    assert err.value.problems == [(
        "accounts[0].credentials.refresh_token",
        "provider claude does not accept refresh_token; use one of file, access_token, "
        "access_token_file")]
