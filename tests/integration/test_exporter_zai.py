"""z.ai end to end: the exporter as a real process against the simulated z.ai upstream
on loopback, keys kept where users keep them (Claude Code's settings.json, opencode's
auth.json, a key file, the config)."""

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

ACCOUNTS = [
    SimAccount("zai-pro", provider="zai", drain_per_hour=0.0,
               pool_fractions={"glm/5h": 0.7, "glm/weekly": 0.85, "mcp/monthly": 0.5}),
    SimAccount("zai-lite", provider="zai", tier="lite", credential_style="opencode",
               drain_per_hour=0.0, pool_fractions={"glm/5h": 1.0, "glm/weekly": 0.12}),
    SimAccount("zai-out", provider="zai", credential_style="api_key_file", drain_per_hour=0.0,
               pool_fractions={"glm/5h": 0.0, "glm/weekly": 0.4}),
    SimAccount("zai-key", provider="zai", tier="lite", credential_style="api_key",
               drain_per_hour=0.0, pool_fractions={"glm/5h": 0.5, "glm/weekly": 0.5}),
    SimAccount("zai-none", provider="zai", tier="no_plan", credential_style="api_key"),
]
NAMES = [a.name for a in ACCOUNTS]
SERVING = [n for n in NAMES if n != "zai-none"]
KEY = ("account", "pool", "window")



@pytest.fixture
def setup(sim: Simulator, tmp_path: Path) -> Iterator[tuple[ExporterProcess, dict[str, Any]]]:
    config = sim.exporter_config(tmp_path)
    exp = start_exporter(write_config(tmp_path, config), "--log.level", "debug")
    accounts: list[dict[str, Any]] = config["accounts"]  # type: ignore[assignment]
    yield exp, {a["name"]: a for a in accounts}
    exp.stop()


def keys(sim: Simulator) -> list[str]:
    return [sim.credentials(name, expiring=False)[1] for name in NAMES]


def test_windows_credits_and_tool_calls_match_the_simulator(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    text = scrape(exp)
    up = by_label(text, "llm_quota_up", "account")
    assert {a: up[(a,)] for a in NAMES} == {
        "zai-pro": 1.0, "zai-lite": 1.0, "zai-out": 1.0, "zai-key": 1.0, "zai-none": 0.0}
    fraction = by_label(text, "llm_quota_pool_remaining_fraction", *KEY)
    for account in SERVING:
        for pool, window in (("glm", "5h"), ("glm", "weekly")):
            expected = sim.pool_fraction(account, pool, window)
            # z.ai rounds the percent used up; counts are exact where it gives them.
            assert fraction[(account, pool, window)] == pytest.approx(expected, abs=0.01)
            assert fraction[(account, pool, window)] <= expected + 1e-9
    assert fraction[("zai-out", "glm", "5h")] == 0.0  # used up: exported, not hidden
    assert fraction[("zai-lite", "glm", "weekly")] == pytest.approx(0.12)
    credits = by_label(text, "llm_quota_pool_remaining_credits", *KEY)
    limit = by_label(text, "llm_quota_pool_limit_credits", *KEY)
    assert (credits[("zai-lite", "glm", "weekly")], limit[("zai-lite", "glm", "weekly")]) == (
        1200.0, 10000.0)
    assert (credits[("zai-lite", "glm", "5h")], limit[("zai-lite", "glm", "5h")]) == (
        2000.0, 2000.0)
    assert not [k for k in credits if k[0] == "zai-pro"]  # Pro gives percentages alone
    calls = by_label(text, "llm_quota_pool_remaining_requests", *KEY)
    calls_limit = by_label(text, "llm_quota_pool_limit_requests", *KEY)
    assert (calls[("zai-pro", "mcp", "monthly")], calls_limit[("zai-pro", "mcp", "monthly")]) \
        == (500.0, 1000.0)
    assert fraction[("zai-pro", "mcp", "monthly")] == pytest.approx(0.5)
    resets = by_label(text, "llm_quota_pool_reset_timestamp_seconds", *KEY)
    pools = sim.state()["accounts"]["zai-pro"]["pools"]
    assert resets[("zai-pro", "glm", "weekly")] == parse_rfc3339(pools["glm/weekly"]["reset_time"])
    assert resets[("zai-pro", "mcp", "monthly")] == parse_rfc3339(
        pools["mcp/monthly"]["reset_time"])
    assert ("zai-lite", "glm", "5h") not in resets  # idle: z.ai gives no reset, none made up
    tiers = by_label(text, "llm_quota_account_info", "account", "tier", "tier_name")
    assert ("zai-pro", "pro", "GLM Coding Pro") in tiers
    assert ("zai-lite", "lite", "GLM Coding Lite") in tiers
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("zai-none", "forbidden")] == 1.0


def test_json_api_agrees_with_metrics_and_says_what_to_do_without_a_plan(
        setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    text = scrape(exp)
    fraction = by_label(text, "llm_quota_pool_remaining_fraction", *KEY)
    credits = by_label(text, "llm_quota_pool_remaining_credits", *KEY)
    doc = api(exp)
    seen = 0
    for account in SERVING:
        for pool in doc[account]["pools"]:
            key = (account, pool["pool"], pool["window"])
            assert pool["remaining_fraction"] == pytest.approx(fraction[key])
            if key in credits:
                assert pool["remaining_credits"] == credits[key]
            seen += 1
    assert seen == len(fraction)
    error = doc["zai-none"]["error"]
    assert error["reason"] == "forbidden"
    assert "no GLM Coding Plan" in error["message"]
    assert "当前用户不存在coding plan" in error["message"]


def test_the_raw_key_is_sent_and_no_refresh_token_ever(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    scrape(exp)
    seen = [r for r in sim.requests_seen() if "/zai/" in r.path]
    assert {r.headers["Authorization"] for r in seen} == set(keys(sim))  # no "Bearer"
    assert all(r.verb == "GET" and r.path == "/zai/api/monitor/usage/quota/limit"
               for r in seen)
    assert all(r.headers.get("Accept-Language") == "en-US,en" for r in seen)
    refresh = [sim.credentials(name, expiring=False)[0] for name in NAMES]
    everything = "\n".join(r.text() for r in sim.requests_seen())
    assert everything and not [t for t in refresh if t in everything]
    assert all(sim.calls()[name]["token"] == 0 for name in NAMES)


def test_credential_files_are_left_byte_for_byte(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]], tmp_path: Path) -> None:
    exp, _ = setup
    before = files_of(tmp_path)
    assert any(p.endswith("settings.json") for p in before)
    assert any(p.endswith("auth.json") for p in before)
    for _ in range(2):
        scrape(exp)
    sim.expire_access_tokens("zai-pro")  # a refused key is never "renewed" by writing
    scrape(exp)
    assert files_of(tmp_path) == before


def test_no_key_reaches_metrics_api_page_logs_or_errors(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    sim.expire_access_tokens("zai-key")  # an error message about that very key
    views = [scrape(exp), exp.get("/api/v1/quota").text, exp.get("/").text]
    assert "refused" in api(exp)["zai-key"]["error"]["message"]
    planted = keys(sim)
    for view in (*views, exp.logs):
        assert not [k for k in planted if k in view]
        assert "zai-sim-key." not in view


def test_a_refused_key_file_is_re_read_when_its_owner_writes_a_new_key(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, accounts = setup
    sim.expire_access_tokens("zai-out")
    assert by_label(scrape(exp), "llm_quota_up", "account")[("zai-out",)] == 0.0
    message = api(exp)["zai-out"]["error"]["message"]
    assert "was refused (401)" in message and "https://open.bigmodel.cn" in message
    _, fresh, _ = sim.credentials("zai-out", expiring=True)
    write_secret(Path(accounts["zai-out"]["credentials"]["api_key_file"]), fresh + "\n")
    text = scrape(exp)
    assert by_label(text, "llm_quota_up", "account")[("zai-out",)] == 1.0
    assert fresh not in text and fresh not in exp.logs


def test_check_config_accepts_every_kind_of_zai_account(
        sim: Simulator, tmp_path: Path) -> None:
    config = sim.exporter_config(tmp_path)
    config["accounts"].append({  # type: ignore[union-attr]
        "name": "zai-env", "provider": "zai", "credentials": {"api_key_env": "ZAI_TEST_KEY"},
        "endpoints": ["https://open.bigmodel.cn"]})
    path = write_config(tmp_path, config)
    env = {**os.environ, "PYTHONPATH": str(REPO), "ZAI_TEST_KEY": "k-from-env"}
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", "--config.file", str(path)],
        capture_output=True, text=True, env=env, cwd=str(REPO), timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "k-from-env" not in result.stdout + result.stderr
    kinds = {json.dumps(a["credentials"], sort_keys=True).split('"')[1]
             for a in config["accounts"]}  # type: ignore[union-attr]
    assert kinds == {"file", "api_key", "api_key_file", "api_key_env"}
