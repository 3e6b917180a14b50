"""Scrape benchmark: wall time, CPU, memory and upstream calls for N accounts.

    python -m benchmarks.scrape_bench                       # N = 1, 10, 100, 500 at 200 ms
    python -m benchmarks.scrape_bench --accounts 100 --scrapes 20 --json out.json
    python -m benchmarks.scrape_bench --quick               # a smoke run for CI

One simulator process serves every case; each case is a fresh exporter process
(warmed up by one scrape, so tokens and loadCodeAssist are cached) measured from
outside through /proc. Each N is measured twice, on the same accounts: with an
account's sources fetched side by side (the exporter's way) and one after the
other (`python -m benchmarks.in_series`). Next to them it measures the
floor (one account alone) and the sequential baseline of each way (the same
exporter with `concurrency: 1`: one connection per upstream host, so every call
waits for the one before), then prints the tables and PASS/FAIL per target.
It exits 0 even when a target is missed, unless --strict.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    DEFAULT_CONCURRENCY,
    IN_SERIES,
    SIDE_BY_SIDE,
    SOURCES,
    Case,
    CaseResult,
    SimulatorProcess,
    median,
    percentile,
    run_case,
)
from benchmarks.report import (
    Target,
    comparison,
    comparison_table,
    evaluate_targets,
    markdown_table,
)

DEFAULT_ACCOUNTS = (1, 10, 100, 500)
QUICK_ACCOUNTS = (1, 10)
MODES = {"both": (SIDE_BY_SIDE, IN_SERIES), "side-by-side": (SIDE_BY_SIDE,),
         "in-series": (IN_SERIES,)}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.scrape_bench",
        description="Measure scrape time, exporter CPU and memory, and upstream calls "
        "per account against the simulator, each in its own process.",
    )
    parser.add_argument("--accounts", type=_counts, default=None, metavar="N[,N...]",
                        help="account counts to measure (default 1,10,100,500; "
                        "with --quick 1,10)")
    parser.add_argument("--latency", type=float, default=0.2, metavar="SECONDS",
                        help="simulated latency of every upstream call (default 0.2)")
    parser.add_argument("--scrapes", type=int, default=None, metavar="K",
                        help="measured scrapes per case, after one warm-up (default 15; "
                        "--quick 3)")
    parser.add_argument("--rounds", type=int, default=None, metavar="K",
                        help="rounds of two simultaneous scrapes per case (default 10; "
                        "--quick 2)")
    # Past ~100 threads the exporter is CPU-bound on 2 cores: more threads only add GIL
    # hand-offs (measured at 500 accounts: 3.3 s per scrape at 100, 3.9 s at 200 and 500).
    parser.add_argument("--max-concurrency", type=int, default=100, metavar="C",
                        help="the benchmark sets concurrency (connections per upstream host) "
                             "to min(N, C) x 2: room for min(N, C) accounts' two calls "
                             "(default 100)")
    parser.add_argument("--baseline-accounts", type=int, default=None, metavar="K",
                        help="measure the concurrency-1 baseline on at most K accounts and "
                        "scale it to N (default 20; --quick 2)")
    parser.add_argument("--baseline-scrapes", type=int, default=None, metavar="K",
                        help="scrapes of the baseline (default 2; --quick 1)")
    parser.add_argument("--scrape-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="X-Prometheus-Scrape-Timeout-Seconds sent (default 10)")
    parser.add_argument("--no-default-concurrency", action="store_true",
                        help="skip the extra run at the default concurrency for N above it")
    parser.add_argument("--sources", choices=list(MODES), default="both",
                        help="how an account's sources are fetched: both ways for the "
                        "comparison (default), or only one")
    parser.add_argument("--quick", action="store_true",
                        help="small and fast, for CI: fewer scrapes, smaller baseline")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    quick = args.quick
    if args.accounts is None:
        args.accounts = list(QUICK_ACCOUNTS if quick else DEFAULT_ACCOUNTS)
    for name, full, small in (("scrapes", 15, 3), ("rounds", 10, 2),
                              ("baseline_accounts", 20, 2), ("baseline_scrapes", 2, 1)):
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    for name in ("scrapes", "rounds", "baseline_accounts", "baseline_scrapes",
                 "max_concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.latency < 0:
        parser.error("--latency must not be negative")
    return args


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers like 1,10,100") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every account count must be at least 1")
    return sorted(set(counts))


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    accounts: list[int] = args.accounts
    meta = machine()
    meta.update(
        command="python -m benchmarks.scrape_bench " + shlex.join(sys.argv[1:]),
        latency_s=args.latency,
        scrape_timeout_s=args.scrape_timeout,
        scrapes=args.scrapes,
        rounds=args.rounds,
        loadavg_start=_loadavg(),
    )
    _log(f"simulator: {max(accounts)} accounts, {args.latency:g}s per call")
    sim = SimulatorProcess(max(accounts), args.latency, workdir)
    rows: list[dict[str, Any]] = []
    try:
        _log("floor: one account alone")
        floor = run_case(sim, workdir, Case(1, len(SOURCES), args.scrapes,
                                            scrape_timeout=args.scrape_timeout), _log)
        baselines: dict[tuple[int, str], CaseResult] = {}
        for n in accounts:
            size = min(n, args.baseline_accounts)
            for case in _cases(n, args):
                if (size, case.sources) not in baselines:
                    _log(f"sequential baseline: {size} account(s), concurrency 1, "
                         f"sources {case.sources}")
                    baselines[size, case.sources] = run_case(
                        sim, workdir, _baseline_case(size, case.sources, args), _log)
                _log(case.label)
                result = run_case(sim, workdir, case, _log)
                rows.append(row(result, floor, baselines[size, case.sources], args.latency))
    finally:
        sim.stop()
    meta["loadavg_end"] = _loadavg()
    floor_out = {
        "scrape_p50_s": median(floor.single.walls),
        "scrape_p95_s": percentile(floor.single.walls, 95),
        "cpu_ms_per_scrape": 1000 * floor.single.cpu_seconds / len(floor.single.walls),
        "peak_rss_mib": floor.peak_rss_kib / 1024,
    }
    targets = evaluate_targets(rows, args.latency, args.scrape_timeout)
    return {"meta": meta, "floor": floor_out, "rows": rows, "comparison": comparison(rows),
            "targets": [t.as_dict() for t in targets]}


def _cases(n: int, args: argparse.Namespace) -> list[Case]:
    """Both ways at the benchmark's concurrency, side by side at the default one.

    `concurrency` is the exporter's connections per upstream host: min(N, C) accounts'
    calls fit at once, every source of each on its own connection."""
    connections = min(n, args.max_concurrency) * len(SOURCES)
    cases = [Case(n, connections, args.scrapes, rounds=args.rounds,
                  scrape_timeout=args.scrape_timeout, sources=sources)
             for sources in MODES[args.sources]]
    if (n > DEFAULT_CONCURRENCY and not args.no_default_concurrency
            and SIDE_BY_SIDE in MODES[args.sources]):
        cases.append(Case(n, None, args.scrapes, rounds=args.rounds,
                          scrape_timeout=args.scrape_timeout))
    return cases


def _baseline_case(size: int, sources: str, args: argparse.Namespace) -> Case:
    # Every account waits its turn, so the deadline must cover all of them.
    budget = size * 2 * args.latency * 4 + 30
    return Case(size, 1, args.baseline_scrapes, scrape_timeout=None, account_timeout=budget,
                sources=sources)


def row(
    result: CaseResult, floor: CaseResult, baseline: CaseResult, latency: float
) -> dict[str, Any]:
    """One table row: what the columns of the report show, JSON-ready."""
    n = result.case.accounts
    single = result.single
    p50 = median(single.walls)
    size = baseline.case.accounts
    sequential = median(baseline.single.walls) * n / size
    double = result.double
    out: dict[str, Any] = {
        "accounts": n,
        "sources": result.case.sources,
        "concurrency": result.concurrency_used,
        "concurrency_is_default": result.case.concurrency is None,
        "scrapes": len(single.walls),
        "scrape_p50_s": p50,
        "scrape_p95_s": percentile(single.walls, 95),
        "scrape_min_s": min(single.walls),
        "scrape_max_s": max(single.walls),
        # None without latency: there is no call time to compare with.
        "vs_one_call": p50 / latency if latency > 0 else None,
        "vs_floor": p50 / median(floor.single.walls),
        "sequential_s": sequential,
        "sequential_accounts": size,
        "sequential_estimated": size < n,
        "speedup": sequential / p50,
        "cpu_ms_per_scrape": 1000 * single.cpu_seconds / len(single.walls),
        "cpu_ms_per_account": 1000 * single.cpu_seconds / len(single.walls) / n,
        "sim_cpu_ms_per_scrape": 1000 * single.sim_cpu_seconds / len(single.walls),
        "peak_rss_mib": result.peak_rss_kib / 1024,
        "rss_mib": result.rss_kib / 1024,
        "threads": result.threads,
        "calls_per_account_per_scrape": single.per_account_per_scrape(n),
        "calls_exact": single.exact(n),
        "other_calls": single.extra_calls(),
        "up_min": single.up_min,
        "new_connections": result.new_connections,
        "open_connections": result.open_connections,
        "warm_connections": result.warm_connections,
        # Opened but no longer held: connections the pool threw away (growth is not churn).
        "discarded_connections": max(
            0, result.new_connections - max(0, result.open_connections - result.warm_connections)
        ),
        "load_1m": result.load_1m,
        "notes": result.notes,
    }
    if double is not None:
        out.update(
            two_scrapers_rounds=len(double.walls),
            two_scrapers_p50_s=median(double.walls),
            calls_per_account_per_scrape_two_scrapers=double.per_account_per_scrape(n),
            calls_exact_two_scrapers=double.exact(n),
            other_calls_two_scrapers=double.extra_calls(),
            up_min_two_scrapers=double.up_min,
        )
    return out


def machine() -> dict[str, Any]:
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def print_report(results: dict[str, Any], targets: list[Target]) -> None:
    meta, floor = results["meta"], results["floor"]
    print(f"# Scrape benchmark, {meta['date']}")
    print(f"{meta['nproc']} CPUs ({meta['cpu_model']}), Python {meta['python']}, "
          f"load average {meta['loadavg_start']} -> {meta['loadavg_end']}")
    print(f"Upstream latency {meta['latency_s']:g}s per call; scrape timeout header "
          f"{meta['scrape_timeout_s']:g}s; {meta['scrapes']} scrapes and {meta['rounds']} "
          "two-scraper rounds per case, after one warm-up scrape.")
    print(f"Floor (one account alone, sources side by side): "
          f"p50 {floor['scrape_p50_s']:.3f}s, p95 {floor['scrape_p95_s']:.3f}s\n")
    print(markdown_table(results["rows"]))
    print()
    if results["comparison"]:
        print(comparison_table(results["comparison"]))
        print()
    for target in targets:
        print(f"{target.status:7s} {target.name}: {target.detail}")
    for r in results["rows"]:
        for note in r["notes"]:
            print(f"note: {r['accounts']} accounts, sources {r['sources']}: {note}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="scrape-bench-") as tmp:
        results = run(args, Path(tmp))
    targets = [Target(**t) for t in results["targets"]]
    print_report(results, targets)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    missed = any(t.status == "FAIL" for t in targets)
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
