"""The fake Antigravity upstream, over real HTTP on loopback."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from exporter.providers import load_config
from exporter.simulator import (
    SimAccount,
    Simulator,
    bench_accounts,
    demo_accounts,
    write_config,
)
from exporter.simulator.__main__ import main
from exporter.simulator.server import LARGE_BODY_BYTES
from exporter.timefmt import parse_rfc3339

START = 1_795_891_200.0  # 2026-11-28T16:00:00Z
REPO = Path(__file__).resolve().parents[2]
MODEL_IDS = ["gemini-3-pro-high", "gemini-3-flash", "claude-sonnet-4-5",
             "claude-opus-4-5-thinking", "gpt-oss-120b-medium"]


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


ACCOUNTS = [
    # Exact numbers (no 20% steps): these tests follow the control API's values.
    SimAccount("pro", fraction_step=None),
    SimAccount("ultra", tier="g1-ultra-tier", drain_per_hour=0.5, fraction_step=None),
    SimAccount("std", tier="standard-tier"),
    SimAccount("free", tier="free-tier"),
    SimAccount("new", project=None),
]


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator(ACCOUNTS, clock=clock, token_ttl=600) as s:
        yield s


def refresh(sim: Simulator, refresh_token: str, **overrides: str) -> requests.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token,
            "client_id": sim.client_id, "client_secret": sim.client_secret, **overrides}
    return requests.post(sim.token_url, data=form, timeout=5)


def call(sim: Simulator, method: str, token: str | None, body: Any = None,
         prefix: str = "/prod", timeout: float = 5) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{sim.base_url}{prefix}/v1internal:{method}", json=body or {},
                         headers=headers, timeout=timeout)


def access_token(sim: Simulator, account: str) -> str:
    return sim.credentials(account, expiring=False)[1]


def project_of(sim: Simulator, account: str) -> str:
    return str(sim.state()["accounts"][account]["project"])


def fetch(sim: Simulator, account: str, method: str = "fetchAvailableModels",
          prefix: str = "/prod") -> requests.Response:
    return call(sim, method, access_token(sim, account), {"project": project_of(sim, account)},
                prefix=prefix)


# -- loadCodeAssist --------------------------------------------------------------------


def test_paid_account_reports_paid_tier_over_standard_tier(sim: Simulator) -> None:
    reply = call(sim, "loadCodeAssist", access_token(sim, "pro"))
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert body["cloudaicompanionProject"] == project_of(sim, "pro")
    assert project_of(sim, "pro").startswith("sim-pro-")
    assert body["currentTier"]["id"] == "standard-tier"
    assert body["paidTier"] == {"id": "g1-pro-tier", "name": "Google AI Pro",
                                "description": "Google AI Pro"}
    ultra = call(sim, "loadCodeAssist", access_token(sim, "ultra")).json()
    assert ultra["paidTier"]["id"] == "g1-ultra-tier"
    assert ultra["paidTier"]["name"] == "Google AI Ultra"


def test_standard_tier_has_no_paid_tier(sim: Simulator) -> None:
    body = call(sim, "loadCodeAssist", access_token(sim, "std")).json()
    assert body["currentTier"]["id"] == "standard-tier"
    assert "paidTier" not in body


def test_free_account_gets_project_as_object_and_free_tier(sim: Simulator) -> None:
    body = call(sim, "loadCodeAssist", access_token(sim, "free")).json()
    assert body["cloudaicompanionProject"] == {"id": project_of(sim, "free"),
                                               "name": project_of(sim, "free")}
    assert body["currentTier"]["id"] == "free-tier"
    assert "paidTier" not in body


def test_not_onboarded_account_has_no_project(sim: Simulator) -> None:
    body = call(sim, "loadCodeAssist", access_token(sim, "new")).json()
    assert "cloudaicompanionProject" not in body
    assert "currentTier" not in body
    assert body["ineligibleTiers"][0]["reasonCode"] == "VALIDATION_REQUIRED"
    reply = call(sim, "fetchAvailableModels", access_token(sim, "new"), {"project": "anything"})
    assert reply.status_code == 403
    assert reply.json()["error"]["status"] == "PERMISSION_DENIED"


def test_project_ids_are_stable_across_simulators() -> None:
    assert SimAccount("x").project == SimAccount("x").project
    assert SimAccount("x").project != SimAccount("y").project
    assert SimAccount("x", project="mine").project == "mine"
    assert SimAccount("x").email == "x@example.invalid"
    assert SimAccount("x").tier_name == "Google AI Pro"


# -- fetchAvailableModels and retrieveUserQuotaSummary ---------------------------------


def test_models_reply_has_five_quotas_and_two_internal_entries(sim: Simulator) -> None:
    body = fetch(sim, "pro").json()
    assert list(body["models"]) == [*MODEL_IDS, "chat_20706", "tab_flash_lite_preview"]
    assert body["models"]["chat_20706"] == {}
    assert "quotaInfo" not in body["models"]["tab_flash_lite_preview"]
    for model in MODEL_IDS:
        entry = body["models"][model]
        assert entry["quotaInfo"]["remainingFraction"] == pytest.approx(
            sim.model_fraction("pro", model), abs=1e-6)
        reset = parse_rfc3339(entry["quotaInfo"]["resetTime"])
        assert START < reset <= START + 5 * 3600
    assert body["models"]["claude-sonnet-4-5"]["modelProvider"] == "MODEL_PROVIDER_ANTHROPIC"
    assert body["models"]["gemini-3-pro-high"]["displayName"] == "Gemini 3 Pro (High)"
    # Upstream mixes whole-second and fractional-second reset times.
    assert body["models"]["gemini-3-flash"]["quotaInfo"]["resetTime"].endswith(".123456Z")
    assert body["models"]["gemini-3-pro-high"]["quotaInfo"]["resetTime"][-3:-1].isdigit()


def test_free_account_has_no_pool_licence(sim: Simulator) -> None:
    models = fetch(sim, "free").json()["models"]
    assert "remainingFraction" in models["gemini-3-flash"]["quotaInfo"]
    reply = fetch(sim, "free", "retrieveUserQuotaSummary")
    assert reply.status_code == 403
    assert reply.json() == {"error": {
        "code": 403, "message": "You do not have a valid license of this product.",
        "status": "PERMISSION_DENIED"}}


def test_an_exhausted_or_omitted_model_fraction_is_left_out_as_proto3_does(
        sim: Simulator) -> None:
    sim.set_model_fraction("pro", "claude-sonnet-4-5", 0.0)
    sim.set_model_fraction("pro", "gpt-oss-120b-medium", None)
    models = fetch(sim, "pro").json()["models"]
    for model in ("claude-sonnet-4-5", "gpt-oss-120b-medium"):
        assert "remainingFraction" not in models[model]["quotaInfo"]
        assert "resetTime" in models[model]["quotaInfo"]
    assert sim.model_fraction("pro", "gpt-oss-120b-medium") is None


def test_summary_has_two_pools_with_5h_and_weekly_windows(sim: Simulator) -> None:
    sim.set_pool_fraction("pro", "claude-gpt", "5h", 0.0)
    body = fetch(sim, "pro", "retrieveUserQuotaSummary").json()
    groups = {g["displayName"]: g for g in body["groups"]}
    assert list(groups) == ["Gemini Models", "Claude and GPT models"]
    buckets = {b["bucketId"]: b for g in body["groups"] for b in g["buckets"]}
    assert list(buckets) == ["gemini-5h", "gemini-weekly", "3p-5h", "3p-weekly"]
    assert buckets["3p-5h"]["remainingFraction"] == 0
    assert isinstance(buckets["3p-5h"]["remainingFraction"], int)  # as upstream writes it
    assert buckets["gemini-weekly"]["window"] == "weekly"
    assert buckets["gemini-weekly"]["remainingFraction"] == pytest.approx(
        sim.pool_fraction("pro", "gemini", "weekly"), abs=1e-6)
    assert START < parse_rfc3339(buckets["gemini-weekly"]["resetTime"]) <= START + 7 * 86400


@pytest.mark.parametrize(("body", "status"), [({}, 400), ({"project": "someone-else"}, 403)])
def test_missing_or_wrong_project_is_a_clear_error(
        sim: Simulator, body: dict[str, str], status: int) -> None:
    for method in ("fetchAvailableModels", "retrieveUserQuotaSummary"):
        reply = call(sim, method, access_token(sim, "pro"), body)
        assert reply.status_code == status
        assert reply.json()["error"]["code"] == status
        assert "project" in reply.json()["error"]["message"]


def test_unknown_method_is_404_and_counted(sim: Simulator) -> None:
    reply = call(sim, "onboardUser", access_token(sim, "pro"))
    assert reply.status_code == 404
    assert sim.calls()["pro"]["onboardUser"] == 1


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and kinds, not the values themselves."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    return "number" if isinstance(value, int | float) else type(value).__name__


FIXTURES = REPO / "tests" / "fixtures" / "upstream"


@pytest.mark.parametrize(("example", "account", "method"), [
    ("loadCodeAssist.paid.json", "pro", "loadCodeAssist"),
    ("loadCodeAssist.free.json", "free", "loadCodeAssist"),
    ("loadCodeAssist.not-onboarded.json", "new", "loadCodeAssist"),
    ("fetchAvailableModels.paid.json", "pro", "fetchAvailableModels"),
    ("retrieveUserQuotaSummary.json", "pro", "retrieveUserQuotaSummary"),
    ("error.403.json", "free", "retrieveUserQuotaSummary"),
])
def test_replies_have_the_shape_of_the_upstream_examples(
        sim: Simulator, example: str, account: str, method: str) -> None:
    # The paid example shows the missing-fraction quirk on this one model.
    sim.set_model_fraction("pro", "claude-opus-4-5-thinking", None)
    expected = json.loads((FIXTURES / example).read_text())
    assert shape(fetch(sim, account, method).json()) == shape(expected)


def test_token_and_429_replies_have_the_shape_of_the_upstream_examples(sim: Simulator) -> None:
    token = refresh(sim, sim.credentials("pro", expiring=False)[0]).json()
    assert shape(token) == shape(json.loads((FIXTURES / "token.refresh.json").read_text()))
    sim.set_fault("pro", "429")
    error = fetch(sim, "pro").json()
    assert shape(error) == shape(json.loads((FIXTURES / "error.429.json").read_text()))


# -- auth and the token endpoint -------------------------------------------------------


@pytest.mark.parametrize("token", [None, "ya29.not-issued-here"])
def test_missing_or_unknown_token_is_401_counted_by_host_only(
        sim: Simulator, token: str | None) -> None:
    reply = call(sim, "loadCodeAssist", token, prefix="/daily")
    assert reply.status_code == 401
    assert reply.json()["error"]["status"] == "UNAUTHENTICATED"
    assert sim.calls_by_host()["daily"]["loadCodeAssist"] == 1
    assert all(n == 0 for methods in sim.calls().values() for n in methods.values())


def test_refreshed_token_works_until_its_ttl_passes(sim: Simulator, clock: FakeClock) -> None:
    refresh_token = sim.credentials("pro", expiring=False)[0]
    reply = refresh(sim, refresh_token)
    assert reply.status_code == 200
    body = reply.json()
    assert body["expires_in"] == 600
    assert body["token_type"] == "Bearer"
    assert "cloud-platform" in body["scope"]
    assert call(sim, "loadCodeAssist", body["access_token"]).status_code == 200
    clock.advance(599)
    assert call(sim, "loadCodeAssist", body["access_token"]).status_code == 200
    clock.advance(1)
    assert call(sim, "loadCodeAssist", body["access_token"]).status_code == 401
    assert sim.calls()["pro"] == {"loadCodeAssist": 3, "fetchAvailableModels": 0,
                                  "retrieveUserQuotaSummary": 0, "token": 1}
    assert sim.calls_by_host()["oauth"]["token"] == 1


def test_wrong_client_is_invalid_client(sim: Simulator) -> None:
    reply = refresh(sim, sim.credentials("pro", expiring=False)[0], client_secret="guess")
    assert reply.status_code == 401
    assert reply.json()["error"] == "invalid_client"


def test_revoked_or_unknown_refresh_token_is_invalid_grant(sim: Simulator) -> None:
    refresh_token, token, _ = sim.credentials("pro", expiring=True)
    sim.revoke_refresh_token("pro")
    reply = refresh(sim, refresh_token)
    assert reply.status_code == 400
    assert reply.json() == {"error": "invalid_grant",
                            "error_description": "Token has been expired or revoked."}
    # Revocation kills the refresh token only; the issued access token lives on.
    assert call(sim, "loadCodeAssist", token).status_code == 200
    assert refresh(sim, "1//never-issued").json()["error"] == "invalid_grant"
    assert sim.calls()["pro"]["token"] == 1


def test_expired_access_tokens_answer_401_but_a_refresh_recovers(sim: Simulator) -> None:
    refresh_token, issued, _ = sim.credentials("pro", expiring=True)
    static = access_token(sim, "pro")
    sim.expire_access_tokens("pro")
    assert call(sim, "loadCodeAssist", static).status_code == 401
    assert call(sim, "loadCodeAssist", issued).status_code == 401
    assert sim.calls()["pro"]["loadCodeAssist"] == 2  # still attributed to the account
    fresh = refresh(sim, refresh_token).json()["access_token"]
    assert call(sim, "loadCodeAssist", fresh).status_code == 200
    assert {refresh_token, issued, static, fresh} <= set(sim.issued_tokens())
    assert call(sim, "loadCodeAssist", access_token(sim, "ultra")).status_code == 200


# -- drain and reset -------------------------------------------------------------------


def test_quotas_drain_linearly_with_the_clock(sim: Simulator, clock: FakeClock) -> None:
    sim.set_model_fraction("ultra", "gemini-3-flash", 0.9)
    sim.set_pool_fraction("ultra", "gemini", "weekly", 0.8)
    clock.advance(1800)  # drain 0.5/h
    assert sim.model_fraction("ultra", "gemini-3-flash") == pytest.approx(0.65)
    assert sim.pool_fraction("ultra", "gemini", "weekly") == pytest.approx(0.55)
    entry = fetch(sim, "ultra").json()["models"]["gemini-3-flash"]
    assert entry["quotaInfo"]["remainingFraction"] == pytest.approx(0.65)
    clock.advance(3 * 3600)
    assert sim.pool_fraction("ultra", "gemini", "weekly") == 0.0


def test_quota_resets_at_its_reset_time_then_every_period(
        sim: Simulator, clock: FakeClock) -> None:
    sim.set_model_fraction("ultra", "claude-sonnet-4-5", 0.3)
    sim.set_pool_fraction("ultra", "claude-gpt", "weekly", 0.1)
    models = fetch(sim, "ultra").json()["models"]
    reset = parse_rfc3339(models["claude-sonnet-4-5"]["quotaInfo"]["resetTime"])
    buckets = fetch(sim, "ultra", "retrieveUserQuotaSummary").json()["groups"][1]["buckets"]
    weekly_reset = parse_rfc3339(buckets[1]["resetTime"])

    clock.now = reset - 1
    expected = max(0.0, 0.3 - 0.5 * (reset - 1 - START) / 3600)
    assert sim.model_fraction("ultra", "claude-sonnet-4-5") == pytest.approx(expected)
    clock.now = reset + 3600  # an hour after the reset, drained 0.5
    assert sim.model_fraction("ultra", "claude-sonnet-4-5") == pytest.approx(0.5)
    entry = fetch(sim, "ultra").json()["models"]["claude-sonnet-4-5"]["quotaInfo"]
    assert parse_rfc3339(entry["resetTime"]) == reset + 5 * 3600

    clock.now = max(weekly_reset, clock.now) + 60
    expected = 1 - 0.5 * (clock.now - weekly_reset) / 3600
    assert sim.pool_fraction("ultra", "claude-gpt", "weekly") == pytest.approx(expected)
    buckets = fetch(sim, "ultra", "retrieveUserQuotaSummary").json()["groups"][1]["buckets"]
    assert parse_rfc3339(buckets[1]["resetTime"]) == weekly_reset + 7 * 86400


def test_exhausted_account_stays_at_zero_until_reset(sim: Simulator, clock: FakeClock) -> None:
    sim.exhaust("pro")
    clock.advance(60)
    assert all(sim.model_fraction("pro", m) == 0.0 for m in MODEL_IDS)
    groups = fetch(sim, "pro", "retrieveUserQuotaSummary").json()["groups"]
    assert [b["remainingFraction"] for g in groups for b in g["buckets"]] == [0, 0, 0, 0]
    weekly_reset = parse_rfc3339(groups[0]["buckets"][1]["resetTime"])
    info = fetch(sim, "pro").json()["models"]["gemini-3-pro-high"]["quotaInfo"]
    reset = parse_rfc3339(info["resetTime"])
    clock.now = reset - 1
    assert sim.model_fraction("pro", "gemini-3-pro-high") == 0.0
    clock.now = reset
    assert sim.model_fraction("pro", "gemini-3-pro-high") == 1.0
    if weekly_reset > reset:
        clock.now = weekly_reset - 1
        assert sim.pool_fraction("pro", "gemini", "weekly") == 0.0
    clock.now = weekly_reset
    assert sim.pool_fraction("pro", "gemini", "weekly") == 1.0


def test_changing_drain_keeps_the_current_value(sim: Simulator, clock: FakeClock) -> None:
    sim.set_model_fraction("pro", "gemini-3-flash", 0.5)
    sim.set_drain("pro", 1.0)
    assert sim.model_fraction("pro", "gemini-3-flash") == pytest.approx(0.5)
    clock.advance(900)
    assert sim.model_fraction("pro", "gemini-3-flash") == pytest.approx(0.25)


def test_fraction_none_omits_remaining_fraction(sim: Simulator) -> None:
    sim.set_model_fraction("pro", "gemini-3-flash", None)
    info = fetch(sim, "pro").json()["models"]["gemini-3-flash"]["quotaInfo"]
    assert "remainingFraction" not in info
    assert "resetTime" in info


@pytest.mark.parametrize(("call_args", "message"), [
    (("nobody", "gemini-3-flash", 0.5), "no simulated account 'nobody'"),
    (("pro", "chat_20706", 0.5), "no model quota 'chat_20706'"),
])
def test_controls_name_what_is_unknown(
        sim: Simulator, call_args: tuple[str, str, float], message: str) -> None:
    with pytest.raises(KeyError, match=message):
        sim.set_model_fraction(*call_args)


def test_fraction_out_of_range_is_rejected(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="from 0 to 1"):
        sim.set_pool_fraction("pro", "gemini", "5h", 1.5)


# -- hosts and call counting -----------------------------------------------------------


def test_calls_are_counted_by_account_method_and_host(sim: Simulator) -> None:
    fetch(sim, "pro", prefix="/daily")
    fetch(sim, "pro", prefix="")  # a bare base URL is the prod host
    fetch(sim, "pro", "retrieveUserQuotaSummary", prefix="/prod")
    call(sim, "loadCodeAssist", access_token(sim, "free"), prefix="/daily")
    assert sim.calls()["pro"] == {"loadCodeAssist": 0, "fetchAvailableModels": 2,
                                  "retrieveUserQuotaSummary": 1, "token": 0}
    assert sim.calls()["free"]["loadCodeAssist"] == 1
    hosts = sim.calls_by_host()
    # Gemini CLI's retrieveUserQuota shares the Google hosts.
    assert hosts["daily"] == {"loadCodeAssist": 1, "fetchAvailableModels": 1,
                              "retrieveUserQuotaSummary": 0, "retrieveUserQuota": 0,
                              "token": 0}
    assert hosts["prod"]["fetchAvailableModels"] == 1
    assert hosts["prod"]["retrieveUserQuotaSummary"] == 1
    sim.reset_calls()
    assert sim.calls()["pro"]["fetchAvailableModels"] == 0
    assert sim.calls_by_host()["daily"]["loadCodeAssist"] == 0


def test_unknown_path_is_404(sim: Simulator) -> None:
    reply = requests.get(sim.base_url + "/v1internal:loadCodeAssist", timeout=5)
    assert reply.status_code == 404
    assert requests.post(sim.base_url + "/staging/v1internal:x", timeout=5).status_code == 404


# -- faults ----------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status", "message"), [
    ("401", 401, "invalid authentication credentials"),
    ("403", 403, "Verify your account to continue."),
    ("403_license", 403, "You do not have a valid license of this product."),
    ("500", 500, "Internal error"),
    ("503", 503, "unavailable"),
])
def test_error_faults_answer_google_style_errors(
        sim: Simulator, kind: str, status: int, message: str) -> None:
    sim.set_fault("pro", kind)
    for method in ("loadCodeAssist", "fetchAvailableModels", "retrieveUserQuotaSummary"):
        reply = fetch(sim, "pro", method)
        assert reply.status_code == status
        error = reply.json()["error"]
        assert error["code"] == status
        assert message in error["message"]
    assert fetch(sim, "ultra").status_code == 200  # other accounts unaffected


def test_429_fault_carries_retry_delay(sim: Simulator) -> None:
    sim.set_fault("pro", "429", retry_delay=7.5)
    reply = fetch(sim, "pro")
    assert reply.status_code == 429
    error = reply.json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    info, retry = error["details"]
    assert info["reason"] == "RATE_LIMIT_EXCEEDED"
    assert info["metadata"] == {"quotaResetDelay": "7.5s"}
    assert retry == {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7.5s"}


def test_hang_fault_delays_the_reply(sim: Simulator) -> None:
    sim.set_fault("pro", "hang", hang_seconds=0.4, times=1)
    began = time.monotonic()
    reply = fetch(sim, "pro")
    assert time.monotonic() - began >= 0.4
    assert reply.status_code == 200
    assert "models" in reply.json()


def test_hang_fault_ends_promptly_when_the_simulator_stops(clock: FakeClock) -> None:
    sim = Simulator([SimAccount("pro")], clock=clock).start()
    sim.set_fault("pro", "hang", hang_seconds=30)
    token = access_token(sim, "pro")
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(call, sim, "loadCodeAssist", token, timeout=10)
        end = time.monotonic() + 5
        while sim.calls()["pro"]["loadCodeAssist"] == 0:  # until the call hangs there
            assert time.monotonic() < end, "the call never reached the simulator"
            time.sleep(0.01)
        began = time.monotonic()
        sim.stop()
        with pytest.raises(requests.ConnectionError):
            pending.result()
        assert time.monotonic() - began < 2


def test_malformed_fault_is_truncated_json_with_status_200(sim: Simulator) -> None:
    sim.set_fault("pro", "malformed")
    reply = fetch(sim, "pro")
    assert reply.status_code == 200
    assert reply.text.startswith('{"models"')
    with pytest.raises(ValueError):
        json.loads(reply.text)


def test_html_fault_is_an_html_page(sim: Simulator) -> None:
    sim.set_fault("pro", "html")
    reply = fetch(sim, "pro")
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/html")
    assert reply.text.startswith("<!DOCTYPE html>")


def test_wrong_types_fault_is_valid_json_with_wrong_types(sim: Simulator) -> None:
    sim.set_fault("pro", "wrong_types")
    models = fetch(sim, "pro").json()["models"]
    assert isinstance(models, list)
    assert models[0]["gemini-3-flash"]["quotaInfo"]["remainingFraction"] == "lots"
    groups = fetch(sim, "pro", "retrieveUserQuotaSummary").json()["groups"]
    assert not isinstance(groups, list)
    load = call(sim, "loadCodeAssist", access_token(sim, "pro")).json()
    assert isinstance(load["cloudaicompanionProject"], int)
    sim.set_fault("pro", "wrong_types", method="token")
    token = refresh(sim, sim.credentials("pro", expiring=False)[0]).json()
    assert not isinstance(token["access_token"], str)


def test_large_fault_is_a_valid_20_mb_body(sim: Simulator) -> None:
    sim.set_fault("pro", "large", times=1)
    reply = fetch(sim, "pro")
    assert reply.status_code == 200
    assert int(reply.headers["Content-Length"]) == len(reply.content) > LARGE_BODY_BYTES
    body = reply.json()
    assert list(body["models"])[:5] == MODEL_IDS
    assert len(body["padding"]) == LARGE_BODY_BYTES


def test_not_onboarded_fault_hides_the_project(sim: Simulator) -> None:
    sim.set_fault("pro", "not_onboarded", method="loadCodeAssist")
    body = call(sim, "loadCodeAssist", access_token(sim, "pro")).json()
    assert "cloudaicompanionProject" not in body
    assert fetch(sim, "pro").status_code == 200  # only loadCodeAssist was targeted


def test_faults_match_method_and_host(sim: Simulator) -> None:
    sim.set_fault("pro", "503", method="fetchAvailableModels", host="daily")
    assert fetch(sim, "pro", prefix="/daily").status_code == 503
    assert fetch(sim, "pro", prefix="/prod").status_code == 200
    assert fetch(sim, "pro", prefix="").status_code == 200
    assert fetch(sim, "pro", "retrieveUserQuotaSummary", prefix="/daily").status_code == 200
    # Calls are counted before faults apply.
    assert sim.calls()["pro"]["fetchAvailableModels"] == 3


def test_fault_with_times_applies_to_the_next_n_calls_only(sim: Simulator) -> None:
    sim.set_fault("pro", "500", times=2)
    assert [fetch(sim, "pro").status_code for _ in range(3)] == [500, 500, 200]
    assert sim.state()["faults"] == []


def test_token_endpoint_faults(sim: Simulator) -> None:
    sim.set_fault("pro", "503", method="token", times=1)
    refresh_token = sim.credentials("pro", expiring=False)[0]
    assert refresh(sim, refresh_token).status_code == 503
    assert refresh(sim, refresh_token).status_code == 200
    assert sim.calls()["pro"]["token"] == 2


def test_clear_faults_by_account_or_all(sim: Simulator) -> None:
    sim.set_fault("pro", "500")
    sim.set_fault("ultra", "500")
    sim.clear_faults("pro")
    assert fetch(sim, "pro").status_code == 200
    assert fetch(sim, "ultra").status_code == 500
    sim.clear_faults()
    assert fetch(sim, "ultra").status_code == 200


def test_bad_fault_is_rejected_with_every_problem_named(sim: Simulator) -> None:
    with pytest.raises(ValueError, match=r"kind 'boom'.*host 'staging'.*times"):
        sim.set_fault("pro", "boom", host="staging", times=0)
    with pytest.raises(KeyError, match="nobody"):
        sim.set_fault("nobody", "500")


# -- server behaviour ------------------------------------------------------------------


def test_latency_delays_replies_without_serialising_them(clock: FakeClock) -> None:
    with Simulator([SimAccount("pro")], clock=clock, latency=0.3) as sim:
        token = access_token(sim, "pro")
        began = time.monotonic()
        with ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(lambda _: call(sim, "loadCodeAssist", token), range(20)))
        elapsed = time.monotonic() - began
    assert [r.status_code for r in replies] == [200] * 20
    assert 0.3 <= elapsed < 3.0  # one after another would take 6 s


def test_keep_alive_serves_several_requests_on_one_connection(sim: Simulator) -> None:
    port = int(sim.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Authorization": f"Bearer {access_token(sim, 'pro')}",
               "Content-Type": "application/json"}
    for _ in range(3):
        conn.request("POST", "/daily/v1internal:loadCodeAssist", body=b"{}", headers=headers)
        reply = conn.getresponse()
        assert reply.status == 200
        assert reply.getheader("Content-Length") == str(len(reply.read()))
        assert reply.getheader("Connection") != "close"
    assert conn.sock is not None  # never reconnected
    conn.close()


def test_stopped_simulator_refuses_connections_and_drops_idle_ones(clock: FakeClock) -> None:
    sim = Simulator([SimAccount("pro")], clock=clock).start()
    base_url = sim.base_url
    session = requests.Session()
    assert session.post(base_url + "/prod/v1internal:loadCodeAssist", timeout=5).status_code == 401
    sim.stop()
    sim.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        session.post(base_url + "/prod/v1internal:loadCodeAssist", timeout=5)
    with pytest.raises(RuntimeError, match="not running"):
        _ = sim.base_url


def test_many_concurrent_connections_are_accepted(clock: FakeClock) -> None:
    with Simulator(bench_accounts(5), clock=clock, latency=0.2) as sim:
        port = int(sim.base_url.rsplit(":", 1)[1])
        socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(300)]
        request = (b"POST /v1internal:loadCodeAssist HTTP/1.1\r\n"
                   b"Host: x\r\nContent-Length: 0\r\n\r\n")
        for s in socks:
            s.sendall(request)
        statuses = {s.recv(64).split(b" ")[1] for s in socks}
        for s in socks:
            s.close()
    assert statuses == {b"401"}


# -- control over HTTP -----------------------------------------------------------------


def control(sim: Simulator, verb: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(verb, f"{sim.base_url}/_sim/{path}", json=body, timeout=5)


def test_http_state_shows_accounts_fractions_and_faults(sim: Simulator) -> None:
    sim.set_fault("pro", "429", times=3)
    state = control(sim, "GET", "state").json()
    assert list(state["accounts"]) == ["pro", "ultra", "std", "free", "new"]
    pro = state["accounts"]["pro"]
    assert pro["tier"] == "g1-pro-tier"
    assert pro["tier_name"] == "Google AI Pro"
    assert pro["models"]["gemini-3-flash"]["fraction"] == sim.model_fraction(
        "pro", "gemini-3-flash")
    assert pro["pools"]["claude-gpt/weekly"]["fraction"] == sim.pool_fraction(
        "pro", "claude-gpt", "weekly")
    assert state["accounts"]["new"]["project"] is None
    assert state["faults"] == [{"account": "pro", "kind": "429", "method": "*", "host": "*",
                                "times": 3, "retry_delay": 3.2, "hang_seconds": 60.0}]


def test_http_calls_and_reset(sim: Simulator) -> None:
    fetch(sim, "pro", prefix="/daily")
    calls = control(sim, "GET", "calls").json()
    assert calls["accounts"]["pro"]["fetchAvailableModels"] == 1
    assert calls["hosts"]["daily"]["fetchAvailableModels"] == 1
    assert control(sim, "POST", "reset-calls").json() == {"ok": True}
    assert sim.calls()["pro"]["fetchAvailableModels"] == 0


def test_http_fault_routes(sim: Simulator) -> None:
    reply = control(sim, "POST", "accounts/pro/fault",
                    {"kind": "503", "method": "fetchAvailableModels", "times": 1})
    assert reply.status_code == 200
    assert fetch(sim, "pro").status_code == 503
    assert fetch(sim, "pro").status_code == 200
    control(sim, "POST", "accounts/pro/fault", {"kind": "500"})
    assert control(sim, "DELETE", "accounts/pro/faults").status_code == 200
    assert fetch(sim, "pro").status_code == 200


def test_http_quota_routes(sim: Simulator, clock: FakeClock) -> None:
    control(sim, "POST", "accounts/pro/model-fraction", {"model": "gemini-3-flash",
                                                         "fraction": 0.25})
    assert sim.model_fraction("pro", "gemini-3-flash") == 0.25
    control(sim, "POST", "accounts/pro/model-fraction", {"model": "gemini-3-flash",
                                                         "fraction": None})
    assert sim.model_fraction("pro", "gemini-3-flash") is None
    control(sim, "POST", "accounts/pro/pool-fraction",
            {"pool": "gemini", "window": "5h", "fraction": 0.5})
    assert sim.pool_fraction("pro", "gemini", "5h") == 0.5
    control(sim, "POST", "accounts/pro/drain", {"per_hour": 1.0})
    clock.advance(360)
    assert sim.pool_fraction("pro", "gemini", "5h") == pytest.approx(0.4)
    control(sim, "POST", "accounts/ultra/exhaust")
    assert sim.pool_fraction("ultra", "gemini", "weekly") == 0.0


def test_http_token_routes(sim: Simulator) -> None:
    refresh_token, token, _ = sim.credentials("pro", expiring=True)
    control(sim, "POST", "accounts/pro/expire-access-tokens")
    assert call(sim, "loadCodeAssist", token).status_code == 401
    control(sim, "POST", "accounts/pro/revoke-refresh-token")
    assert refresh(sim, refresh_token).json()["error"] == "invalid_grant"


@pytest.mark.parametrize(("verb", "path", "body", "status", "message"), [
    ("POST", "accounts/nobody/exhaust", None, 404, "no simulated account 'nobody'"),
    ("POST", "accounts/pro/model-fraction", {"fraction": 0.5}, 400, "missing field 'model'"),
    ("POST", "accounts/pro/pool-fraction", {"pool": "x", "window": "5h", "fraction": 0.5},
     404, "no pool 'x'"),
    ("POST", "accounts/pro/fault", {"kind": "meltdown"}, 400, "kind 'meltdown'"),
    ("POST", "accounts/pro/fault", {"kind": "500", "colour": "red"}, 400, "colour"),
    ("POST", "accounts/pro/fault", [1, 2], 400, "JSON object"),
    ("POST", "accounts/pro/fault", {"kind": "429", "retry_delay": "soon"}, 400,
     "retry_delay must be a number >= 0, not 'soon'"),
    ("POST", "accounts/pro/fault", {"kind": "500", "times": 1.5}, 400, "times must be"),
    ("POST", "accounts/pro/drain", {"per_hour": -1}, 400, "per_hour must be a number >= 0"),
    ("POST", "accounts/pro/model-fraction", {"model": "gemini-3-flash", "fraction": "lots"},
     400, "from 0 to 1"),
    ("POST", "accounts/pro/pool-fraction", {"pool": "gemini", "window": "5h", "fraction": 2},
     400, "from 0 to 1"),
    ("GET", "accounts/pro/exhaust", None, 404, "no control route"),
    ("GET", "nothing", None, 404, "no control route"),
])
def test_http_control_errors_name_the_problem(
        sim: Simulator, verb: str, path: str, body: Any, status: int, message: str) -> None:
    reply = control(sim, verb, path, body)
    assert reply.status_code == status
    assert message in reply.json()["error"]


def test_http_control_rejects_invalid_json(sim: Simulator) -> None:
    reply = requests.post(f"{sim.base_url}/_sim/accounts/pro/fault", data=b"{nope", timeout=5)
    assert reply.status_code == 400
    assert "error" in reply.json()


# -- exporter_config -------------------------------------------------------------------


STYLE_ACCOUNTS = [SimAccount(style.replace("_", "-"), credential_style=style)
                  for style in ("refresh_token", "refresh_token_file", "access_token",
                                "access_token_file", "file")]


@pytest.fixture
def style_sim(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator([*STYLE_ACCOUNTS, SimAccount("gone", project=None,
                                                credential_style="file")],
                   clock=clock, token_ttl=3600) as s:
        yield s


def test_exporter_config_points_every_account_at_the_simulator(
        style_sim: Simulator, tmp_path: Path) -> None:
    config = style_sim.exporter_config(tmp_path, defaults={"timeout": "5s"})
    assert config["defaults"] == {"timeout": "5s"}
    accounts: list[dict[str, Any]] = config["accounts"]  # type: ignore[assignment]
    assert [a["name"] for a in accounts] == [a.name for a in STYLE_ACCOUNTS] + ["gone"]
    for entry in accounts:
        assert entry["provider"] == "antigravity"
        assert entry["endpoints"] == style_sim.endpoints
        assert entry["endpoints"][0].endswith("/daily")
        assert entry["token_url"] == style_sim.token_url
    assert yaml.safe_load(yaml.safe_dump(config)) == config
    assert "defaults" not in style_sim.exporter_config(tmp_path, accounts=["file"])


def _entry(sim: Simulator, tmp_path: Path, name: str) -> dict[str, Any]:
    return sim.exporter_config(tmp_path, accounts=[name])["accounts"][0]  # type: ignore[index,no-any-return]


@pytest.mark.parametrize("style", ["refresh_token", "refresh_token_file"])
def test_refresh_token_styles_refresh_against_the_simulator(
        style_sim: Simulator, tmp_path: Path, style: str) -> None:
    entry = _entry(style_sim, tmp_path, style.replace("_", "-"))
    assert entry["oauth_client"] == {"client_id": "sim-client-id",
                                     "client_secret": "sim-client-secret"}
    (key, value), = entry["credentials"].items()
    assert key == style
    if style.endswith("_file"):
        path = Path(value)
        assert path.parent == tmp_path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        value = path.read_text().strip()
    token = refresh(style_sim, value).json()["access_token"]
    assert call(style_sim, "loadCodeAssist", token).status_code == 200


@pytest.mark.parametrize("style", ["access_token", "access_token_file"])
def test_access_token_styles_carry_a_token_that_never_expires(
        style_sim: Simulator, clock: FakeClock, tmp_path: Path, style: str) -> None:
    entry = _entry(style_sim, tmp_path, style.replace("_", "-"))
    assert "oauth_client" not in entry
    (key, value), = entry["credentials"].items()
    assert key == style
    token = Path(value).read_text().strip() if style.endswith("_file") else value
    clock.advance(30 * 86400)
    assert call(style_sim, "loadCodeAssist", token).status_code == 200


def test_file_style_writes_a_cliproxyapi_auth_file(
        style_sim: Simulator, clock: FakeClock, tmp_path: Path) -> None:
    entry = _entry(style_sim, tmp_path, "file")
    path = Path(entry["credentials"]["file"])
    assert path.name == "antigravity-file@example.invalid.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    auth = json.loads(path.read_text())
    example = json.loads((FIXTURES / "credentials.cliproxyapi.json").read_text())
    assert shape(auth) == shape(example)
    assert auth["type"] == "antigravity"
    assert auth["email"] == "file@example.invalid"
    assert auth["project_id"] == project_of(style_sim, "file")
    assert auth["expires_in"] == 3600
    assert auth["timestamp"] == int(START * 1000)
    assert parse_rfc3339(auth["expired"]) == START + 3600
    assert call(style_sim, "loadCodeAssist", auth["access_token"]).status_code == 200
    clock.advance(3600)
    assert call(style_sim, "loadCodeAssist", auth["access_token"]).status_code == 401
    assert refresh(style_sim, auth["refresh_token"]).status_code == 200
    gone = json.loads(Path(_entry(style_sim, tmp_path, "gone")["credentials"]["file"])
                      .read_text())
    assert "project_id" not in gone


def test_exporter_config_names_an_unknown_account(style_sim: Simulator, tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="nobody"):
        style_sim.exporter_config(tmp_path, accounts=["nobody"])


# -- account sets ----------------------------------------------------------------------


def test_antigravity_reports_fractions_in_20_percent_steps_rounded_up(clock: FakeClock) -> None:
    accounts = [SimAccount("stepped", drain_per_hour=0.0,
                           model_fractions={"gemini-3-flash": 0.05, "gemini-3-pro-high": 0.4,
                                            "claude-sonnet-4-5": 0.0},
                           pool_fractions={"gemini/5h": 0.61})]
    with Simulator(accounts, clock=clock) as sim:
        models = fetch(sim, "stepped").json()["models"]
        fractions = {m: models[m]["quotaInfo"].get("remainingFraction") for m in models
                     if "quotaInfo" in models[m]}
        # Almost nothing left still shows "20%"; exactly a step stays; 0 is left out.
        assert fractions["gemini-3-flash"] == 0.2
        assert fractions["gemini-3-pro-high"] == 0.4
        assert fractions["claude-sonnet-4-5"] is None
        groups = fetch(sim, "stepped", "retrieveUserQuotaSummary").json()["groups"]
        bucket = next(b for g in groups for b in g["buckets"] if b["bucketId"] == "gemini-5h")
        assert bucket["remainingFraction"] == 0.8
        assert sim.model_fraction("stepped", "gemini-3-flash") == 0.2
        assert sim.model_fraction("stepped", "gemini-3-flash", exact=True) == 0.05
        every = [f for f in fractions.values() if f is not None]
        assert all(round(f * 5, 9) == int(round(f * 5, 9)) for f in every), every


def test_demo_accounts_show_every_state(tmp_path: Path) -> None:
    accounts = {a.name: a for a in demo_accounts()}
    assert len(accounts) >= 6
    assert all(name.startswith("demo-") for name in accounts)
    assert {a.credential_style for a in accounts.values()} == {
        "refresh_token", "refresh_token_file", "access_token", "access_token_file", "file",
        "api_key", "api_key_file", "claude_settings", "opencode"}
    assert accounts["demo-ultra"].tier == "g1-ultra-tier"
    assert accounts["demo-free"].tier == "free-tier"
    assert accounts["demo-standard"].tier == "standard-tier"
    assert accounts["demo-not-onboarded"].project is None
    assert (accounts["demo-claude-enterprise"].provider,
            accounts["demo-claude-enterprise"].tier) == ("claude", "enterprise")
    assert all(a.drain_per_hour >= 0.3 for a in accounts.values() if a.project and not a.revoked)
    with Simulator() as sim:  # None -> the demo accounts
        assert sim.account_names == list(accounts)
        assert sim.model_fraction(  # type: ignore[operator]
            "demo-pro-2", "claude-sonnet-4-5", exact=True) <= 0.1
        revoked = sim.credentials("demo-revoked", expiring=False)[0]
        assert refresh(sim, revoked).json()["error"] == "invalid_grant"
        assert fetch(sim, "demo-free", "retrieveUserQuotaSummary").status_code == 403
        # The traps: 100% in an empty pool, a fraction left out, a failing summary.
        models = fetch(sim, "demo-pool-empty", "fetchAvailableModels").json()["models"]
        assert models["claude-sonnet-4-5"]["quotaInfo"]["remainingFraction"] > 0.99
        assert sim.pool_fraction("demo-pool-empty", "claude-gpt", "5h") == 0.0
        omitted = fetch(sim, "demo-omitted", "fetchAvailableModels").json()["models"]
        assert "remainingFraction" not in omitted["claude-opus-4-5-thinking"]["quotaInfo"]
        assert "resetTime" in omitted["claude-opus-4-5-thinking"]["quotaInfo"]
        groups = fetch(sim, "demo-omitted", "retrieveUserQuotaSummary").json()["groups"]
        empty = next(b for g in groups for b in g["buckets"] if b["bucketId"] == "3p-5h")
        assert "remainingFraction" not in empty and "resetTime" in empty
        fresh = fetch(sim, "demo-fresh", "fetchAvailableModels").json()["models"]
        assert all("remainingFraction" not in fresh[m]["quotaInfo"] for m in MODEL_IDS)
        assert sim.pool_fraction("demo-fresh", "claude-gpt", "5h") == 0.8
        assert fetch(sim, "demo-summary-down", "retrieveUserQuotaSummary").status_code == 503
        assert fetch(sim, "demo-summary-down", "fetchAvailableModels").status_code == 200
        enterprise = sim.state()["accounts"]["demo-claude-enterprise"]["pools"]
        assert enterprise["extra-usage/monthly"]["fraction"] > 0.5  # a spend limit, no windows
        assert {k for k, v in enterprise.items() if v["fraction"] is not None} == {
            "extra-usage/monthly"}
        config = sim.exporter_config(tmp_path)
        assert len(config["accounts"]) == len(accounts)  # type: ignore[arg-type]


def test_bench_accounts_are_numbered_pro_accounts() -> None:
    accounts = bench_accounts(12)
    assert [a.name for a in accounts[:2]] == ["bench-0001", "bench-0002"]
    assert accounts[-1].name == "bench-0012"
    assert {(a.tier, a.credential_style) for a in accounts} == {("g1-pro-tier", "refresh_token")}


def test_bad_sim_accounts_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown tier 'gold'"):
        SimAccount("x", tier="gold")
    with pytest.raises(ValueError, match="unknown credential_style 'cookie'"):
        SimAccount("x", credential_style="cookie")
    with pytest.raises(ValueError,
                       match=r"no such model, pool/window or method: \['gemini/daily'\]"):
        SimAccount("x", pool_fractions={"gemini/daily": 0.5})
    with pytest.raises(ValueError, match="fraction must be a number from 0 to 1 or None, not 2"):
        SimAccount("x", pool_fractions={"gemini/5h": 2})
    with pytest.raises(ValueError, match="duplicate simulated account name 'x'"):
        Simulator([SimAccount("x"), SimAccount("x")])


# -- command line ----------------------------------------------------------------------


def test_cli_serves_until_sigterm_and_writes_a_config(tmp_path: Path) -> None:
    config_path = tmp_path / "sim" / "config.yml"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter.simulator", "--listen", "127.0.0.1:0",
         "--accounts", "3", "--latency", "0.01", "--write-config", str(config_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        assert line["endpoints"] == [line["base_url"] + "/daily", line["base_url"] + "/prod"]
        assert line["token_url"] == line["base_url"] + "/token"
        config = yaml.safe_load(config_path.read_text())
        assert [a["name"] for a in config["accounts"]] == ["bench-0001", "bench-0002",
                                                           "bench-0003"]
        entry = config["accounts"][0]
        form = {"grant_type": "refresh_token",
                "refresh_token": entry["credentials"]["refresh_token"],
                **entry["oauth_client"]}
        token = requests.post(entry["token_url"], data=form, timeout=5).json()["access_token"]
        reply = requests.post(entry["endpoints"][0] + "/v1internal:loadCodeAssist", json={},
                              headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert reply.json()["paidTier"]["id"] == "g1-pro-tier"
        calls = requests.get(line["base_url"] + "/_sim/calls", timeout=5).json()
        assert calls["accounts"]["bench-0001"]["token"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
    assert proc.returncode == 0, stderr


def test_cli_rejects_a_bad_listen_address(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--listen", "localhost"])
    assert exit_info.value.code == 2
    assert "expected HOST:PORT" in capsys.readouterr().err


def test_cli_reports_an_address_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_info:
            main(["--listen", f"127.0.0.1:{port}", "--accounts", "1"])
    assert exit_info.value.code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_written_config_is_accepted_by_the_exporter_config_loader(
        style_sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.yml"
    path.parent.mkdir()
    write_config(style_sim, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds refresh tokens
    config = load_config(path, env={})
    assert [(a.name, a.credentials.kind) for a in config.accounts] == [
        (a.name, a.credential_style) for a in STYLE_ACCOUNTS] + [("gone", "file")]
    assert all(a.endpoints == tuple(style_sim.endpoints) for a in config.accounts)
    assert all(a.token_url == style_sim.token_url for a in config.accounts)
