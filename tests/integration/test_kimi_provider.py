"""The Kimi Code provider: against a scripted loopback server (the request it makes,
each upstream answer as data or an account error) and, as a real exporter process,
against its simulated upstream (/metrics equals the simulator, the JSON API agrees,
credential files untouched, no refresh token sent, no secret shown anywhere)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from exporter.config import AccountConfig, Credentials, Secret
from exporter.providers import make_provider
from exporter.providers.kimi.client import KimiProvider
from exporter.simulator import SimAccount, Simulator
from exporter.snapshot import FetchError, Reason
from exporter.upstream.transport import HttpClients
from tests.procs import REPO, ExporterProcess, by_label, fetch_once, write_config
from tests.scripted_http import ScriptedServer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"
USAGES = "/k/coding/v1/usages"
KEY = "sk-kimi-PLANTED-secret-key"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def kimi(base: str, clients: HttpClients, creds: Credentials | None = None) -> KimiProvider:
    account = AccountConfig(
        name="k", provider="kimi",
        credentials=creds or Credentials(kind="api_key", secret=Secret(KEY)),
        endpoints=(f"{base}/k",))
    provider = make_provider(account, clients)
    assert isinstance(provider, KimiProvider)
    return provider


def deadline() -> float:
    return time.monotonic() + 5.0


# -- against a scripted server ----------------------------------------------------------


def test_kimi_sends_the_key_as_bearer_and_reads_both_windows(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USAGES, json_body=fixture("kimi.usages-apikey-no-used.json"))
    data = fetch_once(kimi(base, clients), deadline())
    call = server.calls[0]
    assert (call.path, call.body) == (USAGES, b"")
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    assert call.headers["Accept"] == "application/json"
    assert (data.info.tier, data.info.tier_name) == ("advanced", "Allegro")
    assert {(p.pool, p.window): p.remaining_fraction for p in data.pools} == {
        ("kimi", "weekly"): 1.0, ("kimi", "5h"): 0.99}
    assert [r.source for r in data.sources] == ["usage"] and data.sources[0].up


def test_an_error_inside_a_200_is_an_account_error_with_the_upstreams_words(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USAGES, json_body=fixture("kimi.error-401.json"))
    with pytest.raises(FetchError) as caught:
        fetch_once(kimi(base, clients), deadline())
    assert caught.value.reason is Reason.AUTH
    assert "Invalid Authentication" in caught.value.message
    assert KEY not in caught.value.message


def test_a_401_says_the_key_was_refused_and_a_403_what_to_check(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USAGES, status=401, json_body=fixture("kimi.error-401.json"))
    with pytest.raises(FetchError) as refused:
        fetch_once(kimi(base, clients), deadline())
    assert refused.value.reason is Reason.AUTH and "API key" in refused.value.message
    server.replace(USAGES, status=403, json_body={"error": {"message": "no membership"}})
    with pytest.raises(FetchError) as forbidden:
        fetch_once(kimi(base, clients), deadline())
    assert forbidden.value.reason is Reason.FORBIDDEN
    assert "Kimi Code plan" in forbidden.value.message
    assert "no membership" in forbidden.value.message
    assert all(KEY not in m for m in (refused.value.message, forbidden.value.message))


def test_a_reply_of_another_shape_is_a_parse_error_naming_the_field(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USAGES, json_body={"usages": [{"scope": "FEATURE_CODING"}]})
    with pytest.raises(FetchError) as caught:
        fetch_once(kimi(base, clients), deadline())
    assert caught.value.reason is Reason.PARSE and "usage" in caught.value.message


def test_an_expired_cli_token_costs_no_call(
        script: tuple[ScriptedServer, str], clients: HttpClients, tmp_path: Path) -> None:
    server, base = script
    path = tmp_path / "kimi-code.json"
    path.write_text(json.dumps({"access_token": "SECRET-a", "refresh_token": "SECRET-r",
                                "expires_at": time.time() - 30}), encoding="utf-8")
    provider = kimi(base, clients, Credentials(kind="file", path=path))
    with pytest.raises(FetchError) as caught:
        fetch_once(provider, deadline())
    assert caught.value.reason is Reason.AUTH and "keep `kimi`" in caught.value.message
    assert server.calls == []


# -- the exporter process against the simulated upstream ----------------------------------

ACCOUNTS = [
    SimAccount("k-key", provider="kimi", drain_per_hour=0.0,
               pool_fractions={"kimi/weekly": 0.62, "kimi/5h": 0.35}),
    SimAccount("k-cli", provider="kimi", tier="intermediate", credential_style="file",
               drain_per_hour=0.0),
    SimAccount("k-proxy", provider="kimi", tier="moderato", credential_style="cliproxyapi",
               drain_per_hour=0.0, pool_fractions={"kimi/weekly": 0.0}),
    SimAccount("k-keyfile", provider="kimi", credential_style="api_key_file",
               drain_per_hour=0.0),
    SimAccount("k-settings", provider="kimi", credential_style="claude_settings",
               drain_per_hour=0.0),
    SimAccount("k-idle", provider="kimi", credential_style="file", revoked=True),
]
UP = [a.name for a in ACCOUNTS if a.name != "k-idle"]
FILES = ("k-cli", "k-proxy", "k-settings", "k-idle")



@pytest.fixture
def config(sim: Simulator, tmp_path: Path) -> dict[str, Any]:
    data = sim.exporter_config(tmp_path)
    for account in data["accounts"]:
        if account["name"] == "k-key":
            account["credentials"] = {"api_key": KEY}
            sim.register_token("k-key", KEY, float("inf"))
    return data



def files_of(config: dict[str, Any]) -> dict[str, Path]:
    return {a["name"]: Path(a["credentials"]["file"]) for a in config["accounts"]
            if a["name"] in FILES}


def fingerprint(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_ino


def test_metrics_equal_the_simulator_and_the_json_api_agrees(
        sim: Simulator, exporter: ExporterProcess) -> None:
    text = exporter.get("/metrics").text
    up = by_label(text, "llm_quota_up", "account")
    assert {a: up[(a,)] for a in [*UP, "k-idle"]} == {**dict.fromkeys(UP, 1.0), "k-idle": 0.0}
    pools = by_label(text, "llm_quota_pool_remaining_fraction", "account", "pool", "window")
    for name in UP:
        for window in ("weekly", "5h"):
            assert pools[(name, "kimi", window)] == pytest.approx(
                sim.pool_fraction(name, "kimi", window), abs=0.011), (name, window)
    assert pools[("k-key", "kimi", "weekly")] == pytest.approx(0.62)
    assert pools[("k-key", "kimi", "5h")] == pytest.approx(0.35)
    assert pools[("k-proxy", "kimi", "weekly")] == 0.0  # exhausted is a 0, shown
    assert not any(a == "k-idle" for a, _, _ in pools)
    # Fractions only: the counts' unit is uncertain.
    for name in ("llm_quota_pool_remaining_requests", "llm_quota_pool_remaining_credits"):
        assert not any(a in UP for (a,) in by_label(text, name, "account"))
    info = by_label(text, "llm_quota_account_info", "account", "tier", "tier_name")
    assert ("k-key", "advanced", "Allegro") in info
    assert ("k-cli", "intermediate", "Allegretto") in info
    assert ("k-proxy", "standard", "Moderato") not in info  # the old shape names no plan
    assert ("k-proxy", "unknown", "") in info
    resets = by_label(text, "llm_quota_pool_reset_timestamp_seconds", "account", "pool",
                      "window")
    assert resets[("k-key", "kimi", "5h")] > time.time()
    api = exporter.get("/api/v1/quota?provider=kimi").json()
    for account in api["accounts"]:
        for pool in account.get("pools") or []:
            key = (account["account"], pool["pool"], pool["window"])
            assert pool["remaining_fraction"] == pytest.approx(pools[key], abs=1e-9), key
    idle = next(a for a in api["accounts"] if a["account"] == "k-idle")
    assert "expired" in json.dumps(idle) and "keep `kimi`" in json.dumps(idle)


def test_files_untouched_no_refresh_token_sent_no_secret_shown(
        sim: Simulator, exporter: ExporterProcess, config: dict[str, Any]) -> None:
    files = files_of(config)
    before = {name: fingerprint(path) for name, path in files.items()}
    shown = [exporter.get("/metrics").text for _ in range(2)]
    shown += [exporter.get("/api/v1/quota").text, exporter.get("/").text]
    assert {name: fingerprint(path) for name, path in files.items()} == before
    calls = sim.calls()
    assert all(calls[name].get("usages") == 2 for name in UP), calls
    assert calls.get("k-idle", {}).get("usages", 0) == 0  # an expired token costs no call
    seen = "\n".join(r.text() for r in sim.requests_seen())
    assert seen.count("GET /kimi/coding/v1/usages") == 2 * len(UP)
    secrets = [KEY]
    for name, path in files.items():
        doc = json.loads(path.read_text())
        if "refresh_token" in doc:
            assert doc["refresh_token"] not in seen, name
            secrets += [doc["refresh_token"], doc["access_token"]]
        else:
            secrets.append(doc["env"]["ANTHROPIC_AUTH_TOKEN"])
    shown.append(exporter.logs)
    for text in shown:
        for secret in secrets:
            assert secret not in text


def test_check_config_accepts_kimi_accounts(config: dict[str, Any], tmp_path: Path) -> None:
    path = write_config(tmp_path, config, "checked.yml")
    done = subprocess.run([sys.executable, "-m", "exporter", "check-config",
                           "--config.file", str(path)], capture_output=True, text=True,
                          cwd=str(REPO), timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_an_idle_cli_comes_back_when_kimi_code_renews_its_file_without_a_restart(
        sim: Simulator, exporter: ExporterProcess) -> None:
    text = exporter.get("/metrics").text
    assert by_label(text, "llm_quota_up", "account")[("k-idle",)] == 0.0
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("k-idle", "auth")] >= 1.0
    sim.renew_credentials("k-idle")  # what running kimi-code does
    end = time.monotonic() + 15
    while by_label(text, "llm_quota_up", "account")[("k-idle",)] != 1.0:
        assert time.monotonic() < end, exporter.logs[-2000:]
        time.sleep(0.3)
        text = exporter.get("/metrics").text
    pools = by_label(text, "llm_quota_pool_remaining_fraction", "account", "pool", "window")
    assert pools[("k-idle", "kimi", "5h")] == pytest.approx(
        sim.pool_fraction("k-idle", "kimi", "5h"), abs=0.011)
    assert sim.calls()["k-idle"]["usages"] >= 1
