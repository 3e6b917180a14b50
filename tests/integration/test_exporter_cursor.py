"""Cursor end to end: the exporter as a real process against the simulator on loopback,
the token in Cursor's own `state.vscdb` (SQLite), never refreshed, never written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
    SimAccount("cu-pro", provider="cursor", tier="pro", drain_per_hour=0.0,
               pool_fractions={"auto/monthly": 0.75, "api/monthly": 0.5}),
    SimAccount("cu-ultra", provider="cursor", tier="ultra", drain_per_hour=0.0,
               credential_style="access_token_file",
               pool_fractions={"auto/monthly": 0.1, "api/monthly": 0.0}),
    SimAccount("cu-team", provider="cursor", tier="team", drain_per_hour=0.0,
               credential_style="access_token",
               pool_fractions={"auto/monthly": 1.0, "api/monthly": 0.25}),
    SimAccount("cu-ent", provider="cursor", tier="enterprise", drain_per_hour=0.0),
]
NAMES = [a.name for a in ACCOUNTS]
KEY = ("account", "pool", "window")



@pytest.fixture
def setup(sim: Simulator, tmp_path: Path) -> Iterator[tuple[ExporterProcess, dict[str, Any]]]:
    config = sim.exporter_config(tmp_path)
    exp = start_exporter(write_config(tmp_path, config), "--log.level", "debug")
    accounts: list[dict[str, Any]] = config["accounts"]  # type: ignore[assignment]
    yield exp, {a["name"]: a for a in accounts}
    exp.stop()


def stored(path: Path, key: str) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)
    try:
        (value,) = conn.execute("SELECT value FROM ItemTable WHERE key = ?", (key,)).fetchone()
    finally:
        conn.close()
    return str(value)


def test_pools_match_the_simulator_and_the_json_api_agrees(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    text = scrape(exp)
    up = by_label(text, "llm_quota_up", "account")
    assert {a: up[(a,)] for a in NAMES} == dict.fromkeys(NAMES, 1.0)
    fraction = by_label(text, "llm_quota_pool_remaining_fraction", *KEY)
    credits_left = by_label(text, "llm_quota_pool_remaining_credits", *KEY)
    credits_limit = by_label(text, "llm_quota_pool_limit_credits", *KEY)
    resets = by_label(text, "llm_quota_pool_reset_timestamp_seconds", *KEY)
    for name in ("cu-pro", "cu-ultra", "cu-team"):
        for pool in ("auto", "api"):
            expected = sim.pool_fraction(name, pool, "monthly")
            assert fraction[(name, pool, "monthly")] == pytest.approx(expected, abs=1e-4)
        # Cycle end from the simulator's billing cycle.
        state = sim.state()["accounts"][name]["pools"]["auto/monthly"]
        assert resets[(name, "auto", "monthly")] == pytest.approx(
            parse_rfc3339(state["reset_time"]), abs=1.0)
        # Included dollars with no fraction of their own.
        assert (name, "included", "monthly") not in fraction
    # Dollars: $20 of a Pro plan with the other-models bar at half.
    assert (credits_left[("cu-pro", "included", "monthly")],
            credits_limit[("cu-pro", "included", "monthly")]) == (10.0, 20.0)
    assert credits_left[("cu-ultra", "included", "monthly")] == 0.0  # a zero is shown
    assert credits_limit[("cu-ultra", "included", "monthly")] == 200.0
    assert fraction[("cu-ultra", "api", "monthly")] == 0.0
    assert (credits_left[("cu-team", "spend-limit", "monthly")],
            credits_limit[("cu-team", "spend-limit", "monthly")]) == (100.0, 100.0)
    assert fraction[("cu-team", "spend-limit-pooled", "monthly")] == pytest.approx(0.75)
    # The Enterprise seat: up, its tier, and no pool series at all.
    assert not [k for k in (*fraction, *credits_left) if k[0] == "cu-ent"]
    tiers = by_label(text, "llm_quota_account_info", "account", "tier", "tier_name")
    assert ("cu-pro", "pro", "Cursor Pro") in tiers
    assert ("cu-ent", "enterprise", "Cursor Enterprise") in tiers
    assert ("cu-team", "unknown", "") in tiers  # a bare token names no plan
    # The JSON API says the same.
    views = api(exp)
    for name in ("cu-pro", "cu-ultra", "cu-team"):
        for p in views[name]["pools"]:
            key = (name, p["pool"], p["window"])
            assert p.get("remaining_fraction") == fraction.get(key)
            assert p.get("remaining_credits") == credits_left.get(key)
            assert p.get("limit_credits") == credits_limit.get(key)
    assert views["cu-ent"]["pools"] == [] and views["cu-ent"]["up"] is True
    # Not "no licence": Cursor reported no quotas for the seat.
    assert ("cu-ent",) not in by_label(text, "llm_quota_pools_available", "account")
    assert views["cu-ent"]["pools_available"] is None


def test_requests_are_connect_posts_and_no_refresh_token_is_ever_sent(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, accounts = setup
    scrape(exp)
    sim.expire_credentials("cu-pro")  # the store now holds an expired token
    scrape(exp)
    seen = sim.requests_seen()
    cursor = [r for r in seen if r.path.startswith("/cursor/")]
    assert cursor and all(r.verb == "POST" and r.body == b"{}" for r in cursor)
    assert all(r.headers.get("Connect-Protocol-Version") == "1" for r in cursor)
    refresh = stored(Path(accounts["cu-pro"]["credentials"]["file"]),
                     "cursorAuth/refreshToken")
    assert refresh and not any(refresh in r.text() for r in seen)
    assert not any("oauth/token" in r.path for r in seen)
    assert all(sim.calls()[a].get("token", 0) == 0 for a in NAMES)


def test_expired_token_says_to_open_cursor_and_a_renewed_store_is_read_without_restart(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]], tmp_path: Path) -> None:
    exp, _ = setup
    assert by_label(scrape(exp), "llm_quota_up", "account")[("cu-pro",)] == 1.0
    calls = sim.calls()["cu-pro"]["GetCurrentPeriodUsage"]
    sim.expire_credentials("cu-pro")
    text = scrape(exp)
    assert by_label(text, "llm_quota_up", "account")[("cu-pro",)] == 0.0
    assert by_label(text, "llm_quota_fetch_errors_total", "account", "reason")[
        ("cu-pro", "auth")] == 1.0
    error = api(exp)["cu-pro"]["error"]
    assert error["reason"] == "auth" and "open Cursor" in error["message"]
    assert sim.calls()["cu-pro"]["GetCurrentPeriodUsage"] == calls  # expired: not sent
    sim.renew_credentials("cu-pro")  # Cursor opened: a fresh token in state.vscdb
    assert by_label(scrape(exp), "llm_quota_up", "account")[("cu-pro",)] == 1.0


def test_credential_files_are_left_byte_for_byte_and_nothing_is_created(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]], tmp_path: Path) -> None:
    exp, _ = setup
    before = files_of(tmp_path)
    assert any(p.endswith("state.vscdb") for p in before)
    for _ in range(3):
        scrape(exp)
    assert files_of(tmp_path) == before  # no -wal, -shm or journal beside the store


def test_no_token_or_email_reaches_metrics_api_page_or_logs(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]], tmp_path: Path) -> None:
    exp, accounts = setup
    sim.set_fault("cu-team", "403")
    sim.set_fault("cu-ultra", "401")
    outputs = [scrape(exp), exp.get("/api/v1/quota").text, exp.get("/").text]
    store = Path(accounts["cu-pro"]["credentials"]["file"])
    secrets = [stored(store, "cursorAuth/accessToken"), stored(store, "cursorAuth/refreshToken"),
               accounts["cu-team"]["credentials"]["access_token"],
               Path(accounts["cu-ultra"]["credentials"]["access_token_file"]).read_text().strip(),
               "cu-pro@example.invalid", *sim.issued_tokens()]
    errors = api(exp)
    assert errors["cu-team"]["error"]["reason"] == "forbidden"
    assert "sign in to Cursor again" in errors["cu-team"]["error"]["message"]
    assert errors["cu-ultra"]["error"]["reason"] == "auth"
    for secret in secrets:
        for out in [*outputs, exp.logs]:
            assert secret not in out
    # The sweep would have seen them: the token is in the requests the simulator got.
    assert any(secrets[0] in r.text() for r in sim.requests_seen())


def test_check_config_accepts_a_cursor_account(sim: Simulator, tmp_path: Path) -> None:
    path = write_config(tmp_path, sim.exporter_config(tmp_path))
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", "--config.file", str(path)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=str(REPO), timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_faults_fail_only_their_account_with_the_right_reason(
        sim: Simulator, setup: tuple[ExporterProcess, dict[str, Any]]) -> None:
    exp, _ = setup
    sim.set_fault("cu-pro", "wrong_types")
    sim.set_fault("cu-ultra", "503")
    sim.set_fault("cu-team", "429", retry_delay=30)
    text = scrape(exp)
    up = by_label(text, "llm_quota_up", "account")
    assert (up[("cu-pro",)], up[("cu-ultra",)], up[("cu-team",)], up[("cu-ent",)]) == (
        0.0, 0.0, 0.0, 1.0)
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("cu-pro", "parse")] == 1.0
    assert errors[("cu-ultra", "upstream")] == 1.0
    assert errors[("cu-team", "rate_limited")] == 1.0
    views = api(exp)
    assert views["cu-pro"]["error"]["message"].startswith(
        "GetCurrentPeriodUsage: unexpected reply:")
    assert "answered 429" in views["cu-team"]["error"]["message"]
    fraction = by_label(text, "llm_quota_pool_remaining_fraction", *KEY)
    assert not [k for k in fraction if k[0] in ("cu-pro", "cu-ultra", "cu-team")]
