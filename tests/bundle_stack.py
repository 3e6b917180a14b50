"""The monitoring bundle as real processes on loopback, for
tests/e2e/test_monitoring_bundle.py.

simulator (in-process) -> exporter replicas (`python -m exporter`, the same config,
both scraped: an HA pair) -> Prometheus (the repo's rules, `for:` and
`keep_firing_for:` shortened) -> Alertmanager (the repo's config, webhooks pointed at
`Webhook`) -> `Webhook` (an http.server in this process). Every port is ephemeral on
127.0.0.1; `running_stack` always stops what it started.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import yaml

from exporter.simulator import SimAccount, Simulator
from tests.procs import ExporterProcess, start_exporter, stop_process, write_config
from tests.promql_util import (
    ALERTMANAGER_CONFIG,
    JOB_NAME,
    PROMETHEUS_DIR,
    rule_files,
    shorten_for,
)

T = TypeVar("T")
# Long enough that LLMQuotaExporterDown's absent() before the first scrape stays
# pending, short enough that the test does not wait.
SHORT_FOR = "3s"
# Outlasts the few failed scrapes of the gap test, at a 1s interval.
SHORT_KEEP_FIRING = "20s"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Process:
    """A binary run with its combined output in a log file."""

    def __init__(self, name: str, args: Sequence[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(list(args), stdout=log, stderr=subprocess.STDOUT)

    @property
    def logs(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        stop_process(self.proc)


class Webhook:
    """Alertmanager's webhook receiver: keeps every notification it is sent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notifications: list[tuple[str, dict[str, Any]]] = []
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with webhook._lock:
                    webhook._notifications.append((self.path, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every notification, plus the path it came to (`_path`) and the
        notification's group labels (`_group`)."""
        with self._lock:
            notes = list(self._notifications)
        return [{**alert, "_path": path, "_group": note["groupLabels"]}
                for path, note in notes for alert in note["alerts"]]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_until(check: Callable[[], T | None], timeout: float, what: str,
               logs: Callable[[], str]) -> T:
    """Poll `check` until it returns something truthy; fail naming `what`, with logs."""
    end = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < end:
        try:
            result = check()
            if result:
                return result
        except (requests.RequestException, KeyError, ValueError) as exc:
            last_error = exc
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}"
                         f" (last error: {last_error!r})\n{logs()}")


def prometheus_config(exporter_ports: Sequence[int], alertmanager_port: int,
                      rules_glob: Path) -> dict[str, Any]:
    """The shipped prometheus.yml with 1s intervals and loopback targets."""
    config: dict[str, Any] = yaml.safe_load(
        (PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB_NAME]
    job.pop("scrape_interval", None)
    job.pop("scrape_timeout", None)
    job["static_configs"] = [{"targets": [f"127.0.0.1:{port}" for port in exporter_ports]}]
    config["alerting"]["alertmanagers"] = [
        {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
    config["rule_files"] = [str(rules_glob)]
    return config


def write_rules(directory: Path) -> Path:
    """The repo's rule files with `for:` and `keep_firing_for:` shortened; returns the
    glob Prometheus loads."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in rule_files():
        doc = shorten_for(yaml.safe_load(path.read_text(encoding="utf-8")), SHORT_FOR,
                          SHORT_KEEP_FIRING)
        (directory / path.name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return directory / "*.yml"


def alertmanager_config(webhook_url: str) -> dict[str, Any]:
    """The shipped alertmanager.yml, webhooks sent to `webhook_url` (same paths), no waiting."""
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url + urlsplit(hook["url"]).path
    root = config["route"]
    root.update(group_wait="1s", group_interval="1s")
    for route in root.get("routes", []):
        for key in ("group_wait", "group_interval"):
            if key in route:
                route[key] = "1s"
    return config


@dataclass
class Stack:
    sim: Simulator
    exporters: list[ExporterProcess]
    prometheus: Process
    alertmanager: Process
    webhook: Webhook
    prometheus_url: str
    alertmanager_url: str

    def logs(self) -> str:
        parts = [(f"exporter {i}", e.logs) for i, e in enumerate(self.exporters)]
        parts += [("prometheus", self.prometheus.logs), ("alertmanager", self.alertmanager.logs)]
        return "\n".join(f"----- {name} log (tail) -----\n{text[-6000:]}" for name, text in parts)

    def api(self, path: str, **params: str) -> Any:
        reply = requests.get(self.prometheus_url + path, params=params, timeout=10)
        body = reply.json()
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params}: {reply.status_code} {body}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    def prometheus_alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.api("/api/v1/alerts")["alerts"]
        return alerts

    def wait(self, check: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
        return wait_until(check, timeout, what, self.logs)


def _ready(url: str) -> bool:
    return requests.get(url + "/-/ready", timeout=2).status_code == 200


@contextlib.contextmanager
def running_stack(tmp: Path, accounts: Sequence[SimAccount], prometheus_bin: str,
                  alertmanager_bin: str, replicas: int = 2) -> Iterator[Stack]:
    with contextlib.ExitStack() as cleanup:
        sim = Simulator(accounts).start()
        cleanup.callback(sim.stop)
        webhook = Webhook()
        cleanup.callback(webhook.stop)

        config_path = write_config(tmp, sim.exporter_config(tmp / "credentials"), "exporter.yml")
        exporters = []
        for _ in range(replicas):
            exporters.append(start_exporter(config_path))
            cleanup.callback(exporters[-1].stop)

        am_port, prom_port = free_port(), free_port()
        (tmp / "alertmanager.yml").write_text(yaml.safe_dump(alertmanager_config(webhook.url)))
        alertmanager = Process("alertmanager", [
            alertmanager_bin, f"--config.file={tmp / 'alertmanager.yml'}",
            f"--storage.path={tmp / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
        ], tmp / "alertmanager.log")
        cleanup.callback(alertmanager.stop)

        rules_glob = write_rules(tmp / "rules")
        prom_config = prometheus_config([e.port for e in exporters], am_port, rules_glob)
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom_config, sort_keys=False))
        prometheus = Process("prometheus", [
            prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ], tmp / "prometheus.log")
        cleanup.callback(prometheus.stop)

        stack = Stack(sim, exporters, prometheus, alertmanager, webhook,
                      f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{am_port}")
        stack.wait(lambda: _ready(stack.alertmanager_url), "Alertmanager to be ready", 30)
        stack.wait(lambda: _ready(stack.prometheus_url), "Prometheus to be ready", 30)
        yield stack
