"""Kiro accounts end to end: the exporter as a real process against the simulated
Kiro upstream on loopback.

What /metrics says equals what the simulator holds, and the JSON API agrees with it;
the credential files of Kiro's tools (CLIProxyAPIPlus's JSON, the IDE's JSON,
kiro-cli's SQLite database) are read and left byte for byte; the rotating refresh
token is never sent; an expired token is an `auth` error that says to open Kiro or
run kiro-cli, costs no call, and the renewed file is picked up without a restart.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from exporter.providers.kiro.simulated import CREDITS, OVERAGE_CAP
from exporter.simulator import SimAccount, Simulator
from exporter.snapshot import FetchError, Reason
from exporter.upstream.transport import HttpClients
from tests.procs import (
    REPO,
    ExporterProcess,
    by_label,
    fetch_once,
    scrape,
    scrape_until_up,
    write_config,
)
from tests.scripted_http import ScriptedServer
from tests.sim_accounts import fetch, provider_for

KIRO_FIXTURE = "kiro.power-overage.json"
POWER, PRO, FREE = ("Q_DEVELOPER_STANDALONE_POWER", "Q_DEVELOPER_STANDALONE_PRO",
                    "Q_DEVELOPER_STANDALONE_FREE")
ACCOUNTS = [
    SimAccount("k-power", provider="kiro", drain_per_hour=0.0, pool_fractions={
        "credit/monthly": 0.6}),
    SimAccount("k-pro-ide", provider="kiro", tier=PRO, credential_style="ide_file",
               drain_per_hour=0.0, pool_fractions={"credit/monthly": 0.15}),
    SimAccount("k-free-cli", provider="kiro", tier=FREE, credential_style="cli_db",
               drain_per_hour=0.0, pool_fractions={"credit/monthly": 0.0}),
    SimAccount("k-overage", provider="kiro", drain_per_hour=0.0,
               pool_fractions={"credit/monthly": 0.0}),
    SimAccount("k-token", provider="kiro", tier=PRO, credential_style="access_token",
               drain_per_hour=0.0, pool_fractions={"credit/monthly": 1.0}),
]
NAMES = [a.name for a in ACCOUNTS]
FILE_ACCOUNTS = [a.name for a in ACCOUNTS if a.credential_style != "access_token"]







def files(config: dict[str, Any]) -> dict[str, Path]:
    return {a["name"]: Path(a["credentials"]["file"]) for a in config["accounts"]
            if a["name"] in FILE_ACCOUNTS}


def fingerprint(path: Path) -> tuple[str, int, int, tuple[str, ...]]:
    st = path.stat()
    return (hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_ino,
            tuple(sorted(p.name for p in path.parent.iterdir())))


def secrets_of(path: Path) -> tuple[str, str]:
    """(access token, refresh token) in a credentials file or database."""
    if path.suffix == ".sqlite3":
        import sqlite3
        db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
        (value,) = db.execute("SELECT value FROM auth_kv").fetchone()
        db.close()
        row = json.loads(value)
        return row["access_token"], row["refresh_token"]
    doc = json.loads(path.read_text())
    return (doc.get("access_token") or doc["accessToken"],
            doc.get("refresh_token") or doc["refreshToken"])


def test_exposition_equals_upstream_and_the_json_api_agrees(
        sim: Simulator, exporter: ExporterProcess) -> None:
    text = scrape(exporter)
    assert by_label(text, "llm_quota_up", "account") == {(n,): 1.0 for n in NAMES}
    fractions = by_label(text, "llm_quota_pool_remaining_fraction", "account", "pool", "window")
    assert {a for a, _, _ in fractions} == set(NAMES)
    for (account, pool, window), value in fractions.items():
        assert (pool, window) == ("credit", "monthly")
        assert value == pytest.approx(sim.pool_fraction(account, pool, window), abs=1e-4)
    assert fractions[("k-free-cli", "credit", "monthly")] == 0.0
    assert fractions[("k-token", "credit", "monthly")] == 1.0
    left = by_label(text, "llm_quota_pool_remaining_credits", "account", "pool", "window")
    limit = by_label(text, "llm_quota_pool_limit_credits", "account", "pool", "window")
    tiers = {a.name: a.tier for a in ACCOUNTS}
    for name in NAMES:
        assert limit[(name, "credit", "monthly")] == CREDITS[tiers[name]]
    assert left[("k-power", "credit", "monthly")] == pytest.approx(6000.0)
    assert left[("k-pro-ide", "credit", "monthly")] == pytest.approx(150.0)
    assert left[("k-free-cli", "credit", "monthly")] == 0.0
    # Power past its plan credits is served as overage, under its cap.
    overage = by_label(text, "llm_quota_pool_overage", "account", "pool", "window")
    assert overage == {("k-overage", "credit", "monthly"): 1.0}
    credits = by_label(text, "llm_quota_credits_remaining", "account", "credit_type")
    assert credits == {("k-power", "kiro_overage"): OVERAGE_CAP,
                       ("k-overage", "kiro_overage"): OVERAGE_CAP}
    info = by_label(text, "llm_quota_account_info", "account", "tier", "tier_name")
    assert ("k-power", POWER, "KIRO POWER") in info
    assert ("k-free-cli", FREE, "KIRO FREE") in info
    resets = by_label(text, "llm_quota_pool_reset_timestamp_seconds", "account", "pool",
                      "window")
    assert all(v > 1.7e9 for v in resets.values()) and len(resets) == len(NAMES)
    api = exporter.get("/api/v1/quota?provider=kiro").json()
    assert {a["account"] for a in api["accounts"]} == set(NAMES)
    for account in api["accounts"]:
        (pool,) = account["pools"]
        key = (account["account"], pool["pool"], pool["window"])
        assert pool["remaining_fraction"] == pytest.approx(fractions[key], abs=1e-6)
        assert pool["remaining_credits"] == pytest.approx(left[key], abs=1e-6)
        assert pool["limit_credits"] == limit[key]
        assert pool["overage"] is (key in overage)
        assert account["tier"] == tiers[account["account"]]


def test_steady_state_reads_files_only_and_never_sends_a_refresh_token(
        sim: Simulator, exporter: ExporterProcess, config: dict[str, Any]) -> None:
    paths = files(config)
    before = {name: fingerprint(path) for name, path in paths.items()}
    for _ in range(3):
        scrape(exporter)
    calls = sim.calls()
    for name in NAMES:
        assert calls[name].get("GetUsageLimits") == 3 and not calls[name].get("token"), name
    assert {name: fingerprint(path) for name, path in paths.items()} == before
    seen = sim.requests_seen()
    assert seen and all(r.headers["X-Amz-Target"] == "AmazonCodeWhispererService.GetUsageLimits"
               and r.headers["Content-Type"] == "application/x-amz-json-1.0"
               for r in seen), [(r.path, r.headers) for r in seen][:2]
    bodies = [json.loads(r.body) for r in seen]
    assert sum("profileArn" in b for b in bodies) == 3 * len(FILE_ACCOUNTS)
    assert all(b["profileArn"].startswith("arn:aws:codewhisperer:us-east-1:")
               for b in bodies if b)
    everything = "\n".join(r.text() for r in seen)
    for name, path in paths.items():
        _, refresh = secrets_of(path)
        assert refresh and refresh not in everything, name


@pytest.mark.parametrize(("account", "advice"), [
    ("k-pro-ide", "open Kiro (or run `kiro-cli`"), ("k-free-cli", "open Kiro (or run `kiro-cli`"),
    ("k-power", "CLIProxyAPI renews this file itself")])
def test_an_expired_token_costs_no_call_and_the_renewed_store_needs_no_restart(
        sim: Simulator, exporter: ExporterProcess, account: str, advice: str) -> None:
    scrape(exporter)
    sim.expire_credentials(account)
    text = scrape(exporter)
    assert by_label(text, "llm_quota_up", "account")[(account,)] == 0.0
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[(account, "auth")] == 1.0
    assert sim.calls()[account]["GetUsageLimits"] == 1  # the expired token was not sent
    error = exporter.get(f"/api/v1/quota?account={account}").json()["accounts"][0]["error"]
    assert advice in error["message"] and "expired at" in error["message"]
    sim.renew_credentials(account)  # the user opened Kiro / ran kiro-cli
    text = scrape(exporter)
    assert by_label(text, "llm_quota_up", "account")[(account,)] == 1.0
    assert sim.calls()[account]["GetUsageLimits"] == 2


def test_a_rejected_token_is_an_auth_error_with_what_to_do(
        sim: Simulator, exporter: ExporterProcess) -> None:
    sim.expire_access_tokens("k-pro-ide")  # the file still says it is good: Kiro says 403
    text = scrape(exporter)
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("k-pro-ide", "auth")] == 1.0
    error = exporter.get("/api/v1/quota?account=k-pro-ide").json()["accounts"][0]["error"]
    assert "The bearer token included in the request is invalid." in error["message"]
    assert "open Kiro" in error["message"]
    text = scrape(exporter)  # the rejected token is not sent again
    assert by_label(text, "llm_quota_up", "account")[("k-pro-ide",)] == 0.0
    assert sim.calls()["k-pro-ide"]["GetUsageLimits"] == 1
    error = exporter.get("/api/v1/quota?account=k-pro-ide").json()["accounts"][0]["error"]
    assert "not sent again until it is renewed" in error["message"]
    sim.renew_credentials("k-pro-ide")  # Kiro signed in again and rewrote its file
    scrape_until_up(exporter, "k-pro-ide")  # after two failures: a short back-off
    assert sim.calls()["k-pro-ide"]["GetUsageLimits"] == 2
    sim.set_fault("k-power", "403")
    sim.set_fault("k-token", "429", retry_delay=60)
    text = scrape(exporter)
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("k-power", "forbidden")] == 1.0
    assert errors[("k-token", "rate_limited")] == 1.0
    error = exporter.get("/api/v1/quota?account=k-power").json()["accounts"][0]["error"]
    assert "User is not authorized to make this call." in error["message"]
    assert "profile ARN" in error["message"]
    up = by_label(text, "llm_quota_up", "account")
    assert up[("k-free-cli",)] == up[("k-overage",)] == 1.0  # the others are unaffected


def test_no_token_reaches_metrics_api_page_or_logs(
        sim: Simulator, exporter: ExporterProcess, config: dict[str, Any]) -> None:
    sim.expire_access_tokens("k-pro-ide")  # an error message too
    views = [scrape(exporter), exporter.get("/api/v1/quota").text, exporter.get("/").text]
    planted = [s for path in files(config).values() for s in secrets_of(path)]
    planted += [a["credentials"]["access_token"] for a in config["accounts"]
                if "access_token" in a["credentials"]]
    exporter.stop()
    for secret in planted:
        for view in (*views, exporter.logs):
            assert secret not in view
    # The email in CLIProxyAPIPlus's file stays out too (no expose_email).
    assert not any("k-power@example.invalid" in v for v in (*views, exporter.logs))


def test_check_config_accepts_every_credential_style(
        config: dict[str, Any], tmp_path: Path) -> None:
    path = write_config(tmp_path, config, "check.yml")
    result = subprocess.run([sys.executable, "-m", "exporter", "check-config",
                             "--config.file", str(path)], capture_output=True, text=True,
                            cwd=str(REPO), timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_promtool_accepts_the_exposition(exporter: ExporterProcess) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus)"
    result = subprocess.run([promtool, "check", "metrics"], input=scrape(exporter).encode(),
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_a_bare_token_sends_the_profile_arn_named_in_project(
        sim: Simulator, tmp_path: Path) -> None:
    arn = "arn:aws:codewhisperer:us-east-1:123456789012:profile/FROMCONFIG"
    with provider_for(sim, "k-token", tmp_path, project=arn) as provider:
        data = fetch(provider)
    with provider_for(sim, "k-token", tmp_path) as provider:
        fetch(provider)
    assert data.pools[0].remaining_fraction == 1.0
    assert [json.loads(r.body) for r in sim.requests_seen()] == [{"profileArn": arn}, {}]


# --- in process, against a scripted host: the client outlives a fetch -------------------


def _kiro(base: str, clients: HttpClients) -> Any:
    from exporter.config import AccountConfig, Credentials, Secret
    from exporter.providers import make_provider

    account = AccountConfig(name="kr", provider="kiro",
                            credentials=Credentials(kind="access_token", secret=Secret("kt")),
                            endpoints=(f"{base}/kiro",))
    return make_provider(account, clients)


def test_a_429_wait_holds_across_fetches_and_an_unchanged_reply_is_parsed_once(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    body = json.loads((Path(__file__).parents[1] / "fixtures" / "upstream"
                       / KIRO_FIXTURE).read_text())
    server.add("/kiro/", json_body=body)
    provider = _kiro(base, clients)
    first = fetch_once(provider, time.monotonic() + 5)
    second = fetch_once(provider, time.monotonic() + 5)
    assert first.pools and second.pools is first.pools  # the same parsed reply again
    server.replace("/kiro/", status=429, json_body={"message": "Too many requests"},
                   headers={"Retry-After": "60"})
    with pytest.raises(FetchError) as err:
        fetch_once(provider, time.monotonic() + 5)
    assert err.value.reason is Reason.RATE_LIMITED
    calls = len(server.calls)
    with pytest.raises(FetchError, match="asked us to wait"):
        fetch_once(provider, time.monotonic() + 5)
    assert len(server.calls) == calls  # the host stays closed for the next fetch too
