"""Processes and measurements: the simulator and the exporter, each its own process.

The simulator runs apart from the exporter so the exporter's CPU time is its own;
scrapes come from this process the way Prometheus sends them (OpenMetrics
preferred, gzip, a scrape timeout header).
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import requests
import yaml

from benchmarks.procstat import ConnectionCounter, cpu_seconds, load_1m, memory
from exporter.config import Config
from tests.procs import REPO, ExporterProcess, write_config

# What Prometheus 2.x sends on every scrape.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
SOURCES = {"models": "fetchAvailableModels", "summary": "retrieveUserQuotaSummary"}
# Calls a warm exporter should not make at all: both are cached after the first scrape.
WARM_UP_ONLY = ("loadCodeAssist", "token")
DEFAULT_CONCURRENCY = Config.concurrency
SIDE_BY_SIDE, IN_SERIES = "side by side", "in series"  # how an account's sources are fetched
_UP_SAMPLE = re.compile(rb"^llm_quota_up\{[^\n]*\} 1(?:\.0)?$", re.MULTILINE)


class UpstreamControl(Protocol):
    """A fake upstream in its own process that counts the calls it answers."""

    @property
    def pid(self) -> int: ...

    def calls(self) -> dict[str, dict[str, int]]: ...

    def reset_calls(self) -> None: ...


class UpstreamProcess:
    """A fake upstream in its own process (`python -m MODULE --listen 127.0.0.1:0 ...`)
    that prints one JSON line with its `base_url` once listening and counts the calls
    it answers over HTTP (`CALLS_PATH`, `RESET_PATH`)."""

    CALLS_PATH: ClassVar[str]
    RESET_PATH: ClassVar[str]

    def __init__(self, module: str, args: list[str], log: Path) -> None:
        self._stderr = log
        path = str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")
        env = {**os.environ, "PYTHONPATH": path}
        with self._stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, "--listen", "127.0.0.1:0", *args],
                stdout=subprocess.PIPE, stderr=err, cwd=REPO, env=env, text=True,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # one JSON line once listening; EOF if it died
        if not line:
            self.proc.wait(5)
            raise RuntimeError(
                f"{module} exited with {self.proc.returncode}:\n{self._stderr.read_text()}"
            )
        self.base_url: str = json.loads(line)["base_url"]
        self.port = int(self.base_url.rsplit(":", 1)[1])
        self._session = requests.Session()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def calls(self) -> dict[str, dict[str, int]]:
        """Upstream calls so far, per account and method."""
        resp = self._session.get(self.base_url + self.CALLS_PATH, timeout=30)
        resp.raise_for_status()
        result: dict[str, dict[str, int]] = resp.json()["accounts"]
        return result

    def reset_calls(self) -> None:
        self._session.post(self.base_url + self.RESET_PATH, timeout=30).raise_for_status()

    def stop(self) -> None:
        self._session.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


class SimulatorProcess(UpstreamProcess):
    """`python -m exporter.simulator` with N bench accounts, driven over its /_sim/ API."""

    CALLS_PATH = "/_sim/calls"
    RESET_PATH = "/_sim/reset-calls"

    def __init__(self, accounts: int, latency: float, workdir: Path) -> None:
        config_path = workdir / "simulator.yml"
        super().__init__("exporter.simulator",
                         ["--accounts", str(accounts), "--latency", str(latency),
                          "--write-config", str(config_path)],
                         workdir / "simulator.log")
        self.accounts: list[dict[str, Any]] = yaml.safe_load(config_path.read_text())["accounts"]


@dataclass(frozen=True)
class Case:
    """One exporter process: how many accounts, with which settings, measured how long."""

    accounts: int
    concurrency: int | None  # None: leave it out of the config (the exporter's default)
    scrapes: int
    rounds: int = 0  # two-scraper rounds
    scrape_timeout: float | None = 10.0  # the header Prometheus sends; None: no header
    account_timeout: float | None = None  # per-account `timeout`; None: the default
    sources: str = SIDE_BY_SIDE  # IN_SERIES: one after the other, for the comparison

    @property
    def label(self) -> str:
        return (f"{self.accounts} accounts, concurrency {self.concurrency or 'default'}, "
                f"sources {self.sources}")


@dataclass
class Phase:
    """One or two scrapers, repeated: wall times, exporter CPU, upstream calls."""

    walls: list[float]
    cpu_seconds: float
    sim_cpu_seconds: float
    calls: dict[str, dict[str, int]]  # the configured accounts only
    up_min: int  # fewest accounts up in any scrape

    def per_account_per_scrape(self, accounts: int) -> dict[str, float]:
        return {
            source: sum(c.get(method, 0) for c in self.calls.values())
            / (accounts * len(self.walls))
            for source, method in SOURCES.items()
        }

    def exact(self, accounts: int) -> bool:
        """Every account called exactly once per source per scrape, and nothing else."""
        rounds = len(self.walls)
        return (
            len(self.calls) == accounts
            and self.extra_calls() == 0
            and all(c.get(m, 0) == rounds for c in self.calls.values() for m in SOURCES.values())
        )

    def extra_calls(self) -> int:
        return sum(c.get(m, 0) for c in self.calls.values() for m in WARM_UP_ONLY)


@dataclass
class CaseResult:
    case: Case
    concurrency_used: int
    single: Phase
    double: Phase | None
    new_connections: int  # opened to the upstream while measuring, after warm-up
    open_connections: int  # held by the exporter at the end
    warm_connections: int  # held by the exporter after the warm-up scrape
    peak_rss_kib: int
    rss_kib: int
    threads: int
    warm_up_up: int
    load_1m: float  # at the end of the case
    notes: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: p95 of 10 scrapes is the slowest one, not a blend."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: list[float]) -> float:
    return statistics.median(values)


class Scraper:
    """One Prometheus-like client: a keep-alive session, the same headers every time."""

    def __init__(self, url: str, scrape_timeout: float | None) -> None:
        self._url = url
        self._session = requests.Session()
        self._headers = {"Accept": PROMETHEUS_ACCEPT, "Accept-Encoding": "gzip"}
        if scrape_timeout is not None:
            self._headers["X-Prometheus-Scrape-Timeout-Seconds"] = f"{scrape_timeout:g}"

    def scrape(self) -> tuple[float, int]:
        """Seconds from request to the last byte, and how many accounts were up."""
        started = time.perf_counter()
        resp = self._session.get(self._url, headers=self._headers, timeout=900)
        body = resp.content
        wall = time.perf_counter() - started
        if resp.status_code != 200:
            raise RuntimeError(f"scrape answered {resp.status_code}: {body[:200]!r}")
        return wall, len(_UP_SAMPLE.findall(body))

    def close(self) -> None:
        self._session.close()


def start_exporter(config_path: Path, sources: str = SIDE_BY_SIDE) -> ExporterProcess:
    """The exporter on loopback, fetching an account's sources as `sources` says."""
    # In series: the same exporter, started by a module that patches it (in_series.py).
    return ExporterProcess(
        ["--config.file", str(config_path), "--web.listen-address", "127.0.0.1:0"],
        module="benchmarks.in_series" if sources == IN_SERIES else "exporter",
    )


def run_case(
    sim: SimulatorProcess, workdir: Path, case: Case, log: Callable[[str], None]
) -> CaseResult:
    config: dict[str, Any] = {}
    if case.concurrency is not None:
        config["concurrency"] = case.concurrency
    if case.account_timeout is not None:
        config["defaults"] = {"timeout": f"{case.account_timeout:g}s"}
    config["accounts"] = sim.accounts[: case.accounts]
    tag = f"n{case.accounts}-c{case.concurrency or 'default'}-{case.sources.replace(' ', '-')}"
    exporter = start_exporter(write_config(workdir, config, f"exporter-{tag}.yml"), case.sources)
    try:
        return _measure(sim, exporter, case, log)
    finally:
        exporter.stop()


def _measure(
    sim: SimulatorProcess, exporter: ExporterProcess, case: Case, log: Callable[[str], None]
) -> CaseResult:
    pid = exporter.proc.pid
    first = Scraper(exporter.url + "/metrics", case.scrape_timeout)
    second = Scraper(exporter.url + "/metrics", case.scrape_timeout)
    try:
        _, warm_up_up = first.scrape()  # tokens and loadCodeAssist: cached from here on
        notes = []
        if warm_up_up < case.accounts:
            notes.append(f"warm-up: only {warm_up_up} of {case.accounts} accounts up")
        names = {a["name"] for a in sim.accounts[: case.accounts]}
        conns = ConnectionCounter(sim.port, exclude=(os.getpid(),))
        before = conns.look()
        warm_connections = conns.open_by(pid)
        single = phase(sim, pid, names, case.scrapes, [first], conns)
        log(f"  {case.label}: median {median(single.walls):.3f}s over {case.scrapes} scrapes")
        double = None
        if case.rounds > 0:
            double = phase(sim, pid, names, case.rounds, [first, second], conns)
        mem = memory(pid)
        open_now = conns.open_by(pid)
    finally:
        first.close()
        second.close()
    return CaseResult(
        case=case,
        concurrency_used=case.concurrency or DEFAULT_CONCURRENCY,
        single=single,
        double=double,
        new_connections=len(conns.seen - before),
        open_connections=open_now,
        warm_connections=warm_connections,
        peak_rss_kib=mem.peak_rss_kib,
        rss_kib=mem.rss_kib,
        threads=mem.threads,
        warm_up_up=warm_up_up,
        load_1m=load_1m(),
        notes=notes,
    )


def phase(
    sim: UpstreamControl,
    pid: int,
    names: set[str],
    rounds: int,
    scrapers: list[Scraper],
    conns: ConnectionCounter,
) -> Phase:
    """`rounds` scrape rounds; in each, every scraper starts at the same instant."""
    sim.reset_calls()
    cpu0, sim_cpu0 = cpu_seconds(pid), cpu_seconds(sim.pid)
    walls: list[float] = []
    up_min: int | None = None
    for _ in range(rounds):
        results = together(scrapers)
        walls.append(max(wall for wall, _ in results))
        up = min(count for _, count in results)
        up_min = up if up_min is None else min(up_min, up)
        conns.look()
    cpu, sim_cpu = cpu_seconds(pid) - cpu0, cpu_seconds(sim.pid) - sim_cpu0
    calls = {name: c for name, c in sim.calls().items() if name in names}
    return Phase(walls, cpu, sim_cpu, calls, up_min or 0)


def together(scrapers: list[Scraper]) -> list[tuple[float, int]]:
    if len(scrapers) == 1:
        return [scrapers[0].scrape()]
    barrier = threading.Barrier(len(scrapers))
    results: list[tuple[float, int] | BaseException] = [RuntimeError("no result")] * len(
        scrapers
    )

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = scrapers[i].scrape()
        except BaseException as exc:  # re-raised in the caller's thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(scrapers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out: list[tuple[float, int]] = []
    for r in results:
        if isinstance(r, BaseException):
            raise r
        out.append(r)
    return out
