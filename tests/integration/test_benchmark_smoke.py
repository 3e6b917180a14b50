"""The scrape and scale benchmarks keep working: a tiny run gives every figure, and they add up.

Asserts that it ran and what it counted, never how fast the machine is.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from benchmarks import bare_client, scale_bench, scrape_bench
from benchmarks.harness import IN_SERIES, SIDE_BY_SIDE, percentile
from benchmarks.procstat import (
    ConnectionCounter,
    cpu_seconds,
    load_1m,
    machine_busy_seconds,
    memory,
)
from benchmarks.profile_scrape import categorize, parse_raw
from benchmarks.report import (
    COLUMNS,
    COMPARISON_COLUMNS,
    RSS_BASELINE,
    comparison,
    comparison_table,
    evaluate_targets,
    markdown_table,
)

NUMBERS = (
    "accounts", "concurrency", "scrapes", "scrape_p50_s", "scrape_p95_s", "scrape_min_s",
    "scrape_max_s", "vs_one_call", "vs_floor", "sequential_s", "sequential_accounts", "speedup",
    "cpu_ms_per_scrape", "cpu_ms_per_account", "sim_cpu_ms_per_scrape", "peak_rss_mib",
    "rss_mib", "threads", "other_calls", "up_min", "new_connections", "open_connections",
    "warm_connections", "discarded_connections",
    "two_scrapers_rounds", "two_scrapers_p50_s", "other_calls_two_scrapers",
    "up_min_two_scrapers", "load_1m",
)
LATENCY = 0.1  # long enough that one round trip and two are far apart on a loaded machine
RSS_TARGET = (f"100 accounts: peak RSS <= {RSS_BASELINE.limit_mib:.1f} MiB "
              f"(recorded {RSS_BASELINE.mib:g} MiB + {RSS_BASELINE.tolerance:.0%})")
ONE_CALL_TARGET = "100 accounts: scrape p50 <= 1.3x one upstream call"
CPU_TARGET = "100 accounts: exporter CPU <= 1.5 ms per account per scrape"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], str]]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = scrape_bench.main(
            ["--accounts", "2", "--latency", str(LATENCY), "--quick", "--json", str(out)]
        )
    assert code == 0
    yield json.loads(out.read_text()), stdout.getvalue()


def _by_sources(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = results["rows"]
    assert [r["sources"] for r in rows] == [SIDE_BY_SIDE, IN_SERIES]
    return {r["sources"]: r for r in rows}


def test_quick_run_reports_a_number_for_every_column_in_both_modes(
    quick_run: tuple[dict[str, Any], str],
) -> None:
    results, _ = quick_run
    for row in _by_sources(results).values():
        for key in NUMBERS:
            assert isinstance(row[key], int | float) and not isinstance(row[key], bool), key
        assert row["accounts"] == 2
        assert row["concurrency"] == 4  # connections per host: both accounts, both calls
        assert row["concurrency_is_default"] is False
        assert row["scrapes"] == 3
        assert row["two_scrapers_rounds"] == 2
        assert row["sequential_accounts"] == 2
        assert row["sequential_estimated"] is False
        assert row["scrape_p50_s"] > 0 and row["sequential_s"] > 0
        assert row["vs_one_call"] == pytest.approx(row["scrape_p50_s"] / LATENCY)
        assert row["peak_rss_mib"] >= row["rss_mib"] > 0
    for key in ("scrape_p50_s", "scrape_p95_s", "peak_rss_mib"):
        assert results["floor"][key] > 0


def test_in_series_costs_two_round_trips_and_side_by_side_one(
    quick_run: tuple[dict[str, Any], str],
) -> None:
    results, _ = quick_run
    rows = _by_sources(results)
    # Each call sleeps LATENCY in the simulator: two in a row can never beat 2 x LATENCY,
    # so any scrape under it had its two calls overlap.
    assert rows[IN_SERIES]["scrape_min_s"] >= 2 * LATENCY
    assert LATENCY <= rows[SIDE_BY_SIDE]["scrape_min_s"] < 2 * LATENCY
    # The concurrency-1 baseline of 2 accounts: one connection per host, so the 4 calls
    # go one after the other either way.
    assert rows[IN_SERIES]["sequential_s"] >= 4 * LATENCY
    assert rows[SIDE_BY_SIDE]["sequential_s"] >= 4 * LATENCY
    (pair,) = results["comparison"]
    # Connections per host: room for both accounts' two calls at once.
    assert pair["accounts"] == 2 and pair["concurrency"] == 4
    assert pair["side_by_side_scrape_p50_s"] == rows[SIDE_BY_SIDE]["scrape_p50_s"]
    assert pair["in_series_scrape_p50_s"] == rows[IN_SERIES]["scrape_p50_s"]
    assert pair["p50_in_series_over_side_by_side"] == pytest.approx(
        rows[IN_SERIES]["scrape_p50_s"] / rows[SIDE_BY_SIDE]["scrape_p50_s"])


def test_quick_run_counts_one_call_per_source_per_account_in_both_modes(
    quick_run: tuple[dict[str, Any], str],
) -> None:
    for row in _by_sources(quick_run[0]).values():
        assert row["calls_per_account_per_scrape"] == {"models": 1.0, "summary": 1.0}
        assert row["calls_per_account_per_scrape_two_scrapers"] == {
            "models": 1.0, "summary": 1.0}
        assert row["calls_exact"] is True and row["calls_exact_two_scrapers"] is True
        assert row["other_calls"] == 0 and row["other_calls_two_scrapers"] == 0
        assert row["up_min"] == 2 and row["up_min_two_scrapers"] == 2
        # Warm connections are reused: the exporter opens none while measured.
        assert row["new_connections"] == 0 and row["discarded_connections"] == 0
        assert row["open_connections"] >= 1


def test_quick_run_prints_both_tables_and_a_verdict_per_target(
    quick_run: tuple[dict[str, Any], str],
) -> None:
    results, stdout = quick_run
    assert "| accounts | sources | concurrency | p50 s |" in stdout
    assert "| 2 | side by side | 4 |" in stdout and "| 2 | in series | 4 |" in stdout
    assert "| accounts | concurrency | p50 s side by side | p50 s in series |" in stdout
    assert ("PASS    one call per source per account per scrape, one scraper: "
            "exact at N=2, N=2 in series") in stdout
    statuses = {t["name"]: t["status"] for t in results["targets"]}
    assert statuses["one call per source per account per scrape, two scrapers at once"] == "PASS"
    assert statuses[RSS_TARGET] == "NOT RUN"
    assert statuses[ONE_CALL_TARGET] == "NOT RUN"
    meta = results["meta"]
    assert meta["nproc"] >= 1 and meta["latency_s"] == LATENCY
    assert meta["command"].startswith("python -m benchmarks.scrape_bench")


def _row(n: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "accounts": n, "sources": SIDE_BY_SIDE, "concurrency": n,
        "concurrency_is_default": False, "scrape_p50_s": 0.25, "scrape_p95_s": 0.3,
        "vs_one_call": 1.25, "vs_floor": 1.1, "sequential_s": 40.0,
        "sequential_estimated": True, "speedup": 90.0, "cpu_ms_per_scrape": 80.0,
        "cpu_ms_per_account": 0.8, "sim_cpu_ms_per_scrape": 10.0, "peak_rss_mib": 50.0,
        "threads": n + 2, "calls_per_account_per_scrape": {"models": 1.0, "summary": 1.0},
        "calls_exact": True, "calls_exact_two_scrapers": True, "other_calls": 0,
        "new_connections": 0, "warm_connections": n, "open_connections": n,
        "discarded_connections": 0, "up_min": n, "load_1m": 0.5,
    }
    row.update(over)
    return row


def test_targets_pass_fail_and_not_run() -> None:
    rows = [
        _row(100, vs_one_call=1.6, scrape_p50_s=0.32, cpu_ms_per_account=1.4,
             peak_rss_mib=RSS_BASELINE.limit_mib + 0.1),
        _row(500, scrape_p95_s=4.0),
        _row(500, concurrency=100, concurrency_is_default=True, scrape_p95_s=6.0),
    ]
    verdicts = {t.name: t.status for t in evaluate_targets(rows, 0.2, 10.0)}
    assert verdicts == {
        ONE_CALL_TARGET: "FAIL",
        CPU_TARGET: "PASS",
        RSS_TARGET: "FAIL",
        "one call per source per account per scrape, one scraper": "PASS",
        "one call per source per account per scrape, two scrapers at once": "PASS",
        "500 accounts, benchmark concurrency: p95 <= 5s, every account up": "PASS",
        "500 accounts, the default concurrency: p95 <= 5s, every account up": "FAIL",
    }
    only_ten = evaluate_targets(
        [_row(10), _row(10, sources=IN_SERIES, calls_exact_two_scrapers=False)], 0.05, 10.0)
    by_name = {t.name: t for t in only_ten}
    assert by_name[RSS_TARGET].status == "NOT RUN"
    two = by_name["one call per source per account per scrape, two scrapers at once"]
    assert (two.status, two.detail) == ("FAIL", "missed at N=10 in series")


def test_speed_cpu_and_memory_are_judged_on_the_side_by_side_row_only() -> None:
    fast_series = _row(100, sources=IN_SERIES)  # passes everything, and does not count
    slow = _row(100, vs_one_call=2.1, scrape_p50_s=0.42, cpu_ms_per_account=3.0,
                peak_rss_mib=70.0)
    by_name = {t.name: t for t in evaluate_targets([fast_series, slow], 0.2, 10.0)}
    assert [by_name[n].status for n in (ONE_CALL_TARGET, CPU_TARGET, RSS_TARGET)] == [
        "FAIL", "FAIL", "FAIL"]
    assert by_name[ONE_CALL_TARGET].detail == (
        "p50 0.420s = 2.10x the 0.2s call (limit 0.260s, concurrency 100); "
        "in series 0.250s, 0.80 ms, 50.0 MiB")
    only_series = {t.name: t.status for t in evaluate_targets([fast_series], 0.2, 10.0)}
    assert only_series[ONE_CALL_TARGET] == only_series[CPU_TARGET] == "NOT RUN"


def test_the_one_call_target_scales_with_the_latency_and_says_so() -> None:
    (target,) = [t for t in evaluate_targets([_row(100, vs_one_call=1.2)], 0.05, 10.0)
                 if t.name == ONE_CALL_TARGET]
    assert target.status == "PASS"
    assert "limit 0.065s" in target.detail
    assert "the target is stated for 0.2s" in target.detail
    (none,) = [t for t in evaluate_targets([_row(100, vs_one_call=None)], 0.0, 10.0)
               if t.name == ONE_CALL_TARGET]
    assert none.status == "NOT RUN"


def test_a_500_account_row_with_accounts_down_fails_even_when_fast() -> None:
    (target,) = [t for t in evaluate_targets([_row(500, up_min=480)], 0.2, 10.0)
                 if t.name.startswith("500 accounts, benchmark")]
    assert target.status == "FAIL"
    assert "480/500 up" in target.detail


def test_comparison_pairs_the_two_modes_at_the_same_n() -> None:
    rows = [
        _row(100, scrape_p50_s=0.25),
        _row(100, sources=IN_SERIES, scrape_p50_s=0.5, threads=102),
        _row(500, concurrency=100, concurrency_is_default=True),  # no partner: left out
        _row(10),  # only one mode measured: left out
    ]
    (pair,) = comparison(rows)
    assert pair["accounts"] == 100
    assert pair["p50_in_series_over_side_by_side"] == 2.0
    assert (pair["side_by_side_threads"], pair["in_series_threads"]) == (102, 102)
    table = comparison_table([pair]).splitlines()
    assert all(line.count("|") == len(COMPARISON_COLUMNS) + 1 for line in table)
    assert table[2].startswith("| 100 | 100 | 0.250 | 0.500 | 2.00x |")


def test_table_has_a_cell_per_column_and_marks_estimates() -> None:
    table = markdown_table([_row(100), _row(1, vs_one_call=None)]).splitlines()
    assert len(table) == 4
    assert all(line.count("|") == len(COLUMNS) + 1 for line in table)
    assert table[2].startswith("| 100 | side by side | 100 | 0.250 | 0.300 | 1.25 | ~40.00 |")
    assert "| 1.00 / 1.00 |" in table[2]
    assert "| 0.300 | - |" in table[3]


def test_bare_clients_make_every_call_once_per_round_all_at_once(tmp_path: Path) -> None:
    out = tmp_path / "bare.json"
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        code = bare_client.main(["--accounts", "2", "--latency", str(LATENCY), "--rounds", "2",
                                 "--json", str(out)])
    assert code == 0
    results = json.loads(out.read_text())
    assert [c["client"] for c in results["clients"]] == list(bare_client.CLIENTS)
    for client in results["clients"]:
        assert client["rounds"] == 2
        # One warm-up round and two measured ones; tokens and projects came before.
        assert client["calls"] == {
            name: {"fetchAvailableModels": 3, "retrieveUserQuotaSummary": 3,
                   "loadCodeAssist": 0, "token": 0}
            for name in ("bench-0001", "bench-0002")
        }
        assert LATENCY <= client["min_s"] < 2 * LATENCY  # the four calls overlapped
        assert client["vs_one_call"] == pytest.approx(client["p50_s"] / LATENCY)
        assert client["cpu_ms_per_account"] > 0
    assert "asyncio, one thread: p50 " in stdout.getvalue()


def test_percentile_is_nearest_rank() -> None:
    walls = [float(i) for i in range(1, 11)]
    assert percentile(walls, 95) == 10.0
    assert percentile(walls, 50) == 5.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([float(i) for i in range(1, 21)], 95) == 19.0


def test_profile_samples_go_to_the_first_matching_category() -> None:
    raw = (
        "_worker (/usr/lib/python3.11/concurrent/futures/thread.py:83);"
        "_request (/repo/exporter/upstream/client.py:130);"
        "post (/usr/lib/python3.11/site-packages/requests/sessions.py:637) 7\n"
        "metrics (/repo/exporter/server/app.py:150);"
        "generate_latest (/usr/lib/python3.11/site-packages/prometheus_client/exposition.py:"
        "250) 3\n"
        "_worker (/usr/lib/python3.11/concurrent/futures/thread.py:83) 2\n"
        "main (/repo/x.py:1) 1\n"
        "_main (/repo/exporter/upstream/loop.py:40);"
        "_request (/usr/lib/python3.11/site-packages/aiohttp/client.py:600) 4\n"
        "_run_once (/usr/lib/python3.11/asyncio/base_events.py:1900) 5\n"
    )
    stacks = parse_raw(raw)
    assert stacks[0][0][-1] == "post (requests/sessions.py)"
    shares = categorize(stacks)
    assert shares == {
        "HTTP client (aiohttp, requests, urllib3, http.client)": 7 + 4,
        "event loop (asyncio, uvloop)": 5,
        "exposition (collector + prometheus_client)": 3,
        "thread pool, locks, futures": 2,
        "other": 1,
    }


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_connection_counter_sees_opened_connections_and_excludes_its_own() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    held: list[socket.socket] = []
    try:
        first = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        first.request("GET", "/")
        first.getresponse().read()
        held += [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
        closed = socket.create_connection(("127.0.0.1", port), timeout=5)
        closed_port = closed.getsockname()[1]
        closed.close()  # gone from the process, but TIME_WAIT keeps it visible
        everyone = ConnectionCounter(port)
        assert len(everyone.look()) == 4
        # All four are ours, but the closed one has no owner any more.
        assert ConnectionCounter(port, exclude=(os.getpid(),)).look() == {closed_port}
        assert everyone.open_by(os.getpid()) == 3
        first.close()
    finally:
        for sock in held:
            sock.close()
        server.shutdown()
        server.server_close()


def test_proc_readers_describe_this_process() -> None:
    assert cpu_seconds(os.getpid()) > 0
    mem = memory(os.getpid())
    assert mem.peak_rss_kib >= mem.rss_kib > 0
    assert mem.threads >= 1
    assert load_1m() >= 0
    assert machine_busy_seconds() >= cpu_seconds(os.getpid()) > 0


def test_bad_arguments_are_refused_with_the_flag_named(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        scrape_bench.main(["--accounts", "0"])
    assert "--accounts" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        scrape_bench.main(["--scrapes", "0"])
    assert "--scrapes must be at least 1" in capsys.readouterr().err


SCALE_LATENCY = 0.05
SCALE_NUMBERS = (
    "accounts", "change_fraction", "concurrency", "scrapes", "scrape_p50_s", "scrape_p95_s",
    "scrape_min_s", "scrape_max_s", "floor_rounds", "floor_p50_s", "floor_p95_s",
    "floor_min_s", "vs_floor", "cpu_ms_per_scrape", "cpu_ms_per_account",
    "bare_cpu_ms_per_round", "bare_cpu_ms_per_account", "bare_cpu_ms_per_account_with_setup",
    "cpu_vs_bare", "over_timeout",
    "upstream_cpu_ms_per_scrape", "peak_rss_mib", "threads_max", "thread_samples",
    "other_calls", "two_scrapers_rounds", "two_scrapers_p50_s", "other_calls_two_scrapers",
    "up_min", "up_min_two_scrapers", "warm_up_s", "warm_up_scrapes", "warm_up_up",
    "new_connections", "load_1m", "others_cpu_pct", "floor_others_cpu_pct",
    "wire_floor_p50_s", "vs_wire_floor", "wire_cpu_ms_per_account",
)


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("scale") / "scale.json"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        # Two accounts, then the same two with every reply changing on every call.
        code = scale_bench.main(["--quick", "--accounts", "2", "--changing-row", "2",
                                 "--latency", str(SCALE_LATENCY), "--json", str(out)])
    assert code == 0
    return json.loads(out.read_text()), stdout.getvalue()


def test_scale_quick_run_reports_a_number_for_every_column(
    scale_run: tuple[dict[str, Any], str],
) -> None:
    results, stdout = scale_run
    rows = results["rows"]
    assert [(r["accounts"], r["change_fraction"]) for r in rows] == [(2, 0.0), (2, 1.0)]
    for row in rows:
        for key in SCALE_NUMBERS:
            assert isinstance(row[key], int | float) and not isinstance(row[key], bool), key
        assert (row["scrapes"], row["two_scrapers_rounds"], row["floor_rounds"]) == (3, 2, 3)
        assert row["concurrency_is_default"] is True
        assert row["vs_floor"] == pytest.approx(row["scrape_p50_s"] / row["floor_p50_s"])
        assert row["vs_wire_floor"] == pytest.approx(
            row["scrape_p50_s"] / row["wire_floor_p50_s"])
        assert row["bare_cpu_ms_per_account"] > 0 and row["cpu_ms_per_scrape"] >= 0
        assert row["peak_rss_mib"] > 0 and row["threads_max"] >= 1
        assert row["thread_samples"] >= 1 and row["over_timeout"] == 0
        assert row["bare_cpu_ms_per_account_with_setup"] >= row["bare_cpu_ms_per_account"]
    assert "| accounts | replies changing | concurrency | p50 s |" in stdout
    assert "| 2 | 0% | 1000 (default) |" in stdout and "| 2 | 100% | 1000 (default) |" in stdout
    assert "| target (issue 19) | verdict | measured |" in stdout
    statuses = {t["name"]: t["status"] for t in results["targets"]}
    assert set(statuses.values()) == {"NOT RUN"}  # no 100, 1,000 or 5,000 rows here
    assert results["meta"]["command"].startswith("python -m benchmarks.scale_bench")


def test_scale_quick_run_calls_each_source_once_per_account_per_scrape(
    scale_run: tuple[dict[str, Any], str],
) -> None:
    for row in scale_run[0]["rows"]:
        assert row["calls_per_account_per_scrape"] == {"models": 1.0, "summary": 1.0}
        assert row["calls_per_account_per_scrape_two_scrapers"] == {
            "models": 1.0, "summary": 1.0}
        assert row["calls_exact"] is True and row["calls_exact_two_scrapers"] is True
        assert row["other_calls"] == 0 and row["other_calls_two_scrapers"] == 0
        # The floor made the same calls: every source of every account once a round.
        assert row["floor_calls_per_account_per_round"] == {"models": 1.0, "summary": 1.0}
        assert row["up_min"] == row["up_min_two_scrapers"] == row["warm_up_up"] == 2


def test_scale_quick_run_waits_for_the_upstream_latency_at_least(
    scale_run: tuple[dict[str, Any], str],
) -> None:
    # The lean upstream answers every call SCALE_LATENCY after it came: nothing that
    # waits for a reply can be faster, neither the exporter nor the bare floor.
    for row in scale_run[0]["rows"]:
        assert row["scrape_min_s"] >= SCALE_LATENCY
        assert row["floor_min_s"] >= SCALE_LATENCY
        assert row["wire_floor_p50_s"] >= SCALE_LATENCY
        assert row["two_scrapers_p50_s"] >= SCALE_LATENCY


def test_scale_targets_judge_the_thousand_row_and_say_not_run_without_it() -> None:
    base = {
        "accounts": 1000, "change_fraction": 0.0, "scrape_p50_s": 0.8, "scrape_p95_s": 0.9,
        "floor_p50_s": 0.6, "vs_floor": 0.8 / 0.6, "cpu_vs_bare": 2.0,
        "cpu_ms_per_account": 0.8, "bare_cpu_ms_per_account": 0.4, "peak_rss_mib": 140.0,
        "threads_max": 20, "thread_samples": 100, "calls_exact": True,
        "calls_exact_two_scrapers": True,
        "calls_per_account_per_scrape": {"models": 1.0, "summary": 1.0},
        "calls_per_account_per_scrape_two_scrapers": {"models": 1.0, "summary": 1.0},
        "up_min": 1000, "up_min_two_scrapers": 1000, "over_timeout": 0, "scrapes": 15,
        "two_scrapers_rounds": 5, "scrape_max_s": 1.0,
    }
    five = "5,000 accounts: every account up within a 10 s scrape timeout"
    slow = {**base, "accounts": 5000, "up_min": 4100}
    statuses = {t.name: t.status for t in scale_bench.evaluate_targets([base, slow], 0.2, 10.0)}
    assert statuses[five] == "FAIL"
    late = {**base, "accounts": 5000, "up_min": 5000, "up_min_two_scrapers": 5000,
            "over_timeout": 1, "scrape_max_s": 10.2}
    (verdict,) = [t for t in scale_bench.evaluate_targets([late], 0.2, 10.0) if t.name == five]
    assert verdict.status == "FAIL" and "1 of 20 scrapes over the timeout" in verdict.detail
    assert next(t for t in scale_bench.evaluate_targets([{**late, "over_timeout": 0}], 0.2,
                                                        10.0) if t.name == five).status == "PASS"
    assert [s for n, s in statuses.items() if n.startswith("1,000")] == ["PASS"] * 7
    assert next(s for n, s in statuses.items() if n.startswith("100 accounts")) == "NOT RUN"
    over = {**base, "threads_max": 65, "cpu_vs_bare": None}
    statuses = {t.name: t.status for t in scale_bench.evaluate_targets([over], 0.2, 10.0)}
    assert statuses["1,000 accounts: at most 64 threads"] == "FAIL"
    assert statuses["1,000 accounts: exporter CPU <= 2.5x the bare client's"] == "FAIL"
    hundred = {**base, "accounts": 100, "scrape_p50_s": 0.33, "cpu_ms_per_account": 2.0}
    (recorded,) = [t for t in scale_bench.evaluate_targets([hundred], 0.2, 10.0)
                   if t.name.startswith("100 accounts")]
    assert recorded.status == "FAIL" and "the recorded 0.284 s and 1.09 ms" in recorded.name
    (same_day,) = [t for t in scale_bench.evaluate_targets([hundred], 0.2, 10.0, (0.32, 2.1))
                   if t.name.startswith("100 accounts")]
    assert same_day.status == "PASS" and "given by --recorded-100" in same_day.name
