"""GitHub Copilot and Gemini CLI end to end: the exporter as a real process against the
simulator on loopback, credential files written in each tool's own format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.simkit.common import write_secret
from exporter.simulator import SimAccount, Simulator
from exporter.timefmt import parse_rfc3339
from tests.procs import (
    REPO,
    ExporterProcess,
    api,
    by_label,
    files_of,
    scrape,
    start_exporter,
    write_config,
)

PREMIUM = "premium-interactions"
ACCOUNTS = [
    SimAccount("cp-pro", provider="copilot", drain_per_hour=0.0,
               pool_fractions={f"{PREMIUM}/monthly": 0.14}),
    SimAccount("cp-free", provider="copilot", tier="individual", drain_per_hour=0.0,
               credential_style="access_token_file",
               pool_fractions={"chat/monthly": 0.5, "completions/monthly": 0.02}),
    SimAccount("cp-biz", provider="copilot", tier="business", credential_style="shared_file"),
    SimAccount("cp-home", provider="copilot", drain_per_hour=0.0, credential_style="shared_file",
               pool_fractions={f"{PREMIUM}/monthly": 0.9}),
    SimAccount("cp-none", provider="copilot", tier="no_access", credential_style="access_token"),
    SimAccount("gc-std", provider="gemini-cli", credential_style="file", drain_per_hour=0.0,
               model_fractions={"gemini-2.5-pro": 0.5, "gemini-2.5-flash-lite": None,
                                "gemini-3-pro-preview": 0.9,
                                "gemini-3-pro-preview/INPUT_TOKENS": 0.3}),
    SimAccount("gc-free", provider="gemini-cli", tier="free-tier", drain_per_hour=0.0,
               credential_style="cliproxyapi"),
    SimAccount("gc-rt", provider="gemini-cli", credential_style="refresh_token",
               drain_per_hour=0.0),
]
COPILOT = [a.name for a in ACCOUNTS if a.provider == "copilot"]
GEMINI = [a.name for a in ACCOUNTS if a.provider == "gemini-cli"]



@pytest.fixture
def setup(sim: Simulator, tmp_path: Path) -> Iterator[tuple[ExporterProcess, dict[str, Any]]]:
    config = sim.exporter_config(tmp_path)
    exp = start_exporter(write_config(tmp_path, config), "--log.level", "debug")
    accounts: list[dict[str, Any]] = config["accounts"]  # type: ignore[assignment]
    yield exp, {a["name"]: a for a in accounts}
    exp.stop()





def test_copilot_pools_and_counts_match_the_simulator(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    text = scrape(exp)
    up = by_label(text, "llm_quota_up", "account")
    assert {a: up[(a,)] for a in COPILOT} == {
        "cp-pro": 1.0, "cp-free": 1.0, "cp-biz": 1.0, "cp-home": 1.0, "cp-none": 0.0}
    key = ("account", "pool", "window")
    fraction = by_label(text, "llm_quota_pool_remaining_fraction", *key)
    left = by_label(text, "llm_quota_pool_remaining_requests", *key)
    limit = by_label(text, "llm_quota_pool_limit_requests", *key)
    unlimited = by_label(text, "llm_quota_pool_unlimited", *key)
    pro = ("cp-pro", PREMIUM, "monthly")
    assert fraction[pro] == pytest.approx(0.14) and (left[pro], limit[pro]) == (42.0, 300.0)
    assert unlimited[("cp-pro", "chat", "monthly")] == 1.0
    assert ("cp-pro", "chat", "monthly") not in fraction  # unlimited: no fraction sample
    # Two logins in one apps.json, each account picking its own with credentials.user.
    assert left[("cp-home", PREMIUM, "monthly")] == 270.0
    # The older free shape: counts of what is left.
    assert (left[("cp-free", "chat", "monthly")], limit[("cp-free", "chat", "monthly")]) == (
        25.0, 50.0)
    assert fraction[("cp-free", "completions", "monthly")] == pytest.approx(0.02)
    # A seat billed by usage: no premium pool rather than a false 0%.
    assert not [k for k in (*fraction, *left) if k[0] == "cp-biz"]
    assert unlimited[("cp-biz", "completions", "monthly")] == 1.0
    tiers = by_label(text, "llm_quota_account_info", "account", "tier", "tier_name")
    assert ("cp-pro", "individual_pro", "Copilot Pro") in tiers
    assert ("cp-free", "individual", "Copilot Free") in tiers
    resets = by_label(text, "llm_quota_pool_reset_timestamp_seconds", *key)
    state = sim.state()["accounts"]["cp-pro"]["pools"][f"{PREMIUM}/monthly"]
    assert resets[pro] == parse_rfc3339(state["reset_time"])  # the 1st of next month, UTC
    none = api(exp)["cp-none"]
    assert none["error"]["reason"] == "forbidden"
    assert "no Copilot access (access_type_sku no_access)" in none["error"]["message"]
    assert all(sim.calls()[a]["token"] == 0 for a in COPILOT)  # nothing is ever refreshed


def test_gemini_cli_models_match_the_simulator(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    text = scrape(exp)
    up = by_label(text, "llm_quota_up", "account")
    assert all(up[(a,)] == 1.0 for a in GEMINI), up
    fractions = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    effective = by_label(text, "llm_quota_effective_remaining_fraction", "account", "model")
    for account in GEMINI:
        for model in ("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite"):
            expected = sim.model_fraction(account, model)
            if expected is None:
                # Left out upstream: Gemini CLI has no pools to tell it, so unknown,
                # with neither a raw nor an effective sample (never a 0 that pages).
                assert (account, model) not in fractions and (account, model) not in effective
                continue
            assert fractions[(account, model)] == pytest.approx(expected, abs=1e-6)
            assert effective[(account, model)] == fractions[(account, model)]
    # The REQUESTS and INPUT_TOKENS buckets of one model: one series, the lower.
    assert fractions[("gc-std", "gemini-3-pro-preview")] == pytest.approx(0.3)
    omitted = by_label(text, "llm_quota_remaining_fraction_omitted", "account", "model")
    assert omitted[("gc-std", "gemini-2.5-flash-lite")] == 1.0
    tiers = by_label(text, "llm_quota_account_info", "account", "tier")
    assert ("gc-std", "standard-tier") in tiers and ("gc-free", "free-tier") in tiers
    # Gemini CLI has no pool summary at all: not "no licence", just no such series.
    assert ("gc-std",) not in by_label(text, "llm_quota_pools_available", "account")
    source = by_label(text, "llm_quota_source_up", "account", "source")
    assert source[("gc-std", "quota")] == 1.0
    models = {m["model"]: m for m in api(exp)["gc-std"]["models"]}
    assert models["gemini-2.5-pro"]["remaining_requests"] == 750.0  # half of 1500 a day
    assert models["gemini-3-pro-preview"]["remaining_requests"] is None  # tokens bind
    # Steady state: loadCodeAssist once, then one quota call per scrape; no refresh for
    # the files whose tokens are fresh, one for the refresh_token account.
    scrape(exp)
    calls = sim.calls()
    assert calls["gc-std"] == {"loadCodeAssist": 1, "retrieveUserQuota": 2, "token": 0}
    assert calls["gc-free"]["token"] == 0 and calls["gc-rt"]["token"] == 1
    hosts = sim.calls_by_host()
    assert hosts["daily"]["retrieveUserQuota"] == 0  # gemini-cli's default is prod alone


def test_quota_table_reads_counts(sim: Simulator, tmp_path: Path) -> None:
    config = sim.exporter_config(tmp_path, accounts=["cp-pro", "gc-std"])
    path = write_config(tmp_path, config)
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "160"}
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "quota", "--config.file", str(path)],
        capture_output=True, text=True, env=env, cwd=str(REPO), timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "cp-pro  copilot  Copilot Pro (individual_pro)" in out
    assert "42 of 300 left" in out and "unlimited" in out
    assert "gc-std  gemini-cli  Gemini Code Assist (standard-tier)" in out
    assert "750 left" in out
    doc = subprocess.run(
        [sys.executable, "-m", "exporter", "quota", "--config.file", str(path), "--output",
         "json"], capture_output=True, text=True, env=env, cwd=str(REPO), timeout=60,
        check=True).stdout
    pools = {p["pool"]: p for p in json.loads(doc)["accounts"][0]["pools"]}
    assert (pools[PREMIUM]["remaining_requests"], pools[PREMIUM]["limit_requests"]) == (
        42.0, 300.0)


def test_credential_files_are_left_byte_for_byte(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]], tmp_path: Path) -> None:
    exp, _ = setup
    before = files_of(tmp_path)
    assert any(p.endswith("oauth_creds.json") for p in before)
    assert any(p.endswith("apps.json") for p in before)
    scrape(exp)
    for name in GEMINI:
        sim.expire_access_tokens(name)  # refreshed in memory, never written back
    scrape(exp)
    assert by_label(scrape(exp), "llm_quota_up", "account")[("gc-std",)] == 1.0
    assert sim.calls()["gc-std"]["token"] == 1 and sim.calls()["gc-free"]["token"] == 1
    assert files_of(tmp_path) == before


def test_copilot_revoked_token_then_a_new_sign_in_is_picked_up_without_restart(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, accounts = setup
    assert by_label(scrape(exp), "llm_quota_up", "account")[("cp-pro",)] == 1.0
    sim.expire_access_tokens("cp-pro")  # GitHub revoked it
    text = scrape(exp)
    assert by_label(text, "llm_quota_up", "account")[("cp-pro",)] == 0.0
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("cp-pro", "auth")] == 1.0
    message = api(exp)["cp-pro"]["error"]["message"]
    assert "rejected the access token" in message and "(401" in message
    assert "sign in to GitHub Copilot again" in message
    # The editor signs in again and rewrites its apps.json.
    path = Path(accounts["cp-pro"]["credentials"]["file"])
    apps = json.loads(path.read_text())
    _, fresh, _ = sim.credentials("cp-pro", expiring=True)
    for entry in apps.values():
        entry["oauth_token"] = fresh
    write_secret(path, json.dumps(apps))
    text = scrape(exp)
    assert by_label(text, "llm_quota_up", "account")[("cp-pro",)] == 1.0
    assert by_label(text, "llm_quota_pool_remaining_requests", "account", "pool")[
        ("cp-pro", PREMIUM)] == 42.0
    assert sim.calls()["cp-pro"]["token"] == 0
    assert "gho_" not in exp.logs and fresh not in exp.logs


def test_gemini_cli_renewed_oauth_creds_are_picked_up_after_a_dead_refresh_token(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, accounts = setup
    sim.revoke_refresh_token("gc-std")
    sim.expire_access_tokens("gc-std")
    assert by_label(scrape(exp), "llm_quota_up", "account")[("gc-std",)] == 0.0
    assert "invalid_grant" in api(exp)["gc-std"]["error"]["message"]
    # gemini-cli signs in again and rewrites ~/.gemini/oauth_creds.json.
    path = Path(accounts["gc-std"]["credentials"]["file"])
    creds = json.loads(path.read_text())
    _, fresh, expires_at = sim.credentials("gc-std", expiring=True)
    creds.update(access_token=fresh, expiry_date=int(expires_at * 1000))
    write_secret(path, json.dumps(creds))
    text = scrape(exp)
    assert by_label(text, "llm_quota_up", "account")[("gc-std",)] == 1.0
    assert by_label(text, "llm_quota_remaining_fraction", "account", "model")[
        ("gc-std", "gemini-2.5-pro")] == pytest.approx(0.5)


def test_faults_fail_only_their_account_with_the_right_reason(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    sim.set_fault("gc-free", "503", method="retrieveUserQuota")
    sim.set_fault("cp-home", "429", retry_delay=30)
    sim.set_fault("cp-free", "wrong_types")
    text = scrape(exp)
    up = by_label(text, "llm_quota_up", "account")
    assert (up[("gc-free",)], up[("cp-home",)], up[("cp-free",)]) == (0.0, 0.0, 0.0)
    assert up[("gc-std",)] == 1.0 and up[("cp-pro",)] == 1.0
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("gc-free", "upstream")] == 1.0
    assert errors[("cp-home", "rate_limited")] == 1.0
    assert errors[("cp-free", "parse")] == 1.0
    source = by_label(text, "llm_quota_source_up", "account", "source")
    assert source[("gc-free", "quota")] == 0.0 and source[("cp-home", "usage")] == 0.0
    # The failed sources' series are gone; other accounts keep theirs.
    fractions = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    assert not [k for k in fractions if k[0] == "gc-free"]
    message = api(exp)["cp-home"]["error"]["message"]
    assert "answered 429" in message and "retry in 30s" in message
