"""`scripts/demo --stack` as a newcomer runs it: the demo exporter, Prometheus and
Alertmanager (Debian's packages) with the shipped rules and routing, on loopback. The
simulated accounts page LLMQuotaExhausted and raise LLMQuotaLow in Prometheus and in
Alertmanager, the landing page links to both, and SIGTERM stops every process.

The shipped `for:` (2m for LLMQuotaExhausted, 5m for LLMQuotaLow) would keep this test
waiting over five minutes, so it passes the stack runner's test option `--rule-for 2s`
and a 1s interval; the demo itself keeps the shipped durations.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.bundle_stack import free_port, wait_until
from tests.promql_util import REPO, binary

pytestmark = pytest.mark.e2e

# Accounts of exporter.simulator.demo_accounts() and what they raise.
EXHAUSTED = ("claude", "demo-claude-max")  # its Opus weekly limit is used up
LOW = ("antigravity", "demo-pro-2")  # 12% of its 5-hour pool left


class DemoStack:
    def __init__(self, tmp: Path) -> None:
        self.ports = {name: free_port() for name in ("exporter", "prometheus", "alertmanager")}
        self.url = {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}
        self.out = tmp / "demo-stack.out"
        with self.out.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(REPO / "scripts" / "demo"), "--stack",
                 "--exporter-port", str(self.ports["exporter"]),
                 "--prometheus-port", str(self.ports["prometheus"]),
                 "--alertmanager-port", str(self.ports["alertmanager"]),
                 "--interval", "1s", "--rule-for", "2s"],
                cwd=REPO, env={**os.environ, "PYTHON": sys.executable},
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    @property
    def output(self) -> str:
        return self.out.read_text(encoding="utf-8", errors="replace")

    def wait(self, check: Any, what: str, timeout: float = 90.0) -> Any:
        return wait_until(check, timeout, what, lambda: "----- output -----\n" + self.output)

    def firing_in_prometheus(self, alertname: str) -> set[tuple[str, str]]:
        reply = requests.get(self.url["prometheus"] + "/api/v1/alerts", timeout=5).json()
        return {(a["labels"]["provider"], a["labels"]["account"])
                for a in reply["data"]["alerts"]
                if a["labels"]["alertname"] == alertname and a["state"] == "firing"}

    def active_in_alertmanager(self, alertname: str) -> set[tuple[str, str]]:
        alerts = requests.get(self.url["alertmanager"] + "/api/v2/alerts",
                              params={"filter": f'alertname="{alertname}"'}, timeout=5).json()
        return {(a["labels"]["provider"], a["labels"]["account"])
                for a in alerts if a["status"]["state"] == "active"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[DemoStack]:
    binary("prometheus")  # fails, not skips, when the Debian packages are missing
    binary("alertmanager", "prometheus-alertmanager")
    demo = DemoStack(tmp_path)
    try:
        yield demo
    finally:
        # The stack runs in its own process group: end what a failed test left of it.
        if demo.proc.poll() is None:
            os.killpg(demo.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                demo.proc.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(demo.proc.pid, signal.SIGKILL)
        demo.proc.wait()


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_stack_fires_the_shipped_alerts_and_stops_everything(stack: DemoStack) -> None:
    stack.wait(lambda: "Press Ctrl-C to stop." in stack.output, "the stack's banner")
    banner = stack.output
    for line in (f"landing page:        {stack.url['exporter']}/",
                 f"Prometheus alerts:   {stack.url['prometheus']}/alerts",
                 f"Alertmanager:        {stack.url['alertmanager']}/#/alerts"):
        assert line in banner
    assert "LLMQuotaExhausted fires about" in banner
    processes = re.search(r"processes: +(.*)$", banner, re.MULTILINE)
    assert processes, banner
    pids = {name: int(pid) for name, pid in re.findall(r"(\w+) (\d+)", processes.group(1))}
    assert set(pids) == {"exporter", "prometheus", "alertmanager"}
    data_dir = Path(re.findall(r"data and logs: +(\S+)", banner)[0])
    assert data_dir.is_dir()

    page = requests.get(stack.url["exporter"] + "/", timeout=10).text
    assert f'<a href="{stack.url["prometheus"]}/alerts">' in page
    assert f'<a href="{stack.url["alertmanager"]}/#/alerts">' in page

    stack.wait(lambda: EXHAUSTED in stack.firing_in_prometheus("LLMQuotaExhausted"),
               "Prometheus to fire LLMQuotaExhausted")
    stack.wait(lambda: LOW in stack.firing_in_prometheus("LLMQuotaLow"),
               "Prometheus to fire LLMQuotaLow")
    stack.wait(lambda: EXHAUSTED in stack.active_in_alertmanager("LLMQuotaExhausted"),
               "Alertmanager to hold LLMQuotaExhausted")
    stack.wait(lambda: LOW in stack.active_in_alertmanager("LLMQuotaLow"),
               "Alertmanager to hold LLMQuotaLow")
    # The shipped routing sends it on: the critical receiver's webhook, printed.
    stack.wait(lambda: re.search(r"Alertmanager -> critical: FIRING LLMQuotaExhausted "
                                 r"claude/demo-claude-max", stack.output),
               "the critical receiver to be notified")
    assert "Prometheus: LLMQuotaExhausted FIRING for" in stack.output

    os.kill(stack.proc.pid, signal.SIGTERM)
    assert stack.proc.wait(timeout=60) == 0, stack.output
    assert ("stopped: exporter (exit 0), alertmanager (exit 0), prometheus (exit 0)"
            in stack.output), stack.output
    assert not [name for name, pid in pids.items() if alive(pid)]
    assert not [name for name, port in stack.ports.items() if listening(port)]
    assert not data_dir.exists()
