"""The demo as a user starts it: bad flags are refused like `serve` refuses them, the
banner's URLs reach the address the demo really listens on, and README's walk-through
(`quota` and `serve` on the simulator's accounts) works as written."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.procs import REPO, ExporterProcess, by_label, start_exporter

BAD_ADDRESS_ERROR = ("error: --web.listen-address: listen address 'nonsense' has no port "
                     "(use host:port or :port)\n")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "exporter", *args], capture_output=True,
                          text=True, cwd=str(REPO), timeout=60, check=False)


def test_demo_refuses_a_bad_listen_address_as_serve_does(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text("accounts:\n  - name: a\n    provider: antigravity\n"
                      "    credentials: {access_token: t}\n", encoding="utf-8")
    serve = run("serve", "--config.file", str(config), "--web.listen-address", "nonsense")
    demo = run("demo", "--web.listen-address", "nonsense")
    for result in (serve, demo):
        assert (result.returncode, result.stderr, result.stdout) == (2, BAD_ADDRESS_ERROR, "")


def test_demo_refuses_a_bad_read_timeout() -> None:
    result = run("demo", "--web.read-timeout", "soon")
    assert result.returncode == 2
    assert "--web.read-timeout: 'soon' is not a duration" in result.stderr
    assert "Traceback" not in result.stderr


def _banner(exp: ExporterProcess, timeout: float = 20.0) -> dict[str, str]:
    end = time.monotonic() + timeout
    while "Press Ctrl-C" not in exp.stdout:
        assert time.monotonic() < end, exp.stdout + exp.logs
        time.sleep(0.05)
    return dict(re.findall(r"^  ([a-zA-Z ]+):\s+(\S.*)$", exp.stdout, re.MULTILINE))


@pytest.mark.parametrize(("listen", "bound", "reach"), [
    ("127.0.0.1:0", "127.0.0.1", "127.0.0.1"),
    ("[::1]:0", "[::1]", "[::1]"),
    (":0", "0.0.0.0", "127.0.0.1"),  # every interface; loopback is the URL that works here
])
def test_demo_banner_urls_reach_where_it_listens(listen: str, bound: str, reach: str) -> None:
    exp = ExporterProcess(["demo", "--web.listen-address", listen])
    try:
        banner = _banner(exp)
        logged = re.search(r"msg=listening address=(\S+):(\d+)", exp.logs)
        assert logged is not None
        port = logged.group(2)
        expected_bound = f"{bound}:{port}" + (", every interface" if listen == ":0" else "")
        assert banner["listening on"] == expected_bound
        base = f"http://{reach}:{port}"
        assert banner["landing page"] == f"{base}/"
        assert banner["metrics"] == f"{base}/metrics"
        assert banner["JSON API"] == f"{base}/api/v1/quota"
        for name in ("landing page", "metrics", "JSON API"):
            assert requests.get(banner[name], timeout=10).status_code == 200, name
        assert requests.get(banner["simulated upstream"] + "/_sim/state",
                            timeout=10).status_code == 200
    finally:
        exp.stop()


def test_readme_walkthrough_quota_and_serve_on_the_simulators_accounts(tmp_path: Path) -> None:
    config = tmp_path / "sim" / "config.yml"
    sim = subprocess.Popen(
        [sys.executable, "-m", "exporter.simulator", "--demo", "--write-config", str(config)],
        stdout=subprocess.PIPE, text=True, cwd=str(REPO),
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert sim.stdout is not None
        base_url = json.loads(sim.stdout.readline())["base_url"]
        assert run("check-config", "--config.file", str(config)).returncode == 0
        table = run("quota", "--config.file", str(config), "--account", "demo-pro-2")
        assert table.returncode == 0, table.stderr
        assert table.stdout.startswith("demo-pro-2  antigravity  Google AI Pro")
        assert "Claude and GPT models" in table.stdout
        exp = start_exporter(config)
        try:
            up = by_label(exp.get("/metrics").text, "llm_quota_up", "account")
        finally:
            exp.stop()
        assert up[("demo-pro-2",)] == 1.0 and up[("demo-revoked",)] == 0.0
        assert base_url.startswith("http://127.0.0.1:")
    finally:
        sim.send_signal(signal.SIGTERM)
        sim.communicate(timeout=10)
    assert sim.returncode == 0


def test_demo_page_links_are_added_to_the_navigation_and_checked() -> None:
    from exporter.snapshot import Snapshot
    from exporter.views.page import render_page

    page = render_page(Snapshot(accounts=(), taken_at=0.0), now=0.0, demo=True,
                       links=[("http://127.0.0.1:9090/alerts", "Prometheus <alerts>")])
    nav = re.search(r"<nav>(.*)</nav>", page)
    assert nav and nav.group(1).endswith(
        '<a href="http://127.0.0.1:9090/alerts">Prometheus &lt;alerts&gt;</a>')
    refused = run("demo", "--web.page-link", "Prometheus")
    assert refused.returncode == 2
    assert "'Prometheus' is not TEXT=http(s)://..." in refused.stderr
