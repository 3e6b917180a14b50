"""The exporter as a real process against the simulator on loopback."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.simulator import SimAccount, Simulator
from tests.procs import ExporterProcess, by_label, start_exporter, write_config

ACCOUNTS = [
    SimAccount("it-ultra", tier="g1-ultra-tier", drain_per_hour=0.0),
    SimAccount("it-pro-file", credential_style="file", drain_per_hour=0.0),
    SimAccount("it-static", credential_style="access_token", drain_per_hour=0.0),
    SimAccount("it-free", tier="free-tier", drain_per_hour=0.0),
    SimAccount("it-revoked", revoked=True),
    SimAccount("it-faulty", drain_per_hour=0.0),
    SimAccount("it-rt-file", credential_style="refresh_token_file", drain_per_hour=0.0),
]
DEBUG = ("--log.level", "debug")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    s = Simulator(ACCOUNTS).start()
    yield s
    s.stop()


@pytest.fixture
def exporter_for(
    sim: Simulator, tmp_path: Path
) -> Iterator[Any]:
    started: list[ExporterProcess] = []

    def start(*extra: str, defaults: dict[str, Any] | None = None,
              accounts: list[str] | None = None) -> ExporterProcess:
        data = sim.exporter_config(tmp_path, accounts=accounts, defaults=defaults)
        proc = start_exporter(write_config(tmp_path, data), *extra)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def scrape(exp: ExporterProcess, timeout_header: float | None = None) -> str:
    headers = {}
    if timeout_header is not None:
        headers["X-Prometheus-Scrape-Timeout-Seconds"] = str(timeout_header)
    resp = exp.get("/metrics", headers=headers)
    assert resp.status_code == 200
    return resp.text


def test_values_match_the_upstream_for_every_healthy_account(sim: Simulator,
                                                             exporter_for: Any) -> None:
    sim.set_model_fraction("it-ultra", "claude-sonnet-4-5", 0.37)
    sim.set_pool_fraction("it-pro-file", "claude-gpt", "5h", 0.08)
    exp = exporter_for()
    text = scrape(exp)
    fractions = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    # Antigravity reports in 20% steps, rounded up: 37% is reported, and exported, as 40%.
    assert fractions[("it-ultra", "claude-sonnet-4-5")] == pytest.approx(0.4)
    for name in ("it-ultra", "it-pro-file", "it-static", "it-rt-file"):
        for model in ("gemini-3-pro-high", "gemini-3-flash", "claude-sonnet-4-5",
                      "gpt-oss-120b-medium"):
            expected = sim.model_fraction(name, model)
            assert fractions[(name, model)] == pytest.approx(expected, abs=1e-6), (name, model)
    pools = by_label(text, "llm_quota_pool_remaining_fraction", "account", "pool", "window")
    assert pools[("it-pro-file", "claude-gpt", "5h")] == pytest.approx(0.2)
    assert pools[("it-ultra", "gemini", "weekly")] == pytest.approx(
        sim.pool_fraction("it-ultra", "gemini", "weekly"), abs=1e-6)
    tiers = by_label(text, "llm_quota_account_info", "account", "tier")
    assert ("it-ultra", "g1-ultra-tier") in tiers and ("it-free", "free-tier") in tiers
    resets = by_label(text, "llm_quota_reset_timestamp_seconds", "account", "model")
    assert resets[("it-ultra", "claude-sonnet-4-5")] > time.time()


def test_an_omitted_fraction_is_unknown_and_resolved_from_its_pools(
        sim: Simulator, exporter_for: Any) -> None:
    sim.set_model_fraction("it-ultra", "gemini-3-flash", None)
    sim.set_pool_fraction("it-ultra", "gemini", "5h", 0.6)
    sim.set_pool_fraction("it-ultra", "gemini", "weekly", 0.8)
    sim.set_model_fraction("it-free", "claude-opus-4-5-thinking", None)
    text = scrape(exporter_for())
    fractions = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    effective = by_label(text, "llm_quota_effective_remaining_fraction", "account", "model")
    omitted = by_label(text, "llm_quota_remaining_fraction_omitted", "account", "model")
    resets = by_label(text, "llm_quota_reset_timestamp_seconds", "account", "model")
    # No number invented, the omission marked, the reset kept...
    assert ("it-ultra", "gemini-3-flash") not in fractions
    assert omitted == {("it-ultra", "gemini-3-flash"): 1.0,
                       ("it-free", "claude-opus-4-5-thinking"): 1.0}
    assert ("it-ultra", "gemini-3-flash") in resets
    # ... and the effective number from the pools that cover it: 60%, not 0.
    assert effective[("it-ultra", "gemini-3-flash")] == pytest.approx(0.6)
    # A free account has no pools to tell it: no effective sample, no page.
    assert ("it-free", "claude-opus-4-5-thinking") not in effective
    assert ("it-free", "claude-sonnet-4-5") in effective  # the control: it would be there


def test_a_model_at_100_percent_in_an_empty_pool_is_effectively_exhausted(
        sim: Simulator, exporter_for: Any) -> None:
    sim.set_model_fraction("it-ultra", "claude-sonnet-4-5", 1.0)
    sim.set_pool_fraction("it-ultra", "claude-gpt", "5h", 0.0)
    text = scrape(exporter_for(accounts=["it-ultra"]))
    own = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    effective = by_label(text, "llm_quota_effective_remaining_fraction", "account", "model")
    assert own[("it-ultra", "claude-sonnet-4-5")] > 0.99
    assert effective[("it-ultra", "claude-sonnet-4-5")] == 0.0
    assert effective[("it-ultra", "gemini-3-flash")] == pytest.approx(min(
        sim.model_fraction("it-ultra", "gemini-3-flash") or 0.0,
        sim.pool_fraction("it-ultra", "gemini", "5h"),
        sim.pool_fraction("it-ultra", "gemini", "weekly")), abs=1e-3)
    pools = by_label(text, "llm_quota_model_pool_info", "model", "pool")
    assert pools[("claude-sonnet-4-5", "claude-gpt")] == 1.0
    assert pools[("gemini-3-pro-high", "gemini")] == 1.0


def test_a_failing_summary_drops_only_the_pool_series(sim: Simulator,
                                                      exporter_for: Any) -> None:
    sim.set_fault("it-ultra", "503", method="retrieveUserQuotaSummary")
    text = scrape(exporter_for(accounts=["it-ultra"]))
    assert by_label(text, "llm_quota_up", "account") == {("it-ultra",): 0.0}
    assert by_label(text, "llm_quota_source_up", "source") == {
        ("models",): 1.0, ("summary",): 0.0}
    assert len(by_label(text, "llm_quota_remaining_fraction", "model")) == 5
    assert by_label(text, "llm_quota_pool_remaining_fraction", "pool") == {}
    errors = by_label(text, "llm_quota_fetch_errors_total", "reason")
    assert errors[("upstream",)] == 1.0


def test_failing_accounts_are_isolated_with_reasons(sim: Simulator, exporter_for: Any) -> None:
    sim.set_fault("it-faulty", "500")
    text = scrape(exporter_for())
    up = by_label(text, "llm_quota_up", "account")
    assert up[("it-revoked",)] == 0.0 and up[("it-faulty",)] == 0.0
    for healthy in ("it-ultra", "it-pro-file", "it-static", "it-free", "it-rt-file"):
        assert up[(healthy,)] == 1.0, healthy
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[("it-revoked", "auth")] == 1.0
    assert errors[("it-faulty", "upstream")] == 1.0
    fractions = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    assert not any(acc in ("it-revoked", "it-faulty") for acc, _ in fractions)


def test_free_account_without_pool_licence_is_up_with_no_pools(sim: Simulator,
                                                               exporter_for: Any) -> None:
    text = scrape(exporter_for(accounts=["it-free"]))
    assert by_label(text, "llm_quota_up", "account") == {("it-free",): 1.0}
    assert by_label(text, "llm_quota_pools_available", "account") == {("it-free",): 0.0}
    assert by_label(text, "llm_quota_pool_remaining_fraction", "account") == {}


def test_steady_state_costs_one_call_per_source_per_scrape(sim: Simulator,
                                                           exporter_for: Any) -> None:
    exp = exporter_for(accounts=["it-ultra", "it-pro-file", "it-rt-file"])
    for _ in range(4):
        scrape(exp)
    calls = sim.calls()
    for name in ("it-ultra", "it-pro-file", "it-rt-file"):
        c = calls[name]
        assert c.get("loadCodeAssist") == 1, (name, c)
        assert c.get("fetchAvailableModels") == 4, (name, c)
        assert c.get("retrieveUserQuotaSummary") == 4, (name, c)
    assert calls["it-ultra"].get("token") == 1
    assert calls["it-rt-file"].get("token") == 1
    assert calls["it-pro-file"].get("token", 0) == 0  # the borrowed token is still valid


def test_expired_access_token_is_refreshed_once_and_retried(sim: Simulator,
                                                            exporter_for: Any) -> None:
    exp = exporter_for(accounts=["it-ultra"])
    scrape(exp)
    sim.expire_access_tokens("it-ultra")
    text = scrape(exp)
    assert by_label(text, "llm_quota_up", "account") == {("it-ultra",): 1.0}
    assert sim.calls()["it-ultra"]["token"] == 2


def test_static_token_rejected_is_an_auth_error(sim: Simulator, exporter_for: Any) -> None:
    exp = exporter_for(accounts=["it-static"])
    sim.expire_access_tokens("it-static")
    text = scrape(exp)
    assert by_label(text, "llm_quota_up", "account") == {("it-static",): 0.0}
    assert by_label(text, "llm_quota_fetch_errors_total", "reason")[("auth",)] == 1.0


def test_hung_upstream_never_makes_a_scrape_overrun(sim: Simulator, exporter_for: Any) -> None:
    sim.set_fault("it-faulty", "hang", method="fetchAvailableModels", hang_seconds=30)
    exp = exporter_for(accounts=["it-ultra", "it-faulty"])
    started = time.monotonic()
    text = scrape(exp, timeout_header=2.0)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed
    up = by_label(text, "llm_quota_up", "account")
    assert up == {("it-ultra",): 1.0, ("it-faulty",): 0.0}
    sim.clear_faults()


def test_scrapes_that_arrive_together_share_one_fetch(tmp_path: Path) -> None:
    with Simulator([SimAccount("it-slow")], latency=0.4) as slow:
        data = slow.exporter_config(tmp_path)
        exp = start_exporter(write_config(tmp_path, data))
        try:
            results: list[str] = []
            threads = [threading.Thread(target=lambda: results.append(scrape(exp)))
                       for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(results) == 3
            for text in results:
                assert by_label(text, "llm_quota_up", "account") == {("it-slow",): 1.0}
            calls = slow.calls()["it-slow"]
            assert calls["fetchAvailableModels"] == 1, calls
            assert calls["retrieveUserQuotaSummary"] == 1, calls
        finally:
            exp.stop()


def test_min_interval_reuses_results(sim: Simulator, exporter_for: Any) -> None:
    exp = exporter_for(accounts=["it-ultra"], defaults={"min_interval": "1h"})
    scrape(exp)
    scrape(exp)
    assert sim.calls()["it-ultra"]["fetchAvailableModels"] == 1


def test_5xx_on_the_first_host_falls_through_to_the_second(sim: Simulator,
                                                           exporter_for: Any) -> None:
    sim.set_fault("it-ultra", "503", host="daily")
    text = scrape(exporter_for(accounts=["it-ultra"]))
    assert by_label(text, "llm_quota_up", "account") == {("it-ultra",): 1.0}
    assert sim.calls_by_host()["prod"]["fetchAvailableModels"] >= 1


def test_borrowed_credentials_file_is_left_byte_for_byte(sim: Simulator, tmp_path: Path,
                                                         exporter_for: Any) -> None:
    exp = exporter_for(accounts=["it-pro-file"])
    cred = next(tmp_path.glob("antigravity-*.json"))
    before = hashlib.sha256(cred.read_bytes()).hexdigest(), cred.stat().st_mtime_ns
    scrape(exp)
    sim.expire_access_tokens("it-pro-file")  # forces an in-memory refresh
    text = scrape(exp)
    assert by_label(text, "llm_quota_up", "account") == {("it-pro-file",): 1.0}
    assert sim.calls()["it-pro-file"]["token"] == 1
    assert (hashlib.sha256(cred.read_bytes()).hexdigest(), cred.stat().st_mtime_ns) == before


def test_no_secret_reaches_metrics_api_page_or_debug_logs(sim: Simulator, tmp_path: Path,
                                                          exporter_for: Any) -> None:
    exp = exporter_for(*DEBUG)
    sim.expire_access_tokens("it-ultra")
    outputs = [scrape(exp), scrape(exp), exp.get("/api/v1/quota").text, exp.get("/").text]
    exp.stop()
    outputs.append(exp.logs)
    secrets = {sim.client_secret}
    for name in [a.name for a in ACCOUNTS]:
        refresh, access, _ = sim.credentials(name, expiring=False)
        secrets.update({refresh, access})
    secrets.update(sim.issued_tokens())
    blob = "\n".join(outputs)
    assert "account fetch failed" in blob  # the logs are really there
    for secret in secrets:
        assert secret not in blob


def test_emails_never_in_labels_unless_opted_in(sim: Simulator, exporter_for: Any) -> None:
    text = scrape(exporter_for(accounts=["it-pro-file"]))
    assert "@example.invalid" not in text
    text = scrape(exporter_for(accounts=["it-pro-file"], defaults={"expose_email": True}))
    info = by_label(text, "llm_quota_account_info", "account", "email")
    assert ("it-pro-file", "it-pro-file@example.invalid") in info


def test_promtool_check_metrics_on_real_output(sim: Simulator, exporter_for: Any) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus)"
    text = scrape(exporter_for())
    result = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_health_and_ready_never_call_upstream(sim: Simulator, exporter_for: Any) -> None:
    exp = exporter_for()
    sim.reset_calls()
    assert exp.get("/-/healthy").status_code == 200
    assert exp.get("/-/ready").status_code == 200
    assert all(n == 0 for per in sim.calls().values() for n in per.values())


def test_landing_and_unknown_paths(sim: Simulator, exporter_for: Any) -> None:
    exp = exporter_for(accounts=["it-ultra"])
    page = exp.get("/")
    assert page.status_code == 200 and "it-ultra" in page.text and "/metrics" in page.text
    assert exp.get("/nope").status_code == 404
    assert exp.post("/metrics").status_code == 405


def test_custom_telemetry_path(sim: Simulator, exporter_for: Any) -> None:
    exp = exporter_for("--web.telemetry-path", "/quota-metrics", accounts=["it-ultra"])
    assert "llm_quota_up" in exp.get("/quota-metrics").text
    assert exp.get("/metrics").status_code == 404


def test_sigterm_stops_cleanly(sim: Simulator, exporter_for: Any) -> None:
    exp = exporter_for(accounts=["it-ultra"])
    assert exp.stop() == 0
    assert "msg=stopped" in exp.logs
