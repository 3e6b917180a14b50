"""The simulated GitHub Copilot and Gemini CLI upstreams, over real HTTP on loopback."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from exporter.providers import load_config
from exporter.providers.copilot.credentials import copilot_accounts, parse_copilot
from exporter.providers.copilot.parse import parse_user
from exporter.providers.google.credentials import parse_borrowed
from exporter.simulator import SimAccount, Simulator, write_config
from exporter.timefmt import parse_rfc3339
from tests.integration.test_simulator_antigravity import START, FakeClock

ACCOUNTS = [
    SimAccount("pro", provider="copilot", drain_per_hour=0.0,
               pool_fractions={"premium-interactions/monthly": 0.14}),
    SimAccount("free", provider="copilot", tier="individual", drain_per_hour=0.0,
               pool_fractions={"chat/monthly": 0.5, "completions/monthly": 0.25}),
    SimAccount("biz", provider="copilot", tier="business", credential_style="shared_file"),
    SimAccount("plus", provider="copilot", tier="individual_pro_plus", drain_per_hour=0.0,
               pool_fractions={"premium-interactions/monthly": 0.0}),
    SimAccount("none", provider="copilot", tier="no_access", credential_style="shared_file"),
    SimAccount("gstd", provider="gemini-cli", drain_per_hour=0.0,
               model_fractions={"gemini-2.5-pro": 0.5, "gemini-2.5-flash": 1.0,
                                "gemini-2.5-flash-lite": None}),
    SimAccount("gfree", provider="gemini-cli", tier="free-tier", credential_style="cliproxyapi"),
    SimAccount("ag", drain_per_hour=0.0),
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator(ACCOUNTS, clock=clock, token_ttl=600) as s:
        yield s


def token_of(sim: Simulator, account: str) -> str:
    return sim.credentials(account, expiring=False)[1]


def copilot_get(sim: Simulator, token: str | None, scheme: str = "token") -> requests.Response:
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    return requests.get(f"{sim.base_url}/copilot/copilot_internal/user", headers=headers,
                        timeout=5)


def google_post(sim: Simulator, method: str, token: str, body: Any = None,
                host: str = "prod") -> requests.Response:
    return requests.post(f"{sim.base_url}/{host}/v1internal:{method}", json=body or {},
                         headers={"Authorization": f"Bearer {token}"}, timeout=5)


def project_of(sim: Simulator, account: str) -> str:
    return str(sim.state()["accounts"][account]["project"])


# -- Copilot ---------------------------------------------------------------------------


def test_copilot_pro_counts_premium_requests_and_has_unlimited_chat(sim: Simulator) -> None:
    reply = copilot_get(sim, token_of(sim, "pro"))
    assert reply.status_code == 200
    doc = reply.json()
    assert (doc["copilot_plan"], doc["access_type_sku"], doc["login"]) == (
        "individual_pro", "monthly_subscriber_quota", "pro-gh")
    premium = doc["quota_snapshots"]["premium_interactions"]
    assert (premium["entitlement"], premium["remaining"], premium["percent_remaining"]) == (
        300, 42, 14.0)
    assert doc["quota_snapshots"]["chat"]["unlimited"] is True
    reset = parse_rfc3339(doc["quota_reset_date_utc"])
    assert reset == parse_rfc3339("2026-12-01T00:00:00Z") and doc["quota_reset_date"] == (
        "2026-12-01")
    assert copilot_get(sim, token_of(sim, "pro"), scheme="Bearer").status_code == 200


def test_copilot_premium_requests_drain_as_counts(sim: Simulator, clock: FakeClock) -> None:
    sim.set_drain("pro", 0.1)  # 30 requests an hour
    clock.advance(3600)
    premium = copilot_get(sim, token_of(sim, "pro")).json()["quota_snapshots"][
        "premium_interactions"]
    assert premium["remaining"] == 12 and premium["quota_remaining"] == 12.0
    clock.advance(2 * 3600)
    premium = copilot_get(sim, token_of(sim, "pro")).json()["quota_snapshots"][
        "premium_interactions"]
    assert premium["remaining"] == 0 and premium["percent_remaining"] == 0.0


def test_copilot_pro_plus_keeps_serving_past_its_quota_as_billed_overage(
        sim: Simulator, clock: FakeClock) -> None:
    doc = copilot_get(sim, token_of(sim, "plus")).json()
    assert (doc["copilot_plan"], doc["access_type_sku"]) == (
        "individual_pro", "plus_monthly_subscriber_quota")
    premium = doc["quota_snapshots"]["premium_interactions"]
    assert (premium["entitlement"], premium["remaining"], premium["overage_count"]) == (
        1500, 0, 0)
    assert premium["overage_permitted"] is True
    sim.set_drain("plus", 0.2)  # 300 requests an hour, all of them past the quota
    clock.advance(3600)
    doc = copilot_get(sim, token_of(sim, "plus")).json()
    premium = doc["quota_snapshots"]["premium_interactions"]
    assert (premium["remaining"], premium["percent_remaining"], premium["overage_count"]) == (
        -300, -20.0, 300)
    pool = next(p for p in parse_user(doc).pools if p.pool == "premium-interactions")
    assert (pool.remaining_fraction, pool.remaining_requests, pool.overage) == (0.0, 0.0, True)


def test_copilot_free_answers_the_older_shape(sim: Simulator) -> None:
    doc = copilot_get(sim, token_of(sim, "free")).json()
    assert "quota_snapshots" not in doc
    assert doc["monthly_quotas"] == {"chat": 50, "completions": 2000}
    assert doc["limited_user_quotas"] == {"chat": 25, "completions": 500}
    assert doc["limited_user_reset_date"] == "2026-12-01"
    assert doc["access_type_sku"] == "free_limited_copilot"


def test_copilot_business_seat_and_no_access(sim: Simulator) -> None:
    biz = copilot_get(sim, token_of(sim, "biz")).json()
    assert biz["token_based_billing"] is True and biz["quota_reset_at"] == 0
    assert biz["quota_snapshots"]["premium_interactions"] == {
        "entitlement": 0, "remaining": 0, "unlimited": False}
    assert "quota_reset_date_utc" not in biz
    none = copilot_get(sim, token_of(sim, "none")).json()
    assert (none["access_type_sku"], none["quota_snapshots"]) == ("no_access", None)


def test_copilot_refuses_other_tokens_the_github_way(sim: Simulator) -> None:
    for token in (None, "gho_unknown", token_of(sim, "gstd")):
        reply = copilot_get(sim, token)
        assert reply.status_code == 401
        assert reply.json()["message"] == "Bad credentials"
    # A Copilot token on the Google paths is a stranger there too.
    assert google_post(sim, "loadCodeAssist", token_of(sim, "pro")).status_code == 401
    sim.expire_access_tokens("pro")  # revoked
    assert copilot_get(sim, token_of(sim, "pro")).status_code == 401
    # Counted by whose token it was, the stranger's call too.
    assert sim.calls()["pro"] == {"user": 1, "loadCodeAssist": 1, "token": 0}


def test_copilot_faults_answer_in_githubs_style(sim: Simulator) -> None:
    sim.set_fault("pro", "429", host="copilot", times=1, retry_delay=2.5)
    sim.set_fault("pro", "503", method="user", times=1)
    limited = copilot_get(sim, token_of(sim, "pro"))
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "3"
    assert "rate limit" in limited.json()["message"]
    down = copilot_get(sim, token_of(sim, "pro"))
    assert (down.status_code, down.json()["message"]) == (503, "Service Unavailable")
    assert copilot_get(sim, token_of(sim, "pro")).status_code == 200
    assert sim.calls_by_host()["copilot"] == {"user": 3, "token": 0}


def test_copilot_config_styles_write_apps_json(sim: Simulator, tmp_path: Path) -> None:
    config = sim.exporter_config(tmp_path, accounts=["pro", "biz", "none"])
    accounts: list[dict[str, Any]] = config["accounts"]  # type: ignore[assignment]
    pro, biz, none = accounts
    assert pro["endpoints"] == [sim.base_url + "/copilot"]
    assert "oauth_client" not in pro and "token_url" not in pro
    own = Path(pro["credentials"]["file"])
    assert own.name == "apps.json" and own.parent.name == "github-copilot"
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
    assert parse_copilot(own.read_text(), own).access_token == token_of(sim, "pro")
    shared = Path(biz["credentials"]["file"])
    assert shared == Path(none["credentials"]["file"])
    assert [a.account_id for a in copilot_accounts(shared.read_text(), shared)] == [
        "biz-gh", "none-gh"]
    assert (biz["credentials"]["user"], none["credentials"]["user"]) == ("biz-gh", "none-gh")
    assert parse_copilot(shared.read_text(), shared, "none-gh").access_token == token_of(
        sim, "none")


# -- Gemini CLI ------------------------------------------------------------------------


def test_gemini_cli_load_code_assist_tiers(sim: Simulator) -> None:
    std = google_post(sim, "loadCodeAssist", token_of(sim, "gstd")).json()
    assert std["currentTier"]["id"] == "standard-tier" and "paidTier" not in std
    assert std["cloudaicompanionProject"] == project_of(sim, "gstd")
    free = google_post(sim, "loadCodeAssist", token_of(sim, "gfree"), host="daily").json()
    assert free["currentTier"]["id"] == "free-tier"


def test_gemini_cli_quota_buckets_look_like_upstreams(sim: Simulator) -> None:
    reply = google_post(sim, "retrieveUserQuota", token_of(sim, "gstd"),
                        {"project": project_of(sim, "gstd")})
    assert reply.status_code == 200
    buckets = reply.json()["buckets"]
    by = {(b["modelId"], b["tokenType"]): b for b in buckets}
    assert set(by) == {("gemini-2.5-pro", "REQUESTS"), ("gemini-2.5-flash", "REQUESTS"),
                       ("gemini-2.5-flash-lite", "REQUESTS"),
                       ("gemini-3-pro-preview", "REQUESTS"),
                       ("gemini-3-pro-preview", "INPUT_TOKENS")}
    pro = by["gemini-2.5-pro", "REQUESTS"]
    assert (pro["remainingFraction"], pro["remainingAmount"]) == (0.5, "750")
    # At 100% the amount is left out; at 0 both are (proto3).
    assert by["gemini-2.5-flash", "REQUESTS"] == {
        "modelId": "gemini-2.5-flash", "tokenType": "REQUESTS", "remainingFraction": 1,
        "resetTime": pro["resetTime"]}
    assert set(by["gemini-2.5-flash-lite", "REQUESTS"]) == {"modelId", "tokenType", "resetTime"}
    assert "remainingAmount" not in by["gemini-3-pro-preview", "INPUT_TOKENS"]
    assert len({b["resetTime"] for b in buckets}) == 1  # one daily reset
    reset = parse_rfc3339(pro["resetTime"])
    assert START < reset <= START + 86400


def test_gemini_cli_quota_needs_the_accounts_project(sim: Simulator) -> None:
    token = token_of(sim, "gstd")
    assert google_post(sim, "retrieveUserQuota", token).status_code == 400
    wrong = google_post(sim, "retrieveUserQuota", token, {"project": "someone-else"})
    assert wrong.status_code == 403


def test_google_hosts_answer_each_account_through_its_own_upstream(sim: Simulator) -> None:
    # Antigravity has no retrieveUserQuota, Gemini CLI no fetchAvailableModels.
    ag = google_post(sim, "retrieveUserQuota", token_of(sim, "ag"),
                     {"project": project_of(sim, "ag")})
    gcli = google_post(sim, "fetchAvailableModels", token_of(sim, "gstd"),
                       {"project": project_of(sim, "gstd")})
    assert ag.status_code == 404 and gcli.status_code == 404
    assert sim.calls()["gstd"]["fetchAvailableModels"] == 1


def test_gemini_cli_file_style_writes_gemini_clis_oauth_creds(
        sim: Simulator, tmp_path: Path) -> None:
    sim.account("gstd").credential_style = "file"
    entry: dict[str, Any] = sim.exporter_config(tmp_path, accounts=["gstd"])[
        "accounts"][0]  # type: ignore[index]
    path = Path(entry["credentials"]["file"])
    assert path.parts[-2:] == (".gemini", "oauth_creds.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert set(doc) == {"access_token", "refresh_token", "scope", "token_type", "id_token",
                        "expiry_date"}
    creds = parse_borrowed(path.read_text(), path)
    assert (creds.tool, creds.provider, creds.email) == (
        "gemini-cli", "gemini-cli", "gstd@example.invalid")
    assert creds.expires_at == START + 600 and doc["expiry_date"] == int((START + 600) * 1000)
    assert entry["oauth_client"] == {"client_id": sim.client_id,
                                     "client_secret": sim.client_secret}
    assert entry["endpoints"] == [sim.base_url + "/prod"]  # gemini-cli's default host alone
    assert google_post(sim, "loadCodeAssist", doc["access_token"]).status_code == 200


def test_gemini_cli_cliproxyapi_style_carries_its_oauth_client(
        sim: Simulator, tmp_path: Path) -> None:
    entry: dict[str, Any] = sim.exporter_config(tmp_path, accounts=["gfree"])[
        "accounts"][0]  # type: ignore[index]
    path = Path(entry["credentials"]["file"])
    assert path.name == f"gfree@example.invalid-{project_of(sim, 'gfree')}.json"
    creds = parse_borrowed(path.read_text(), path)
    assert (creds.tool, creds.provider) == ("cliproxyapi", "gemini-cli")
    assert (creds.client_id, creds.client_secret) == (sim.client_id, sim.client_secret)
    assert creds.project == project_of(sim, "gfree")
    assert "oauth_client" not in entry  # the file's own client refreshes it


def test_written_config_with_every_provider_loads(sim: Simulator, tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.yml"
    path.parent.mkdir()
    write_config(sim, path)
    config = load_config(path, env={})
    assert [(a.name, a.provider) for a in config.accounts] == [
        (a.name, a.provider) for a in ACCOUNTS]
