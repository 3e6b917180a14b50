"""Claude Code and Codex accounts end to end: the exporter as a real process against the
simulator on loopback, beside an Antigravity account.

What the exposition says equals what upstream said; the credential files the CLIs
own are read and left byte for byte; no refresh token is ever sent anywhere; an
expired or rejected token is reported (reason `auth`, "run the CLI once") without
calling upstream again, and a file the CLI renews is picked up by the next scrapes
without a restart.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from exporter.simulator import SimAccount, Simulator
from tests.procs import (
    REPO,
    ExporterProcess,
    by_label,
    scrape,
    scrape_until_up,
    start_exporter,
    write_config,
)

ACCOUNTS = [
    SimAccount("e-claude", provider="claude", tier="max", drain_per_hour=0.0,
               pool_fractions={"all/5h": 0.6, "all/weekly": 0.35, "opus/weekly": 0.0,
                               "sonnet/weekly": 0.8}),
    SimAccount("e-claude-proxy", provider="claude", tier="pro", credential_style="cliproxyapi",
               drain_per_hour=0.0),
    SimAccount("e-claude-token", provider="claude", credential_style="access_token",
               drain_per_hour=0.0),
    SimAccount("e-claude-enterprise", provider="claude", tier="enterprise", drain_per_hour=0.0,
               pool_fractions={"extra-usage/monthly": 0.25}),
    SimAccount("e-codex", provider="codex", tier="plus", drain_per_hour=0.0,
               pool_fractions={"codex/5h": 0.44, "codex/weekly": 0.9}),
    SimAccount("e-codex-proxy", provider="codex", tier="pro", credential_style="cliproxyapi",
               drain_per_hour=0.0),
    SimAccount("e-codex-token", provider="codex", tier="pro",
               credential_style="access_token_file", drain_per_hour=0.0),
    SimAccount("e-codex-team", provider="codex", tier="team", drain_per_hour=0.0,
               pool_fractions={"spend-limit/monthly": 0.0}),
    SimAccount("e-antigravity", drain_per_hour=0.0),
]
CLI_ACCOUNTS = [a.name for a in ACCOUNTS if a.provider in ("claude", "codex")]
FILE_ACCOUNTS = [a.name for a in ACCOUNTS
                 if a.provider != "antigravity" and a.credential_style in ("file", "cliproxyapi")]






def credential_files(config: dict[str, Any]) -> dict[str, Path]:
    return {a["name"]: Path(a["credentials"]["file"]) for a in config["accounts"]
            if a["name"] in FILE_ACCOUNTS}


def fingerprint(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_ino



def test_exposition_equals_upstream_for_every_claude_and_codex_account(
        sim: Simulator, exporter: ExporterProcess) -> None:
    text = scrape(exporter)
    up = by_label(text, "llm_quota_up", "account")
    assert all(up[(a.name,)] == 1.0 for a in ACCOUNTS), up
    pools = by_label(text, "llm_quota_pool_remaining_fraction", "account", "pool", "window")
    for (account, pool, window), value in pools.items():
        if account in CLI_ACCOUNTS:
            assert value == pytest.approx(sim.pool_fraction(account, pool, window), abs=1e-6)
    assert {(p, w): v for (a, p, w), v in pools.items() if a == "e-claude"} == {
        ("all", "5h"): pytest.approx(0.6), ("all", "weekly"): pytest.approx(0.35),
        ("opus", "weekly"): 0.0, ("sonnet", "weekly"): pytest.approx(0.8)}
    codex = {(p, w) for (a, p, w) in pools if a == "e-codex"}
    assert codex == {("codex", "5h"), ("codex", "weekly"), ("code-review", "weekly")}
    assert ("e-claude-proxy", "opus", "weekly") not in pools  # a Pro plan's null window
    assert ("e-codex-proxy", "gpt-5-3-codex-spark", "5h") in pools
    # A team seat over its spend cap (107% used): the cap is at 0, the weekly window not.
    assert pools[("e-codex-team", "spend-limit", "monthly")] == 0.0
    assert pools[("e-codex-team", "codex", "weekly")] > 0.0
    assert ("e-codex-team", "codex", "5h") not in pools
    info = by_label(text, "llm_quota_account_info", "account", "tier", "tier_name")
    assert ("e-claude", "max", "Claude Max 20x") in info
    assert ("e-claude-token", "unknown", "") in info
    assert ("e-codex", "plus", "ChatGPT Plus") in info
    assert ("e-codex-token", "pro", "ChatGPT Pro") in info
    credits = by_label(text, "llm_quota_credits_remaining", "account", "credit_type")
    assert credits[("e-codex", "codex")] == 0.0
    assert credits[("e-codex-proxy", "codex")] == 125.5
    assert credits[("e-codex-proxy", "rate_limit_reset")] == 2.0
    assert ("e-claude", "extra_usage") in credits
    # An Enterprise seat answers its spend limit alone: up, its credit, no pool series.
    assert credits[("e-claude-enterprise", "extra_usage")] == pytest.approx(125.0)
    assert ("e-claude-enterprise", "enterprise", "Claude Enterprise") in info
    assert not any(a == "e-claude-enterprise" for a, _, _ in pools)
    sources = by_label(text, "llm_quota_source_up", "account", "source")
    assert all(sources[(name, "usage")] == 1.0 for name in CLI_ACCOUNTS)
    models = by_label(text, "llm_quota_remaining_fraction", "account")
    assert set(models) == {("e-antigravity",)}  # Claude and Codex count by pool only
    resets = by_label(text, "llm_quota_pool_reset_timestamp_seconds", "account", "pool",
                      "window")
    assert resets[("e-codex", "codex", "5h")] > time.time()
    api = exporter.get("/api/v1/quota?provider=claude").json()
    opus = next(p for a in api["accounts"] if a["account"] == "e-claude"
                for p in a["pools"] if p["pool"] == "opus")
    assert (opus["remaining_fraction"], opus["within"]) == (0.0, ["all"])


def test_steady_state_is_one_call_per_scrape_and_no_token_endpoint(
        sim: Simulator, exporter: ExporterProcess, config: dict[str, Any]) -> None:
    files = credential_files(config)
    before = {name: fingerprint(path) for name, path in files.items()}
    for _ in range(3):
        scrape(exporter)
    calls = sim.calls()
    for name in CLI_ACCOUNTS:
        assert calls[name] == {"usage": 3, "token": 0}, name
    # Every token endpoint call was the Antigravity account's own refresh.
    assert sim.calls_by_host()["oauth"]["token"] == calls["e-antigravity"]["token"] == 1
    # The CLIs' files: byte for byte, same mtime, same inode.
    assert {name: fingerprint(path) for name, path in files.items()} == before
    # No refresh token in any request the simulator received, in any header or body.
    seen = "\n".join(r.text() for r in sim.requests_seen())
    claude_accounts = sum(a.provider == "claude" for a in ACCOUNTS)
    assert seen.count("GET /claude/api/oauth/usage") == 3 * claude_accounts
    for name, path in files.items():
        doc = json.loads(path.read_text())
        refresh = (doc.get("claudeAiOauth") or doc.get("tokens") or doc)
        token = refresh.get("refreshToken") or refresh.get("refresh_token")
        assert token and token not in seen, name


def test_an_expired_claude_token_costs_no_call_and_the_renewed_file_needs_no_restart(
        sim: Simulator, exporter: ExporterProcess, config: dict[str, Any]) -> None:
    scrape(exporter)
    sim.expire_credentials("e-claude")
    text = scrape(exporter)
    assert by_label(text, "llm_quota_up", "account")[("e-claude",)] == 0.0
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("e-claude", "auth")] == 1.0
    assert not any(a == "e-claude" for a, _, _ in by_label(
        text, "llm_quota_pool_remaining_fraction", "account", "pool", "window"))
    assert sim.calls()["e-claude"]["usage"] == 1  # the expired token was not sent
    api = exporter.get("/api/v1/quota?account=e-claude").json()["accounts"][0]
    assert "run `claude` once" in api["error"]["message"]
    path = credential_files(config)["e-claude"]
    sim.renew_credentials("e-claude")  # the user ran `claude`; it rewrote the file
    renewed = fingerprint(path)
    text = scrape(exporter)
    assert by_label(text, "llm_quota_up", "account")[("e-claude",)] == 1.0
    assert sim.calls()["e-claude"] == {"usage": 2, "token": 0}
    assert fingerprint(path) == renewed
    exporter.wait_for_log("account recovered")


def test_a_rejected_codex_token_is_not_retried_until_the_cli_renews_the_file(
        sim: Simulator, exporter: ExporterProcess) -> None:
    scrape(exporter)
    sim.expire_access_tokens("e-codex")  # the file still says the token is good
    for _ in range(3):
        text = scrape(exporter)
        assert by_label(text, "llm_quota_up", "account")[("e-codex",)] == 0.0
    assert sim.calls()["e-codex"]["usage"] == 2  # one good scrape, one 401, no loop
    exporter.wait_for_log("run `codex` once")
    sim.renew_credentials("e-codex")
    scrape_until_up(exporter, "e-codex")
    assert sim.calls()["e-codex"] == {"usage": 3, "token": 0}


def test_faults_in_one_account_leave_the_others_alone(
        sim: Simulator, exporter: ExporterProcess) -> None:
    sim.set_fault("e-claude-proxy", "429", retry_delay=60)
    sim.set_fault("e-codex-proxy", "500")
    sim.set_fault("e-codex-token", "malformed")
    text = scrape(exporter)
    up = by_label(text, "llm_quota_up", "account")
    assert {a: v for (a,), v in up.items() if v == 0.0} == {
        "e-claude-proxy": 0.0, "e-codex-proxy": 0.0, "e-codex-token": 0.0}
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("e-claude-proxy", "rate_limited")] == 1.0
    assert errors[("e-codex-proxy", "upstream")] == 1.0
    assert errors[("e-codex-token", "parse")] == 1.0
    scrape(exporter)
    # Retry-After 60 s: the next scrape does not call Claude for that account again.
    assert sim.calls()["e-claude-proxy"]["usage"] == 1
    assert sim.calls()["e-claude"]["usage"] == 2


def test_promtool_accepts_the_exposition(exporter: ExporterProcess) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus)"
    result = subprocess.run([promtool, "check", "metrics"], input=scrape(exporter).encode(),
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_user_agent_from_the_config_reaches_upstream(sim: Simulator, tmp_path: Path) -> None:
    data = sim.exporter_config(tmp_path, accounts=["e-claude", "e-codex"],
                               defaults={"user_agent": "claude-code/2.2.0"})
    data["accounts"][1]["user_agent"] = "codex_cli_rs/0.60.1"  # type: ignore[index]
    exp = start_exporter(write_config(tmp_path, data))
    try:
        scrape(exp)
    finally:
        exp.stop()
    agents = {r.path.split("/")[1]: r.headers["User-Agent"] for r in sim.requests_seen()}
    assert agents == {"claude": "claude-code/2.2.0", "codex": "codex_cli_rs/0.60.1"}


def test_claude_guide_walkthrough_expire_and_renew_a_claude_file(tmp_path: Path) -> None:
    """The Claude guide's walk-through (docs/provider-guides.md) as written: a relative
    --write-config path, the quota table, the token expired in the file, then renewed
    as `claude` would."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    (tmp_path / "sim").mkdir()
    sim = subprocess.Popen(
        [sys.executable, "-m", "exporter.simulator", "--demo", "--write-config",
         "sim/config.yml"], stdout=subprocess.PIPE, text=True, cwd=tmp_path, env=env)

    def quota() -> tuple[int, str]:
        result = subprocess.run(
            [sys.executable, "-m", "exporter", "quota", "--config.file", "sim/config.yml",
             "--account", "demo-claude-max"], capture_output=True, text=True, cwd=tmp_path,
            env=env, timeout=60, check=False)
        return result.returncode, " ".join((result.stdout + result.stderr).split())

    try:
        assert sim.stdout is not None
        base = json.loads(sim.stdout.readline())["base_url"]
        code, text = quota()
        assert code == 0 and "Claude Max 20x (max)" in text, text
        assert "Opus weekly" in text and " 0% " in text
        control = f"{base}/_sim/accounts/demo-claude-max"
        assert requests.post(f"{control}/expire-credentials", timeout=5).json() == {"ok": True}
        code, text = quota()
        assert code == 1 and "auth: the access token in" in text
        assert "run `claude` once so it renews the file" in text
        requests.post(f"{control}/renew-credentials", timeout=5)
        code, text = quota()
        assert code == 0, text
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.communicate(timeout=10)
    assert sim.returncode == 0
