"""Fault matrix: one misbehaving account beside healthy ones, one exporter per fault.

Every row runs a real exporter process against the simulator on loopback and
checks the same contract: the scrape answers 200 within its deadline, the healthy
accounts are untouched (up and their values equal upstream's), the failing one
is down with exactly one error of the expected reason (or stays up, for the
faults the exporter should absorb), and the process is still alive and healthy.
docs/reliability.md records what these rows observed.

The last two rows are floods from the outside rather than upstream faults: a
visitor flood (page, API and HEAD views, forced refreshes) and a flood of idle and
half-sent connections. Each must leave the scrape and the healthy accounts as they
are, and cost no upstream call beyond what the rules allow.

No row sends traffic off this machine. The unresolvable-host row runs the
exporter with RES_OPTIONS=attempts:0, which makes glibc's DNS client give up
before it opens a socket, so even a name under the reserved `.invalid` TLD is
never sent to the resolver in /etc/resolv.conf.
"""

from __future__ import annotations

import platform
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests

from exporter.simulator import SimAccount, Simulator
from exporter.snapshot import Reason
from tests.flood import HALF_SENT, THREAD_BOUND, Flood, all_at_once, thread_count
from tests.procs import ExporterProcess, by_label, write_config

HEALTHY = ("fm-healthy-refresh", "fm-healthy-file")
VICTIM = "fm-victim"
TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SCRAPE_TIMEOUT = 5.0  # what Prometheus would send; every scrape must end before it
HANG_SCRAPE_TIMEOUT = 2.0
RETRY_DELAY = 3.0  # the 429 row's retryDelay
# A name that can never exist (RFC 6761); only ever looked up with DNS disabled.
UNRESOLVABLE = "quota-upstream.invalid"
NO_DNS_ENV = {"RES_OPTIONS": "attempts:0", "LOCALDOMAIN": ""}
MODELS = ("gemini-3-pro-high", "gemini-3-flash", "claude-sonnet-4-5", "gpt-oss-120b-medium")
VIEWS = [("GET", "/"), ("GET", "/api/v1/quota"), ("HEAD", "/"), ("HEAD", "/api/v1/quota")]
VIEWS_EACH, REFRESHES = 10, 5
IDLE, HALF = 300, 40
FLOOD_READ_TIMEOUT = 3.0  # --web.read-timeout of the connection-flood row
FLOOD_SCRAPE = 2.0  # what a scrape may take under the connection flood


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass(frozen=True)
class Case:
    id: str
    reason: str | None  # the error reason expected once; None: the account stays up
    setup: Callable[[Simulator], None] = lambda sim: None
    credential_style: str = "refresh_token"
    endpoints: Callable[[], list[str]] | None = None  # replaces the victim's base URLs
    env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()  # extra exporter flags
    scrape_timeout: float = SCRAPE_TIMEOUT
    # Row-specific checks after the common ones, in the same exporter.
    then: Callable[[Run, str], None] | None = None
    why: str = ""  # the rule behind `reason`, shown when it does not hold
    partial: bool = False  # one source fails: the other one's series stay


@dataclass
class Run:
    sim: Simulator
    exp: ExporterProcess
    case: Case

    def scrape(self) -> tuple[str, float]:
        started = time.monotonic()
        resp = self.exp.get("/metrics", headers={TIMEOUT_HEADER: str(self.case.scrape_timeout)})
        elapsed = time.monotonic() - started
        assert resp.status_code == 200, (resp.status_code, resp.text[:300])
        assert elapsed < self.case.scrape_timeout, (
            f"{self.case.id}: scrape took {elapsed:.2f}s, past its "
            f"{self.case.scrape_timeout:g}s deadline")
        return resp.text, elapsed

    def victim_errors(self, text: str) -> dict[str, float]:
        errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
        return {reason: value for (acc, reason), value in errors.items() if acc == VICTIM}


def _retry_delay_keeps_both_hosts_closed(run: Run, text: str) -> None:
    first_end = time.monotonic()
    # The healthy accounts succeed on the first host, so only the victim reached prod.
    assert run.sim.calls_by_host()["prod"]["loadCodeAssist"] == 1
    before = run.sim.calls()[VICTIM]
    text, _ = run.scrape()
    assert run.sim.calls()[VICTIM] == before, "a host was called again inside its retryDelay"
    assert by_label(text, "llm_quota_up", "account")[(VICTIM,)] == 0.0
    assert run.victim_errors(text)["rate_limited"] == 1.0
    # retryDelay is wall-clock time in the exporter: it has to pass for real.
    time.sleep(max(0.0, first_end + RETRY_DELAY + 0.3 - time.monotonic()))
    text, _ = run.scrape()
    assert run.sim.calls()[VICTIM]["loadCodeAssist"] == before["loadCodeAssist"] + 2, (
        "the hosts were not tried again once retryDelay had passed")
    assert run.victim_errors(text)["rate_limited"] == 2.0


def _dead_refresh_token_is_not_retried(run: Run, text: str) -> None:
    assert run.sim.calls()[VICTIM]["token"] == 1
    text, _ = run.scrape()
    assert run.victim_errors(text)["auth"] == 2.0
    assert run.sim.calls()[VICTIM]["token"] == 1, "invalid_grant was sent to the token URL again"


def _no_pools_but_models(run: Run, text: str) -> None:
    assert by_label(text, "llm_quota_pools_available", "account")[(VICTIM,)] == 0.0
    assert (VICTIM,) not in by_label(text, "llm_quota_pool_remaining_fraction", "account")
    fractions = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    for model in MODELS:
        assert fractions[(VICTIM, model)] == pytest.approx(
            run.sim.model_fraction(VICTIM, model), abs=1e-6), model


def _second_host_answered(run: Run, text: str) -> None:
    prod = run.sim.calls_by_host()["prod"]
    assert prod["fetchAvailableModels"] == 1 and prod["retrieveUserQuotaSummary"] == 1, prod
    pools = by_label(text, "llm_quota_pool_remaining_fraction", "account", "pool", "window")
    assert pools[(VICTIM, "gemini", "weekly")] == pytest.approx(
        run.sim.pool_fraction(VICTIM, "gemini", "weekly"), abs=1e-6)


def _visitors_cost_no_upstream_call(run: Run, text: str) -> None:
    """After a scrape: page, API and HEAD views call nothing upstream; of simultaneous
    forced refreshes of one account, one gets through."""
    before = run.sim.calls()

    def call(method: str, path: str) -> int:
        resp = requests.request(method, run.exp.url + path, timeout=30)
        return resp.status_code

    views = all_at_once([partial(call, *view) for view in VIEWS * VIEWS_EACH])
    assert views == [200] * len(views)
    assert run.sim.calls() == before, "a view called upstream"
    refreshes = all_at_once([partial(call, "POST", f"/api/v1/refresh?account={HEALTHY[0]}")
                             for _ in range(REFRESHES)])
    assert sorted(refreshes) == [200] + [429] * (REFRESHES - 1)
    after = run.sim.calls()
    spent = {name: {m: n - before[name][m] for m, n in per.items() if n != before[name][m]}
             for name, per in after.items()}
    assert spent == {HEALTHY[0]: {"fetchAvailableModels": 1, "retrieveUserQuotaSummary": 1},
                     HEALTHY[1]: {}, VICTIM: {}}, spent
    print(f"FAULT visitor-flood: {len(views)} views + {REFRESHES} refreshes after a scrape "
          f"-> {sum(sum(d.values()) for d in spent.values())} upstream calls "
          f"(1 refresh of {HEALTHY[0]}; {refreshes.count(429)} refused with 429)")


def _metrics_answers_through_a_connection_flood(run: Run, text: str) -> None:
    """Idle and half-sent connections hold no thread, leave /metrics fast, and are closed
    once the read timeout has passed."""
    with Flood(run.exp.port) as flood:
        opened_at = time.monotonic()
        idle, half = flood.open(IDLE), flood.open(HALF, HALF_SENT)
        texts, times = zip(*(run.scrape() for _ in range(3)), strict=True)
        threads = thread_count(run.exp.proc.pid)
        for scraped in texts:
            _assert_healthy_unaffected(run.sim, scraped)
        flood.wait_closed_by_server(idle + half, within=FLOOD_READ_TIMEOUT + 5)
        closed = time.monotonic() - opened_at
    print(f"FAULT idle-and-slow-connection-flood: {IDLE} idle + {HALF} half-sent -> scrape max "
          f"{max(times):.3f}s, {threads} threads, all closed by the server {closed:.1f}s "
          f"after opening (--web.read-timeout {FLOOD_READ_TIMEOUT:g}s)")
    assert max(times) < FLOOD_SCRAPE, times
    assert threads <= THREAD_BOUND, threads
    assert closed >= FLOOD_READ_TIMEOUT - 0.5, "closed before the read timeout"


def _summary_down_models_kept(run: Run, text: str) -> None:
    """The pool source failing drops only the pool series; the models stay, their
    effective numbers become unknown, and every view says which source failed."""
    assert by_label(text, "llm_quota_source_up", "account", "source")[(VICTIM, "summary")] == 0
    assert by_label(text, "llm_quota_source_up", "account", "source")[(VICTIM, "models")] == 1
    assert (VICTIM,) not in by_label(text, "llm_quota_pool_remaining_fraction", "account")
    assert (VICTIM,) not in by_label(text, "llm_quota_effective_remaining_fraction", "account")
    doc = run.exp.get(f"/api/v1/quota?account={VICTIM}").json()["accounts"][0]
    summary = next(src for src in doc["sources"] if src["source"] == "summary")
    assert summary["error"]["reason"] == "upstream"


def _no_identity_in_error_text(run: Run, text: str) -> None:
    """Google's 403 names the project and the user; no output may repeat them."""
    spec = run.sim.account(VICTIM)
    assert spec.project is not None
    doc = run.exp.get(f"/api/v1/quota?account={VICTIM}").json()["accounts"][0]
    message = doc["error"]["message"]
    assert "project <project> for user <email>" in message, message
    for where, output in (("metrics", text), ("api", str(doc)), ("log", run.exp.logs),
                          ("page", run.exp.get("/").text)):
        for value in (spec.email, spec.project):
            assert value not in output, (value, where)
    print(f"FAULT identity-in-error-text: {message}")


def upstream_fault(kind: str, **options: Any) -> Callable[[Simulator], None]:
    """`kind` on both API hosts for the victim; its token endpoint stays healthy."""
    def setup(sim: Simulator) -> None:
        for host in ("daily", "prod"):
            sim.set_fault(VICTIM, kind, host=host, **options)
    return setup


CASES = [
    Case("401-no-refresh", "auth", credential_style="access_token",
         setup=lambda sim: sim.expire_access_tokens(VICTIM)),
    Case("invalid-grant", "auth", setup=lambda sim: sim.revoke_refresh_token(VICTIM),
         then=_dead_refresh_token_is_not_retried),
    Case("403-verify-account", "forbidden", setup=upstream_fault("403")),
    Case("not-onboarded", "forbidden", setup=upstream_fault("not_onboarded")),
    Case("403-no-licence-summary", None, then=_no_pools_but_models, setup=lambda sim: (
        sim.set_fault(VICTIM, "403_license", method="retrieveUserQuotaSummary"))),
    Case("429-both-hosts", "rate_limited", then=_retry_delay_keeps_both_hosts_closed,
         setup=upstream_fault("429", retry_delay=RETRY_DELAY)),
    Case("500", "upstream", setup=upstream_fault("500")),
    Case("503-first-host-only", None, then=_second_host_answered,
         setup=lambda sim: sim.set_fault(VICTIM, "503", host="daily")),
    Case("hang", "timeout", scrape_timeout=HANG_SCRAPE_TIMEOUT,
         setup=upstream_fault("hang", hang_seconds=30)),
    Case("connection-refused", "network", endpoints=lambda: [
        f"http://127.0.0.1:{port}{prefix}"
        for port in (closed_loopback_port(),) for prefix in ("/daily", "/prod")]),
    Case("unresolvable-host", "network", env=NO_DNS_ENV, endpoints=lambda: [
        f"http://{UNRESOLVABLE}/daily", f"http://{UNRESOLVABLE}/prod"]),
    Case("html-body", "parse", setup=upstream_fault("html")),
    Case("truncated-json", "parse", setup=upstream_fault("malformed")),
    Case("wrong-types", "parse", setup=upstream_fault("wrong_types")),
    Case("large-body", "parse", setup=upstream_fault("large")),
    # The OAuth token endpoint misbehaving, for accounts that refresh.
    Case("token-endpoint-500", "upstream",
         setup=lambda sim: sim.set_fault(VICTIM, "500", method="token")),
    Case("token-endpoint-html", "parse",
         setup=lambda sim: sim.set_fault(VICTIM, "html", method="token"),
         why="a token endpoint answering 200 with a body that is not JSON is a parse "
             "failure, as a JSON reply without access_token already is; `auth` sends the "
             "operator to sign in again for nothing (exporter/auth.py "
             "OAuthRefresher._read_reply)"),
    # One source failing while the other answers.
    Case("summary-fails-models-answer", "upstream", partial=True,
         then=_summary_down_models_kept,
         setup=upstream_fault("503", method="retrieveUserQuotaSummary")),
    # An upstream error that names the account's user and project.
    Case("identity-in-error-text", "forbidden", partial=True,
         then=_no_identity_in_error_text,
         setup=upstream_fault("403_identity", method="retrieveUserQuotaSummary")),
    # Floods from the outside: nothing fails, and nothing may change.
    Case("visitor-flood", None, then=_visitors_cost_no_upstream_call),
    Case("idle-and-slow-connection-flood", None,
         args=("--web.read-timeout", f"{FLOOD_READ_TIMEOUT:g}s"),
         then=_metrics_answers_through_a_connection_flood),
]


@pytest.fixture
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Run]:
    case: Case = request.param
    accounts = [
        SimAccount(HEALTHY[0], drain_per_hour=0.0),
        SimAccount(HEALTHY[1], credential_style="file", drain_per_hour=0.0),
        SimAccount(VICTIM, credential_style=case.credential_style, drain_per_hour=0.0),
    ]
    if "RES_OPTIONS" in case.env and platform.libc_ver()[0] != "glibc":
        pytest.skip("RES_OPTIONS=attempts:0 is a glibc setting; without it the lookup "
                    "would leave this machine")
    with Simulator(accounts) as sim:
        config: dict[str, Any] = sim.exporter_config(tmp_path)
        if case.endpoints is not None:
            victim = next(a for a in config["accounts"] if a["name"] == VICTIM)
            victim["endpoints"] = case.endpoints()
        path = write_config(tmp_path, config)
        exp = ExporterProcess(
            ["--config.file", str(path), "--web.listen-address", "127.0.0.1:0", *case.args],
            env=case.env)
        try:
            case.setup(sim)
            yield Run(sim, exp, case)
        finally:
            exp.stop()


def _assert_healthy_unaffected(sim: Simulator, text: str) -> None:
    up = by_label(text, "llm_quota_up", "account")
    fractions = by_label(text, "llm_quota_remaining_fraction", "account", "model")
    pools = by_label(text, "llm_quota_pool_remaining_fraction", "account", "pool", "window")
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    for name in HEALTHY:
        assert up[(name,)] == 1.0, name
        for model in MODELS:
            assert fractions[(name, model)] == pytest.approx(
                sim.model_fraction(name, model), abs=1e-6), (name, model)
        assert pools[(name, "claude-gpt", "5h")] == pytest.approx(
            sim.pool_fraction(name, "claude-gpt", "5h"), abs=1e-6), name
        assert {r: v for (a, r), v in errors.items() if a == name} == dict.fromkeys(
            (r.value for r in Reason), 0.0), name


def _assert_still_serving(exp: ExporterProcess) -> None:
    assert exp.proc.poll() is None, f"exporter exited with {exp.proc.returncode}:\n{exp.logs}"
    assert exp.get("/-/healthy", timeout=5).status_code == 200


def _logged_error(logs: str) -> str:
    """The victim's warn line, as the operator sees it in the log."""
    for line in logs.splitlines():
        if (('msg="account fetch failed"' in line or 'msg="account source failed"' in line)
                and f"account={VICTIM}" in line and "level=warn" in line):
            match = re.search(r'error=("(?:[^"\\]|\\.)*"|\S+)', line)
            return match.group(1) if match else line
    return ""


@pytest.mark.parametrize("run", CASES, ids=[c.id for c in CASES], indirect=True)
def test_failing_account_is_isolated_within_the_deadline(run: Run) -> None:
    text, elapsed = run.scrape()
    _assert_healthy_unaffected(run.sim, text)
    up = by_label(text, "llm_quota_up", "account")[(VICTIM,)]
    errors = run.victim_errors(text)
    expected = {r.value: 1.0 if r.value == run.case.reason else 0.0 for r in Reason}
    assert up == (0.0 if run.case.reason else 1.0)
    assert errors == expected, (
        f"{run.case.id}: expected one error of reason {run.case.reason or 'none'}, got "
        f"{ {r: v for r, v in errors.items() if v} }. {run.case.why}")
    victim_series = by_label(text, "llm_quota_remaining_fraction", "account")
    assert ((VICTIM,) in victim_series) == (run.case.reason is None or run.case.partial)
    _assert_still_serving(run.exp)
    logged = _logged_error(run.exp.logs)
    if run.case.reason is not None:
        assert f"reason={run.case.reason}" in run.exp.logs and logged, run.exp.logs
    # One line per row for docs/reliability.md (pytest -s shows them).
    print(f"\nFAULT {run.case.id}: up={up:g} reason={run.case.reason or '-'} "
          f"scrape={elapsed:.3f}s error={logged or '-'}")
    if run.case.then is not None:
        run.case.then(run, text)
    _assert_still_serving(run.exp)
