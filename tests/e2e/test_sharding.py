"""Sharding end to end: real Prometheus spreads the accounts over two exporter processes.

simulator (in-process) <- exporter A and exporter B (same config, `python -m exporter`)
<- Prometheus running prometheus/sharded/prometheus.yml with loopback addresses and a
2 s interval: targets from A's /api/v1/targets, each account scraped through
/probe?account= on the replica hashmod picks. Every port is ephemeral on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import yaml

from exporter.simulator import SimAccount, Simulator
from tests.bundle_stack import Process, free_port, wait_until
from tests.procs import ExporterProcess, start_exporter, write_config
from tests.promql_util import JOB_NAME, PROMETHEUS_DIR, binary

SHARDED_CONFIG = PROMETHEUS_DIR / "sharded" / "prometheus.yml"
ACCOUNTS = [SimAccount(f"shard-{i}", drain_per_hour=0.0) for i in range(6)]
INTERVAL = 2.0
WINDOW_INTERVALS = 5
_REPLICA = re.compile(r"^exporter-(\d+):10977$")


def hashmod(value: str, modulus: int) -> int:
    """Prometheus's `hashmod` relabel action: the md5's last 8 bytes, big-endian."""
    return int.from_bytes(hashlib.md5(value.encode()).digest()[8:], "big") % modulus


def loopback_config(replicas: list[ExporterProcess]) -> dict[str, Any]:
    """The shipped sharded config with replica i at replicas[i] and a short interval."""
    config: dict[str, Any] = yaml.safe_load(SHARDED_CONFIG.read_text(encoding="utf-8"))
    config["global"] = {"scrape_interval": f"{INTERVAL:g}s", "scrape_timeout": f"{INTERVAL:g}s",
                        "evaluation_interval": f"{INTERVAL:g}s"}
    config.pop("rule_files")
    config.pop("alerting")
    (job,) = config["scrape_configs"]
    assert job["job_name"] == JOB_NAME
    (sd,) = job["http_sd_configs"]
    sd.update(url=replicas[0].url + urlsplit(sd["url"]).path, refresh_interval="5s")
    mapped = 0
    for rule in job["relabel_configs"]:
        match = _REPLICA.match(rule.get("replacement", ""))
        if match:
            rule["replacement"] = f"127.0.0.1:{replicas[int(match.group(1))].port}"
            mapped += 1
    assert mapped == len(replicas), "the shipped config maps one address per replica"
    return config


@dataclass
class Sharded:
    sim: Simulator
    replicas: list[ExporterProcess]
    prometheus: Process
    url: str

    def logs(self) -> str:
        parts = [(f"exporter {i}", r.logs) for i, r in enumerate(self.replicas)]
        parts.append(("prometheus", self.prometheus.logs))
        return "\n".join(f"----- {name} log (tail) -----\n{text[-4000:]}" for name, text in parts)

    def api(self, path: str, **params: str) -> Any:
        body = requests.get(self.url + path, params=params, timeout=10).json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> dict[str, float]:
        """Instant query -> {instance (or account): value}."""
        params = {"query": expr} | ({"time": f"{at:.3f}"} if at is not None else {})
        out: dict[str, float] = {}
        for sample in self.api("/api/v1/query", **params)["result"]:
            metric = sample["metric"]
            key = metric.get("instance", metric.get("account", ""))
            assert key not in out, f"{expr}: two series for {key}: {metric}"
            out[key] = float(sample["value"][1])
        return out


@contextlib.contextmanager
def sharded_stack(tmp: Path, prometheus_bin: str) -> Iterator[Sharded]:
    with contextlib.ExitStack() as cleanup:
        sim = Simulator(ACCOUNTS).start()
        cleanup.callback(sim.stop)
        config_path = write_config(tmp, sim.exporter_config(tmp / "credentials"), "exporter.yml")
        replicas = []
        for _ in range(2):
            replica = start_exporter(config_path)
            cleanup.callback(replica.stop)
            replicas.append(replica)
        (tmp / "prometheus.yml").write_text(
            yaml.safe_dump(loopback_config(replicas), sort_keys=False), encoding="utf-8")
        port = free_port()
        prometheus = Process("prometheus", [
            prometheus_bin, f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'prometheus-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ], tmp / "prometheus.log")
        cleanup.callback(prometheus.stop)
        yield Sharded(sim, replicas, prometheus, f"http://127.0.0.1:{port}")


def test_every_account_is_scraped_once_per_interval_by_exactly_one_replica(
        tmp_path: Path) -> None:
    names = [a.name for a in ACCOUNTS]
    expected = {name: hashmod(name, 2) for name in names}
    assert set(expected.values()) == {0, 1}, "the accounts must land on both replicas"
    with sharded_stack(tmp_path, binary("prometheus")) as stack:
        def all_up() -> list[dict[str, Any]] | None:
            active = stack.api("/api/v1/targets", state="active")["activeTargets"]
            ok = len(active) == len(names) and all(t["health"] == "up" for t in active)
            return active if ok else None

        active = wait_until(all_up, 40, "every account's target up in Prometheus", stack.logs)

        # Which replica scrapes which account: exactly one each, the one hashmod picks.
        ports = [r.port for r in stack.replicas]
        served: dict[str, int] = {}
        for target in active:
            url = urlsplit(target["scrapeUrl"])
            account = parse_qs(url.query)["account"][0]
            assert url.path == "/probe" and target["labels"]["instance"] == account
            assert target["labels"]["job"] == JOB_NAME
            assert "provider" not in target["labels"], "would clash with the metrics' label"
            assert account not in served, f"{account} is scraped twice"
            served[account] = ports.index(url.port)
        assert served == expected

        # Each account's token and project were fetched by one replica only, once.
        setup = stack.sim.calls()
        for name in names:
            assert (setup[name]["token"], setup[name]["loadCodeAssist"]) == (1, 1), setup[name]

        # A measured window of whole intervals, after the first scrapes settled.
        stack.sim.reset_calls()
        start = time.time()
        time.sleep(WINDOW_INTERVALS * INTERVAL)  # the window measured: the thing under test
        end = time.time()
        calls = stack.sim.calls()

        # The scrapes that started before `end` are ingested once each target has a
        # sample from after it (a target's scrapes are ingested in order).
        def all_past_end() -> bool:
            latest = stack.query(f'timestamp(up{{job="{JOB_NAME}"}})')
            return len(latest) == len(names) and min(latest.values()) > end

        wait_until(all_past_end, 10 * INTERVAL, "a scrape of every target after the window",
                   stack.logs)
        window = f"{round((end - start) * 1000)}ms"
        scrapes = stack.query(f'count_over_time(up{{job="{JOB_NAME}"}}[{window}])', at=end)

        fetches = {name: calls[name]["fetchAvailableModels"] for name in names}
        per_replica = [sorted(n for n, shard in served.items() if shard == i) for i in (0, 1)]
        print(f"\nsharding: {len(names)} accounts over 2 replicas {per_replica};"
              f" window {window} = {WINDOW_INTERVALS} intervals of {INTERVAL:g}s;"
              f" upstream fetchAvailableModels per account {fetches};"
              f" Prometheus scrapes per target {scrapes}")
        for name in names:
            assert abs(fetches[name] - scrapes[name]) <= 1, (name, fetches, scrapes)
            assert WINDOW_INTERVALS - 1 <= fetches[name] <= WINDOW_INTERVALS + 1, (
                name, fetches)
            assert calls[name]["retrieveUserQuotaSummary"] == fetches[name], calls[name]
            assert calls[name]["token"] == 0 and calls[name]["loadCodeAssist"] == 0, calls[name]

        # Every account's series exist exactly once across both replicas, on the
        # target named after it.
        series = stack.api("/api/v1/query", query=f'llm_quota_up{{job="{JOB_NAME}"}}')["result"]
        assert sorted((s["metric"]["account"], s["metric"]["instance"], s["value"][1])
                      for s in series) == [(n, n, "1") for n in names]
