"""MiniMax end to end: the exporter as a real process against the simulated MiniMax on
loopback, keys given as api_key, api_key_file, Claude Code's settings.json and
opencode's auth.json."""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.simulator import SimAccount, Simulator
from tests.procs import (
    REPO,
    ExporterProcess,
    by_label,
    files_of,
    scrape,
    start_exporter,
    write_config,
)

ACCOUNTS = [
    SimAccount("mm-plan", provider="minimax", drain_per_hour=0.0,
               pool_fractions={"general/5h": 0.73, "general/weekly": 0.61}),
    SimAccount("mm-exhausted", provider="minimax", drain_per_hour=0.0,
               credential_style="claude_settings",
               pool_fractions={"general/5h": 0.0, "general/weekly": 0.45}),
    SimAccount("mm-counts", provider="minimax", tier="coding-plan", drain_per_hour=0.0,
               credential_style="opencode",
               pool_fractions={"minimax-m/5h": 0.5, "minimax-m/weekly": 0.12}),
    SimAccount("mm-noplan", provider="minimax", tier="no-plan", credential_style="api_key"),
]
NAMES = [a.name for a in ACCOUNTS]
KEY = ("account", "pool", "window")



@pytest.fixture
def setup(sim: Simulator, tmp_path: Path) -> Iterator[tuple[ExporterProcess, dict[str, Any]]]:
    config = sim.exporter_config(tmp_path)
    exp = start_exporter(write_config(tmp_path, config), "--log.level", "debug")
    yield exp, config
    exp.stop()




def keys_of(sim: Simulator) -> dict[str, str]:
    return {a: sim.credentials(a, expiring=False)[1] for a in NAMES}


def test_pools_match_the_simulator_and_the_json_api_agrees(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    text = scrape(exp)
    up = by_label(text, "llm_quota_up", "account")
    assert {a: up[(a,)] for a in NAMES} == {
        "mm-plan": 1.0, "mm-exhausted": 1.0, "mm-counts": 1.0, "mm-noplan": 0.0}
    fraction = by_label(text, "llm_quota_pool_remaining_fraction", *KEY)
    assert {k: v for k, v in fraction.items() if k[0] in NAMES} == {
        ("mm-plan", "general", "5h"): 0.73, ("mm-plan", "general", "weekly"): 0.61,
        # Status 2: exhausted, exported as 0 (never dropped).
        ("mm-exhausted", "general", "5h"): 0.0, ("mm-exhausted", "general", "weekly"): 0.45,
        ("mm-counts", "minimax-m", "5h"): 0.5, ("mm-counts", "minimax-m", "weekly"): 0.12}
    for (account, pool, window), value in fraction.items():
        if account in NAMES:
            expected = sim.pool_fraction(account, pool, window)
            assert value == pytest.approx(expected, abs=0.011 if account != "mm-counts" else 1e-3)
    left = by_label(text, "llm_quota_pool_remaining_requests", *KEY)
    limit = by_label(text, "llm_quota_pool_limit_requests", *KEY)
    assert (left[("mm-counts", "minimax-m", "5h")], limit[("mm-counts", "minimax-m", "5h")]) == (
        750.0, 1500.0)
    assert limit[("mm-counts", "minimax-m", "weekly")] == 15000.0
    assert not [k for k in left if k[0] in ("mm-plan", "mm-exhausted")]  # percents: no counts
    resets = by_label(text, "llm_quota_pool_reset_timestamp_seconds", *KEY)
    state = sim.state()["accounts"]["mm-plan"]["pools"]
    for window in ("5h", "weekly"):
        assert resets[("mm-plan", "general", window)] == pytest.approx(
            _unix(state[f"general/{window}"]["reset_time"]), abs=1.0)  # shown to the second
    # The JSON API tells the same story.
    doc = exp.get("/api/v1/quota", params={"provider": "minimax"}).json()
    accounts = {a["account"]: a for a in doc["accounts"]}
    assert set(accounts) == set(NAMES)
    for name in ("mm-plan", "mm-exhausted", "mm-counts"):
        pools = accounts[name]["pools"]
        assert {(name, p["pool"], p["window"]): p["remaining_fraction"] for p in pools} == {
            k: v for k, v in fraction.items() if k[0] == name}
    error = accounts["mm-noplan"]["error"]
    assert error["reason"] == "auth"
    assert "MiniMax answered 1004 (cookie is missing, log in again)" in error["message"]
    assert "https://api.minimaxi.com" in error["message"]  # which host a China key needs


def _unix(rfc3339: str) -> float:
    from exporter.timefmt import parse_rfc3339
    return parse_rfc3339(rfc3339)


def test_requests_carry_the_key_and_nothing_is_refreshed_or_written(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]], tmp_path: Path) -> None:
    exp, _ = setup
    before = files_of(tmp_path)
    scrape(exp)
    scrape(exp)
    assert files_of(tmp_path) == before  # credential files byte for byte, mtimes too
    seen = sim.requests_seen()
    keys = keys_of(sim)
    assert {r.path for r in seen} == {"/minimax/v1/api/openplatform/coding_plan/remains"}
    assert {r.headers["Authorization"] for r in seen} == {f"Bearer {k}" for k in keys.values()}
    assert all(r.verb == "GET" and r.body == b"" for r in seen)
    refresh_tokens = [sim.credentials(a, expiring=False)[0] for a in NAMES]
    assert not [t for t in refresh_tokens for r in seen if t in r.text()]
    assert all(sim.calls()[a]["token"] == 0 for a in NAMES)


def test_a_key_never_reaches_metrics_api_page_or_logs(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    scrape(exp)
    sim.set_fault("mm-plan", "401", times=1)  # a refused key: an auth error with a message
    sim.set_fault("mm-counts", "429")
    outputs = [scrape(exp), exp.get("/api/v1/quota").text, exp.get("/").text]
    doc = exp.get("/api/v1/quota").json()
    errors = {a["account"]: a["error"] for a in doc["accounts"] if a.get("error")}
    assert errors["mm-plan"]["reason"] == "auth"
    assert "api.minimaxi.com" in errors["mm-plan"]["message"]
    assert errors["mm-counts"]["reason"] == "rate_limited"
    exp.stop()
    everything = "\n".join([*outputs, exp.logs])
    keys = keys_of(sim)
    for key in keys.values():
        assert key in {r.headers["Authorization"][7:] for r in sim.requests_seen()}  # was sent
        assert key not in everything
        assert key[len("sk-cp-sim"):] not in everything


def test_check_config_accepts_every_credential_style(sim: Simulator, tmp_path: Path) -> None:
    config = write_config(tmp_path, sim.exporter_config(tmp_path))
    result = subprocess.run([sys.executable, "-m", "exporter", "check-config", "--config.file",
                             str(config)], capture_output=True, text=True, cwd=str(REPO),
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    for key in keys_of(sim).values():
        assert key not in result.stdout + result.stderr


def test_a_rotated_key_file_is_read_again_without_a_restart(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, config = setup
    (plan,) = [a for a in config["accounts"] if a["name"] == "mm-plan"]
    path = Path(plan["credentials"]["api_key_file"])
    good = path.read_text()
    path.write_text("sk-cp-wrong\n")
    assert by_label(scrape(exp), "llm_quota_up", "account")[("mm-plan",)] == 0.0
    path.write_text(good)
    assert by_label(scrape(exp), "llm_quota_up", "account")[("mm-plan",)] == 1.0
    assert not math.isnan(sim.pool_fraction("mm-plan", "general", "5h"))
