"""/probe?account= and /api/v1/targets: one account per scrape, for Prometheus sharding.

The first half drives the WSGI app in-process over a fake engine (parameters,
status codes, what is fetched); the second runs the exporter as a real process
against the simulator (upstream calls, deadline, shared fetches, min_interval).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from exporter.server.app import ExporterApp
from exporter.simulator import SimAccount, Simulator
from tests.procs import ExporterProcess, by_label, start_exporter, write_config
from tests.view_samples import FakeEngine, sample_snapshot

# --- in-process: the routes ---------------------------------------------------------


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine(
        sample_snapshot(),
        providers={"work": "antigravity", "personal": "antigravity", "team-ci": "gemini-cli"},
    )


def call(engine: FakeEngine, path: str, query: str = "", method: str = "GET",
         **headers: str) -> tuple[int, dict[str, str], str]:
    app = ExporterApp(engine)  # type: ignore[arg-type]  # duck-typed FetchEngine
    environ = {"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": method,
               **{f"HTTP_{k.upper()}": v for k, v in headers.items()}}
    status: list[str] = []
    response_headers: dict[str, str] = {}

    def start_response(line: str, hdrs: list[tuple[str, str]]) -> None:
        status.append(line)
        response_headers.update(hdrs)

    body = b"".join(app(environ, start_response))
    return int(status[0].split()[0]), response_headers, body.decode("utf-8")


def test_probe_fetches_and_exposes_only_that_account(engine: FakeEngine) -> None:
    status, headers, text = call(engine, "/probe", "account=personal",
                                 X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS="10")
    assert status == 200
    assert headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert engine.calls == [{"timeout": 9.5, "accounts": ["personal"], "force": False}]
    assert by_label(text, "llm_quota_up", "account") == {("personal",): 1.0}
    assert set(by_label(text, "llm_quota_remaining_fraction", "account")) == {("personal",)}
    assert "llm_quota_exporter_build_info" in text


def test_probe_with_the_matching_provider_answers(engine: FakeEngine) -> None:
    status, _, text = call(engine, "/probe", "account=team-ci&provider=gemini-cli")
    assert status == 200
    assert by_label(text, "llm_quota_up", "account", "provider") == {
        ("team-ci", "gemini-cli"): 0.0}


@pytest.mark.parametrize(("query", "status", "message"), [
    ("", 400, "query parameter 'account' is required"),
    ("account=work&account=personal", 400, "give exactly one 'account' to probe"),
    ("account=", 400, "query parameter 'account' is required"),
    ("account=%20", 400, "query parameter 'account' must not be empty"),
    ("acount=work", 400, "unknown query parameter 'acount' (allowed: account, provider)"),
    ("account=work&provider=claude&provider=codex", 400, "give at most one 'provider' to probe"),
    ("account=nope", 404, "unknown account 'nope' (configured: work, personal, team-ci)"),
    ("account=work&provider=claude", 404,
     "account 'work' has provider antigravity, not claude"),
])
def test_probe_refuses_bad_requests_naming_the_problem(
        engine: FakeEngine, query: str, status: int, message: str) -> None:
    got, headers, text = call(engine, "/probe", query)
    assert (got, text) == (status, message + "\n")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert engine.calls == [], "a refused probe must not fetch"


def test_probe_is_get_only(engine: FakeEngine) -> None:
    status, headers, _ = call(engine, "/probe", "account=work", method="POST")
    assert (status, headers["Allow"]) == (405, "GET, HEAD")
    assert engine.calls == []


def test_targets_are_http_sd_groups_per_provider(engine: FakeEngine) -> None:
    status, headers, text = call(engine, "/api/v1/targets")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(text) == [
        {"targets": ["work", "personal"],
         "labels": {"__meta_llm_quota_provider": "antigravity"}},
        {"targets": ["team-ci"], "labels": {"__meta_llm_quota_provider": "gemini-cli"}},
    ]
    assert engine.calls == [], "service discovery must never call upstream"


def test_targets_refuse_parameters_and_other_methods(engine: FakeEngine) -> None:
    status, _, text = call(engine, "/api/v1/targets", "account=work")
    assert status == 400
    assert json.loads(text)["error"]["message"] == (
        "unknown query parameter 'account' (allowed: none)")
    status, headers, _ = call(engine, "/api/v1/targets", method="POST")
    assert (status, headers["Allow"]) == (405, "GET, HEAD")


# --- a real exporter against the simulator --------------------------------------------

ACCOUNTS = [
    SimAccount("pr-one", drain_per_hour=0.0),
    SimAccount("pr-two", credential_style="file", drain_per_hour=0.0),
    SimAccount("pr-hung", drain_per_hour=0.0),
]


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(ACCOUNTS, latency=0.3) as s:
        yield s


@pytest.fixture
def exporter_for(sim: Simulator, tmp_path: Path) -> Iterator[Any]:
    started: list[ExporterProcess] = []

    def start(defaults: dict[str, Any] | None = None) -> ExporterProcess:
        proc = start_exporter(write_config(tmp_path, sim.exporter_config(
            tmp_path / "credentials", defaults=defaults)))
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


def probe(exp: ExporterProcess, account: str, **headers: str) -> str:
    resp = exp.get("/probe", params={"account": account}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.text


def test_probe_calls_upstream_for_that_account_only(sim: Simulator, exporter_for: Any) -> None:
    exp = exporter_for()
    text = probe(exp, "pr-two")
    assert by_label(text, "llm_quota_up", "account") == {("pr-two",): 1.0}
    assert by_label(text, "llm_quota_pool_remaining_fraction", "account", "pool", "window")
    calls = sim.calls()
    assert calls["pr-two"]["fetchAvailableModels"] == 1
    assert calls["pr-two"]["retrieveUserQuotaSummary"] == 1
    for other in ("pr-one", "pr-hung"):
        assert sum(calls[other].values()) == 0, (other, calls[other])


def test_simultaneous_probes_of_one_account_share_one_fetch(sim: Simulator,
                                                            exporter_for: Any) -> None:
    exp = exporter_for()
    texts: list[str] = []
    threads = [threading.Thread(target=lambda: texts.append(probe(exp, "pr-one")))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(texts) == 3
    assert sim.calls()["pr-one"]["fetchAvailableModels"] == 1


def test_probe_and_metrics_share_min_interval(sim: Simulator, exporter_for: Any) -> None:
    exp = exporter_for(defaults={"min_interval": "1h"})
    probe(exp, "pr-one")
    assert exp.get("/metrics").status_code == 200
    probe(exp, "pr-one")
    calls = sim.calls()
    assert calls["pr-one"]["fetchAvailableModels"] == 1, "min_interval reused the probe's fetch"
    assert calls["pr-two"]["fetchAvailableModels"] == 1


def test_probe_keeps_the_scrape_deadline(sim: Simulator, exporter_for: Any) -> None:
    sim.set_fault("pr-hung", "hang", method="fetchAvailableModels", hang_seconds=30)
    exp = exporter_for()
    started = time.monotonic()
    text = probe(exp, "pr-hung", **{"X-Prometheus-Scrape-Timeout-Seconds": "2"})
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed
    assert by_label(text, "llm_quota_up", "account") == {("pr-hung",): 0.0}
    assert by_label(text, "llm_quota_fetch_errors_total", "reason")[("timeout",)] == 1.0
    sim.clear_faults()


def test_targets_list_every_account_and_no_email(sim: Simulator, exporter_for: Any) -> None:
    exp = exporter_for()
    resp = exp.get("/api/v1/targets")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json() == [{"targets": ["pr-one", "pr-two", "pr-hung"],
                            "labels": {"__meta_llm_quota_provider": "antigravity"}}]
    for name in sim.account_names:
        assert sim.account(name).email not in resp.text
    assert all(sum(c.values()) == 0 for c in sim.calls().values())
