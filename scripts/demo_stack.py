"""The whole monitoring bundle on the demo's simulated accounts (`scripts/demo --stack`).

Starts, on loopback and with temporary data folders:
  the demo exporter   `python -m exporter demo`, its landing page linking to both below
  Alertmanager        the shipped alertmanager/alertmanager.yml; its webhooks go to a
                      small receiver here that prints every notification
  Prometheus          the shipped prometheus/prometheus.yml and prometheus/rules/*.yml,
                      scraping the demo exporter (every 15s by default, not 60s)
and prints what fires as it fires. Ctrl-C or SIGTERM stops everything.

Prometheus and Alertmanager are Debian's packages `prometheus` and
`prometheus-alertmanager` (scripts/demo installs them when missing).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import yaml

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS_CONFIG = REPO / "prometheus" / "prometheus.yml"
RULES_DIR = REPO / "prometheus" / "rules"
ALERTMANAGER_CONFIG = REPO / "alertmanager" / "alertmanager.yml"
JOB_NAME = "llm-quota"  # the alerts and dashboards select this job
SHOWN_ALERTS = ("LLMQuotaExhausted", "LLMQuotaLow")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Stop(Exception):
    """SIGTERM: stop as Ctrl-C does."""


def seconds(duration: str) -> float:
    """A Prometheus duration (1m30s, 15s, 500ms) in seconds."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise argparse.ArgumentTypeError(f"{duration!r} is not a duration (e.g. 15s, 2m)")
    return sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)


def duration(text: str) -> str:
    seconds(text)
    return text


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/demo --stack",
        description="The demo exporter with Prometheus and Alertmanager (the shipped rules "
                    "and routing) on loopback, until Ctrl-C.")
    parser.add_argument("--exporter-port", type=int, default=10977, metavar="PORT",
                        help="on 127.0.0.1 (default: 10977)")
    parser.add_argument("--prometheus-port", type=int, default=9090, metavar="PORT",
                        help="on 127.0.0.1 (default: 9090)")
    parser.add_argument("--alertmanager-port", type=int, default=9093, metavar="PORT",
                        help="on 127.0.0.1 (default: 9093)")
    parser.add_argument("--interval", type=duration, default="15s",
                        help="Prometheus's scrape and rule evaluation interval (default: 15s; "
                             "prometheus.yml ships 60s)")
    parser.add_argument("--rule-for", type=duration, default=None, metavar="DURATION",
                        help="shorten every rule's `for:` to at most this (for tests; the "
                             "demo keeps the shipped 2m and 5m)")
    return parser.parse_args(argv)


def binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit(f"error: none of {', '.join(names)} is installed; scripts/demo --stack "
                     "installs Debian's prometheus and prometheus-alertmanager")


# -- configuration ------------------------------------------------------------------------


def write_rules(out: Path, rule_for: str | None) -> tuple[Path, dict[str, float]]:
    """The shipped rule files, `for:` shortened to `rule_for` if given; returns the glob
    for Prometheus and the longest `for:` of each alert in SHOWN_ALERTS, in seconds."""
    out.mkdir()
    waits: dict[str, float] = {}
    for path in sorted(RULES_DIR.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for group in doc["groups"]:
            for rule in group["rules"]:
                if "for" in rule and rule_for is not None and (
                        seconds(rule_for) < seconds(rule["for"])):
                    rule["for"] = rule_for
                if rule.get("alert") in SHOWN_ALERTS:
                    wait = seconds(rule.get("for", "0s"))
                    waits[rule["alert"]] = max(waits.get(rule["alert"], 0.0), wait)
        (out / path.name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return out / "*.yml", waits


def prometheus_config(exporter: str, alertmanager: str, rules: Path,
                      interval: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    timeout = interval if seconds(interval) < 10 else "10s"
    config["global"].update(scrape_interval=interval, scrape_timeout=timeout,
                            evaluation_interval=interval)
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB_NAME]
    job["static_configs"] = [{"targets": [exporter]}]
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [alertmanager]}]}]
    config["rule_files"] = [str(rules)]
    return config


def alertmanager_config(webhook_url: str) -> dict[str, Any]:
    """The shipped routing, its placeholder webhooks sent to `webhook_url` (same paths)."""
    config: dict[str, Any] = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url + urlsplit(hook["url"]).path
    return config


# -- processes ----------------------------------------------------------------------------


class Child:
    """A process of the stack, its output in a log file."""

    def __init__(self, name: str, args: Sequence[str], log: Path) -> None:
        self.name, self.log = name, log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(list(args), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=REPO)

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Receiver:
    """Alertmanager's webhook receiver: prints each notification on one line per alert."""

    def __init__(self, out: Callable[[str], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver = self.path.rsplit("/", 1)[-1]
                for alert in json.loads(body).get("alerts", []):
                    labels = alert.get("labels", {})
                    out(f"  Alertmanager -> {receiver}: {alert.get('status', '?').upper()} "
                        f"{labels.get('alertname')} {describe(labels)}")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def describe(labels: dict[str, str]) -> str:
    what = labels.get("model") or "/".join(
        x for x in (labels.get("pool"), labels.get("window")) if x)
    return f"{labels.get('provider')}/{labels.get('account')}" + (f" {what}" if what else "")


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return json.load(reply)


def ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_ready(children: Sequence[tuple[Child, str]], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    for child, url in children:
        while not ready(url):
            if child.proc.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"error: {child.name} did not start "
                                 f"(exit {child.proc.poll()}):\n{child.tail()}")
            time.sleep(0.2)


def firing(prometheus: str) -> dict[str, list[str]]:
    """Prometheus's firing alerts in SHOWN_ALERTS: name -> what each is about."""
    alerts = get_json(prometheus + "/api/v1/alerts")["data"]["alerts"]
    out: dict[str, list[str]] = {}
    for alert in alerts:
        name = alert["labels"].get("alertname")
        if alert["state"] == "firing" and name in SHOWN_ALERTS:
            out.setdefault(name, []).append(describe(alert["labels"]))
    return {k: sorted(v) for k, v in out.items()}


# -- main ---------------------------------------------------------------------------------


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    prometheus_bin = binary("prometheus")
    alertmanager_bin = binary("alertmanager", "prometheus-alertmanager")

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise Stop

    signal.signal(signal.SIGTERM, on_term)
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            print(line, flush=True)

    children: list[Child] = []
    receiver: Receiver | None = None
    tmp = Path(tempfile.mkdtemp(prefix="llm-quota-demo-stack-"))
    exporter = f"http://127.0.0.1:{args.exporter_port}"
    prometheus = f"http://127.0.0.1:{args.prometheus_port}"
    alertmanager = f"http://127.0.0.1:{args.alertmanager_port}"
    try:
        receiver = Receiver(say)
        rules, waits = write_rules(tmp / "rules", args.rule_for)
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config(
            f"127.0.0.1:{args.exporter_port}", f"127.0.0.1:{args.alertmanager_port}", rules,
            args.interval), sort_keys=False), encoding="utf-8")
        (tmp / "alertmanager.yml").write_text(
            yaml.safe_dump(alertmanager_config(receiver.url), sort_keys=False),
            encoding="utf-8")
        children.append(Child("exporter", [
            sys.executable, "-m", "exporter", "demo",
            "--web.listen-address", f"127.0.0.1:{args.exporter_port}",
            "--web.page-link", f"Prometheus alerts={prometheus}/alerts",
            "--web.page-link", f"Alertmanager={alertmanager}/#/alerts",
        ], tmp / "exporter.log"))
        children.append(Child("alertmanager", [
            alertmanager_bin, f"--config.file={tmp / 'alertmanager.yml'}",
            f"--storage.path={tmp / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{args.alertmanager_port}",
            "--cluster.listen-address=",
        ], tmp / "alertmanager.log"))
        children.append(Child("prometheus", [
            prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{args.prometheus_port}",
        ], tmp / "prometheus.log"))
        wait_ready(list(zip(children, (exporter + "/-/ready", alertmanager + "/-/ready",
                                       prometheus + "/-/ready"), strict=True)))

        step = seconds(args.interval)
        eta = {name: wait + 2 * step for name, wait in waits.items()}
        say("llm-quota-exporter DEMO STACK: simulated accounts, not real data.\n"
            f"  landing page:        {exporter}/\n"
            f"  Prometheus alerts:   {prometheus}/alerts\n"
            f"  Alertmanager:        {alertmanager}/#/alerts\n"
            f"  Prometheus scrapes and evaluates every {args.interval}; "
            + "; ".join(f"{name} fires about {minutes(eta[name])} after the start "
                        f"(for: {minutes(waits[name])})" for name in SHOWN_ALERTS if name in eta)
            + ".\n  Alertmanager sends them on 10s (critical) to 30s (warning) later.\n"
            f"  data and logs:       {tmp}\n"
            f"  processes:           "
            + ", ".join(f"{c.name} {c.proc.pid}" for c in children) + "\n"
            "Press Ctrl-C to stop.")
        shown: dict[str, list[str]] = {}
        while True:
            for child in children:
                if child.proc.poll() is not None:
                    say(f"error: {child.name} exited ({child.proc.returncode}):\n"
                        f"{child.tail()}")
                    return 1
            try:
                now = firing(prometheus)
            except (OSError, ValueError, KeyError):
                now = shown
            for name in SHOWN_ALERTS:
                before, after = set(shown.get(name, ())), set(now.get(name, ()))
                if after - before:
                    say(f"  Prometheus: {name} FIRING for {', '.join(sorted(after - before))}")
                if before - after:
                    say(f"  Prometheus: {name} no longer firing for "
                        f"{', '.join(sorted(before - after))}")
            shown = now
            time.sleep(min(step, 5.0))
    except (KeyboardInterrupt, Stop):
        say("stopping")
        return 0
    finally:
        # A second signal (a second Ctrl-C; `timeout` signals the whole group) must not
        # cut the clean-up short.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in reversed(children):
            child.stop()
        if receiver is not None:
            receiver.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        say("stopped: " + ", ".join(f"{c.name} (exit {c.proc.returncode})"
                                    for c in children))


def minutes(secs: float) -> str:
    return f"{secs:g}s" if secs < 90 else f"{secs / 60:g} minutes"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
