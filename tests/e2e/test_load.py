"""Bounded load test on loopback: concurrent scrapers for a fixed time, then stop.

Several scrapers hammer one exporter (10 accounts, min_interval 5s) for DURATION
seconds. The run must have no errors, cost upstream at most one call per account
per source per min_interval however many scrapers there are, and keep the
exporter's memory flat. The figures are printed (pytest -s) and recorded in
docs/reliability.md.
"""

from __future__ import annotations

import math
import re
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from exporter.simulator import SimAccount, Simulator
from tests.procs import ExporterProcess, by_label, start_exporter, write_config

DURATION = 60.0  # seconds of load
SCRAPERS = 6
MIN_INTERVAL = 5.0
RSS_BASELINE_AT = 10.0  # seconds in: imports, pools and caches have settled by then
RSS_GROWTH_LIMIT = 5 * 1024 * 1024
STYLES = ("refresh_token", "file", "access_token", "refresh_token_file", "access_token_file")
ACCOUNTS = [
    SimAccount(f"load-{i:02d}", credential_style=STYLES[i % len(STYLES)])
    for i in range(10)
]
NAMES = {a.name for a in ACCOUNTS}
# Cheaper than a full parse, so the scrapers measure the exporter, not themselves.
_UP_RE = re.compile(r'^llm_quota_up\{[^}]*\baccount="([^"]+)"[^}]*\} 1\.0$', re.M)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


def scraper(url: str, until: float, tally: Tally) -> None:
    with requests.Session() as session:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                resp = session.get(url, timeout=10)
            except requests.RequestException as exc:
                with tally.lock:
                    tally.errors.append(f"request failed: {type(exc).__name__}")
                continue
            elapsed = time.monotonic() - started
            problem = ""
            if resp.status_code != 200:
                problem = f"HTTP {resp.status_code}"
            else:
                up = set(_UP_RE.findall(resp.text))
                if up != NAMES:
                    problem = f"accounts not up: {sorted(NAMES - up)}"
            with tally.lock:
                tally.latencies.append(elapsed)
                if problem:
                    tally.errors.append(problem)


def sample_rss(pid: int, until: float, samples: list[tuple[float, int]]) -> None:
    start = time.monotonic()
    while time.monotonic() < until:
        samples.append((time.monotonic() - start, rss_bytes(pid)))
        time.sleep(1.0)  # one memory sample a second for the run's duration
    samples.append((time.monotonic() - start, rss_bytes(pid)))


@pytest.fixture
def loaded(tmp_path: Path) -> Iterator[tuple[Simulator, ExporterProcess]]:
    with Simulator(ACCOUNTS) as sim:
        config = sim.exporter_config(tmp_path, defaults={"min_interval": f"{MIN_INTERVAL:g}s"})
        exp = start_exporter(write_config(tmp_path, config))
        try:
            yield sim, exp
        finally:
            exp.stop()


def test_concurrent_scrapers_for_a_minute(loaded: tuple[Simulator, ExporterProcess]) -> None:
    sim, exp = loaded
    tally = Tally()
    rss: list[tuple[float, int]] = []
    started = time.monotonic()
    until = started + DURATION
    threads = [threading.Thread(target=scraper, args=(exp.url + "/metrics", until, tally))
               for _ in range(SCRAPERS)]
    threads.append(threading.Thread(target=sample_rss, args=(exp.proc.pid, until, rss)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(DURATION + 30)
    wall = time.monotonic() - started
    calls = sim.calls()

    n = len(tally.latencies)
    p50, p95 = (statistics.quantiles(tally.latencies, n=100)[i] for i in (49, 94))
    baseline = next(b for t, b in rss if t >= RSS_BASELINE_AT)
    end, peak = rss[-1][1], max(b for _, b in rss)
    most = {m: max(c[m] for c in calls.values()) for m in next(iter(calls.values()))}
    least = {m: min(c[m] for c in calls.values()) for m in next(iter(calls.values()))}
    mib = 1024 * 1024
    print(f"\nLOAD {SCRAPERS} scrapers x {DURATION:g}s, {len(ACCOUNTS)} accounts, "
          f"min_interval {MIN_INTERVAL:g}s: {n} scrapes, {n / wall:.1f} scrapes/s, "
          f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max "
          f"{max(tally.latencies) * 1000:.1f} ms, errors {len(tally.errors)}")
    print("LOAD upstream calls per account (min..max): "
          + ", ".join(f"{m} {least[m]}..{most[m]}" for m in most))
    print(f"LOAD exporter RSS: {rss[0][1] / mib:.1f} MiB at start, {baseline / mib:.1f} MiB "
          f"at {RSS_BASELINE_AT:g}s, {end / mib:.1f} MiB at the end, peak {peak / mib:.1f} MiB")
    print("LOAD RSS every 10s (MiB): " + " ".join(
        f"{b / mib:.1f}" for t, b in rss if round(t) % 10 == 0))

    assert not tally.errors, f"{len(tally.errors)} errors, first: {tally.errors[:5]}"
    assert n >= SCRAPERS * DURATION, f"only {n} scrapes in {wall:.0f}s"
    bound = math.ceil(DURATION / MIN_INTERVAL) + 1
    for name, per_method in calls.items():
        for source in ("fetchAvailableModels", "retrieveUserQuotaSummary"):
            # Fewer would mean stale data: every min_interval should bring a fetch.
            assert bound - 3 <= per_method[source] <= bound, (name, source, per_method)
        assert per_method["loadCodeAssist"] == 1, (name, per_method)
        assert per_method["token"] <= 1, (name, per_method)
    assert end - baseline < RSS_GROWTH_LIMIT, (
        f"exporter RSS grew {(end - baseline) / mib:.1f} MiB after the first "
        f"{RSS_BASELINE_AT:g}s: {[(round(t), b // 1024) for t, b in rss]}")
    assert exp.proc.poll() is None and exp.get("/-/healthy").status_code == 200
    pools = by_label(exp.get("/metrics").text, "llm_quota_pool_remaining_fraction",
                     "account", "pool", "window")
    assert {a for a, _, _ in pools} == NAMES and len(pools) == 4 * len(NAMES), pools
