"""Config reload on a running exporter: SIGHUP and POST /-/reload.

A valid new config is applied at once; accounts whose config did not change keep
their caches (access token, loadCodeAssist answer) and counters, so a reload
costs no extra upstream call for them. A bad config is refused with its key path
named, in the HTTP answer and in the log, and the old config keeps serving.
"""

from __future__ import annotations

import copy
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from exporter.simulator import SimAccount, Simulator
from tests.procs import ExporterProcess, by_label, start_exporter, write_config

KEEP, CHANGE, NEW = "rl-keep", "rl-change", "rl-new"
BAD_KEY_PATH = "accounts[0].min_intervall"
TRIGGERS = ("post", "sighup")


@dataclass
class Setup:
    sim: Simulator
    exp: ExporterProcess
    path: Path
    accounts: dict[str, dict[str, Any]]  # every account's config entry, by name

    def write(self, *entries: dict[str, Any]) -> None:
        write_config(self.path.parent, {"accounts": list(entries)}, name=self.path.name)

    def reload(self, trigger: str, done: str) -> str:
        """Reload by `trigger`; waits for the log line `done`; returns the HTTP answer."""
        if trigger == "post":
            resp = self.exp.post("/-/reload")
            answer = f"{resp.status_code} {resp.text}"
        else:
            self.exp.proc.send_signal(signal.SIGHUP)
            answer = ""
        self.exp.wait_for_log(done)
        return answer

    def scrape(self) -> str:
        resp = self.exp.get("/metrics")
        assert resp.status_code == 200
        return resp.text


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[Setup]:
    accounts = [SimAccount(name, drain_per_hour=0.0) for name in (KEEP, CHANGE, NEW)]
    with Simulator(accounts) as sim:
        config: dict[str, Any] = sim.exporter_config(tmp_path)
        entries = {a["name"]: a for a in config["accounts"]}
        path = write_config(tmp_path, {"accounts": [entries[KEEP], entries[CHANGE]]})
        exp = start_exporter(path, "--web.enable-lifecycle")
        try:
            yield Setup(sim, exp, path, entries)
        finally:
            exp.stop()


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_valid_reload_is_applied_and_unchanged_accounts_keep_their_caches(
    setup: Setup, trigger: str
) -> None:
    text = setup.scrape()
    assert by_label(text, "llm_quota_up", "account") == {(KEEP,): 1.0, (CHANGE,): 1.0}
    # One failed source: both hosts answer 500 to fetchAvailableModels.
    setup.sim.set_fault(KEEP, "500", method="fetchAvailableModels", times=2)
    errors = by_label(setup.scrape(), "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[(KEEP, "upstream")] == 1.0
    changed = copy.deepcopy(setup.accounts[CHANGE])
    changed["sources"] = ["models"]
    setup.write(setup.accounts[KEEP], changed, setup.accounts[NEW])

    answer = setup.reload(trigger, "msg=\"config reloaded\"")
    if trigger == "post":
        assert answer.startswith("200 ") and "3 account(s)" in answer, answer
    text = setup.scrape()

    assert by_label(text, "llm_quota_up", "account") == {(KEEP,): 1.0, (CHANGE,): 1.0,
                                                         (NEW,): 1.0}
    pools = by_label(text, "llm_quota_pool_remaining_fraction", "account", "pool", "window")
    assert {acc for acc, _, _ in pools} == {KEEP, NEW}, "the changed sources were not applied"
    # Its summary is no longer asked for: no pool series, and no "no licence" either.
    assert (CHANGE,) not in by_label(text, "llm_quota_pools_available", "account")
    errors = by_label(text, "llm_quota_fetch_errors_total", "account", "reason")
    assert errors[(KEEP, "upstream")] == 1.0, "the unchanged account lost its counters"
    calls = setup.sim.calls()
    assert calls[KEEP]["token"] == 1 and calls[KEEP]["loadCodeAssist"] == 1, (
        f"the unchanged account lost its caches: {calls[KEEP]}")
    assert calls[KEEP]["fetchAvailableModels"] == 4  # 3 scrapes, one of them on both hosts
    # A changed account starts afresh: new token, new loadCodeAssist, no summary call.
    assert calls[CHANGE]["token"] == 2 and calls[CHANGE]["loadCodeAssist"] == 2, calls[CHANGE]
    assert calls[CHANGE]["retrieveUserQuotaSummary"] == 2, calls[CHANGE]
    assert calls[NEW]["loadCodeAssist"] == 1 and calls[NEW]["fetchAvailableModels"] == 1


@pytest.mark.parametrize("trigger", TRIGGERS)
def test_bad_config_is_refused_and_the_old_one_keeps_serving(
    setup: Setup, trigger: str
) -> None:
    setup.scrape()
    bad = copy.deepcopy(setup.accounts[KEEP])
    bad["min_intervall"] = "5s"
    setup.write(bad, setup.accounts[CHANGE], setup.accounts[NEW])

    answer = setup.reload(trigger, "reload refused")
    if trigger == "post":
        assert answer.startswith("400 ") and BAD_KEY_PATH in answer, answer
        assert "old config keeps serving" in answer, answer
    logged = [line for line in setup.exp.logs.splitlines() if BAD_KEY_PATH in line]
    assert logged and all("level=error" in line for line in logged), setup.exp.logs
    assert "did you mean min_interval?" in logged[0]

    text = setup.scrape()
    assert by_label(text, "llm_quota_up", "account") == {(KEEP,): 1.0, (CHANGE,): 1.0}
    assert setup.exp.proc.poll() is None
    assert setup.exp.get("/-/healthy").status_code == 200
    assert setup.sim.calls()[KEEP]["loadCodeAssist"] == 1
    assert setup.sim.calls()[NEW]["loadCodeAssist"] == 0

    # Fixing the file and reloading again brings the new config in.
    setup.write(setup.accounts[KEEP], setup.accounts[CHANGE], setup.accounts[NEW])
    answer = setup.reload(trigger, "msg=\"config reloaded\"")
    assert trigger == "sighup" or answer.startswith("200 "), answer
    assert (NEW,) in by_label(setup.scrape(), "llm_quota_up", "account")
    assert setup.sim.calls()[KEEP]["loadCodeAssist"] == 1


def test_reload_needs_post(setup: Setup) -> None:
    resp = setup.exp.get("/-/reload")
    assert resp.status_code == 405
    assert resp.headers["Allow"] == "POST"
    assert "reload" not in setup.exp.logs


def test_reload_over_http_needs_the_lifecycle_flag_but_sighup_always_reloads(
    tmp_path: Path,
) -> None:
    with Simulator([SimAccount(n, drain_per_hour=0.0) for n in (KEEP, NEW)]) as sim:
        entries = {a["name"]: a for a in sim.exporter_config(tmp_path)["accounts"]}
        path = write_config(tmp_path, {"accounts": [entries[KEEP]]})
        exp = start_exporter(path)  # no --web.enable-lifecycle
        try:
            setup = Setup(sim, exp, path, entries)
            setup.write(entries[KEEP], entries[NEW])
            resp = exp.post("/-/reload")
            assert resp.status_code == 403
            assert resp.text == ("Lifecycle API is not enabled. Start the exporter with "
                                 "--web.enable-lifecycle to reload over HTTP; SIGHUP always "
                                 "reloads.\n")
            assert "config reloaded" not in exp.logs
            assert by_label(setup.scrape(), "llm_quota_up", "account") == {(KEEP,): 1.0}
            setup.reload("sighup", 'msg="config reloaded"')
            assert by_label(setup.scrape(), "llm_quota_up", "account") == {
                (KEEP,): 1.0, (NEW,): 1.0}
        finally:
            exp.stop()


RACE_ROUNDS = 25
RACE_ACCOUNTS = [f"race-{i:02d}" for i in range(12)]


def _write_atomically(path: Path, entries: list[dict[str, Any]]) -> None:
    partial = write_config(path.parent, {"accounts": entries}, name=path.name + ".partial")
    os.replace(partial, path)  # a reload never reads a half-written file


def test_sighup_and_post_reload_together_never_race(tmp_path: Path) -> None:
    """Each round rewrites the file and fires SIGHUP and POST /-/reload at the same
    moment, without waiting for the SIGHUP's reload to finish."""
    with Simulator([SimAccount(n, drain_per_hour=0.0) for n in RACE_ACCOUNTS]) as sim:
        entries = sim.exporter_config(tmp_path)["accounts"]
        path = write_config(tmp_path, {"accounts": entries[:1]})
        exp = start_exporter(path, "--web.enable-lifecycle", "--log.level", "debug")
        try:
            answers: list[str] = []
            for round_ in range(RACE_ROUNDS):
                variant = entries[: 1 + (round_ * 5) % len(entries)]
                _write_atomically(path, variant)
                together = threading.Barrier(2)
                threads = [threading.Thread(target=_post_reload, args=(exp, together, answers)),
                           threading.Thread(target=_hangup, args=(exp, together))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(30)
                assert answers[-1] == f"200 Reloaded: {len(variant)} account(s).", answers
            _wait_until_reloads_settle(exp)
            up = by_label(exp.get("/metrics").text, "llm_quota_up", "account")
            assert set(up) == {(e["name"],) for e in variant}, "not the last file's accounts"
            assert exp.proc.poll() is None
        finally:
            exp.stop()
    assert "Traceback" not in exp.logs
    events = [line for line in exp.logs.splitlines()
              if 'msg="reloading config"' in line or 'msg="config reloaded"' in line]
    starts = [e for e in events if "reloading config" in e]
    assert RACE_ROUNDS < len(starts) <= 2 * RACE_ROUNDS  # SIGHUPs may coalesce
    for i, line in enumerate(events):  # one reload at a time: start, end, start, end, ...
        assert ("reloading config" in line) == (i % 2 == 0), "\n".join(events[i - 2:i + 2])


def _post_reload(exp: ExporterProcess, together: threading.Barrier, answers: list[str]) -> None:
    together.wait()
    resp = exp.post("/-/reload")
    answers.append(f"{resp.status_code} {resp.text.strip()}")


def _hangup(exp: ExporterProcess, together: threading.Barrier) -> None:
    together.wait()
    exp.proc.send_signal(signal.SIGHUP)


def _wait_until_reloads_settle(exp: ExporterProcess, quiet: float = 1.0) -> None:
    # A quiet spell, not a condition: a SIGHUP's reload may still be due (its flag is
    # set inside the process, where nothing shows it), and the main loop looks at that
    # flag every 0.1 s, so 1 s without a reload finishing means none is left (each
    # takes milliseconds here).
    end = time.monotonic() + 30
    count, since = -1, time.monotonic()
    while time.monotonic() < end:
        now_count = exp.logs.count('msg="config reloaded"')
        if now_count != count:
            count, since = now_count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)
    raise AssertionError("reloads kept coming for 30 s")
