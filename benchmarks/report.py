"""The benchmark's verdicts and table, from its JSON-ready rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

TARGET_LATENCY = 0.2  # the targets are stated for 200 ms per upstream call
FLOOR_FACTOR = 1.2
CPU_MS_PER_ACCOUNT = 1.0
PEAK_RSS_MIB = 60.0
WELL_INSIDE = 0.5  # "well inside the scrape timeout": at most half of it


@dataclass(frozen=True)
class Target:
    name: str
    status: str  # PASS, FAIL or NOT RUN
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _find(rows: list[dict[str, Any]], n: int, default: bool = False) -> dict[str, Any] | None:
    for r in rows:
        if r["accounts"] == n and r["concurrency_is_default"] == default:
            return r
    return None


def evaluate_targets(
    rows: list[dict[str, Any]], latency: float, scrape_timeout: float
) -> list[Target]:
    """PASS/FAIL per target of issue 6; NOT RUN when the run lacks the row it needs."""
    caveat = "" if latency == TARGET_LATENCY else (
        f" (measured at {latency:g}s per call; the target is stated for {TARGET_LATENCY:g}s)")
    targets: list[Target] = []
    hundred = _find(rows, 100)

    def on_hundred(name: str, check: Callable[[dict[str, Any]], tuple[bool, str]]) -> None:
        if hundred is None:
            targets.append(Target(name, "NOT RUN", "no 100-account row in this run"))
            return
        ok, detail = check(hundred)
        targets.append(Target(name, _verdict(ok), detail + caveat))

    on_hundred(f"100 accounts: scrape p50 <= {FLOOR_FACTOR:g}x the floor", lambda r: (
        r["vs_floor"] <= FLOOR_FACTOR,
        f"p50 {r['scrape_p50_s']:.3f}s = {r['vs_floor']:.2f}x the floor "
        f"(concurrency {r['concurrency']})"))
    on_hundred(f"100 accounts: exporter CPU <= {CPU_MS_PER_ACCOUNT:g} ms per account per scrape",
               lambda r: (r["cpu_ms_per_account"] <= CPU_MS_PER_ACCOUNT,
                          f"{r['cpu_ms_per_account']:.2f} ms ({r['cpu_ms_per_scrape']:.0f} ms "
                          "per scrape)"))
    on_hundred(f"100 accounts: peak RSS <= {PEAK_RSS_MIB:g} MiB", lambda r: (
        r["peak_rss_mib"] <= PEAK_RSS_MIB, f"VmHWM {r['peak_rss_mib']:.1f} MiB"))
    for key, who in (("calls_exact", "one scraper"),
                     ("calls_exact_two_scrapers", "two scrapers at once")):
        measured = [r for r in rows if key in r]
        bad = [_who(r) for r in measured if not r[key]]
        name = f"one call per source per account per scrape, {who}"
        if not measured:
            targets.append(Target(name, "NOT RUN", "no rows"))
        else:
            detail = f"missed at {', '.join(bad)}" if bad else (
                "exact at " + ", ".join(_who(r) for r in measured))
            targets.append(Target(name, _verdict(not bad), detail))
    limit = scrape_timeout * WELL_INSIDE
    for default in (False, True):
        r = _find(rows, 500, default)
        which = "the default concurrency" if default else "benchmark concurrency"
        name = f"500 accounts, {which}: p95 <= {limit:g}s, every account up"
        if r is None:
            targets.append(Target(name, "NOT RUN", "no 500-account row in this run"))
            continue
        ok = r["scrape_p95_s"] <= limit and r["up_min"] == r["accounts"]
        targets.append(Target(name, _verdict(ok), (
            f"p95 {r['scrape_p95_s']:.3f}s at concurrency {r['concurrency']}, "
            f"{r['up_min']}/{r['accounts']} up") + caveat))
    return targets


def _who(r: dict[str, Any]) -> str:
    return f"N={r['accounts']}" + (" (default concurrency)" if r["concurrency_is_default"] else "")


def _calls(calls: dict[str, float] | None) -> str:
    if calls is None:
        return "-"
    return " / ".join(f"{v:.2f}" for v in calls.values())


def _seconds(r: dict[str, Any]) -> str:
    mark = "~" if r["sequential_estimated"] else ""
    return f"{mark}{r['sequential_s']:.2f}"


COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("accounts", lambda r: str(r["accounts"])),
    ("concurrency", lambda r: f"{r['concurrency']}" + (" (default)"
                                                       if r["concurrency_is_default"] else "")),
    ("p50 s", lambda r: f"{r['scrape_p50_s']:.3f}"),
    ("p95 s", lambda r: f"{r['scrape_p95_s']:.3f}"),
    ("p50 / floor", lambda r: f"{r['vs_floor']:.2f}"),
    ("sequential s", _seconds),
    ("speed-up", lambda r: f"{r['speedup']:.0f}x"),
    ("CPU ms / scrape", lambda r: f"{r['cpu_ms_per_scrape']:.0f}"),
    ("CPU ms / account", lambda r: f"{r['cpu_ms_per_account']:.2f}"),
    ("sim CPU ms / scrape", lambda r: f"{r['sim_cpu_ms_per_scrape']:.0f}"),
    ("peak RSS MiB", lambda r: f"{r['peak_rss_mib']:.1f}"),
    ("threads", lambda r: str(r["threads"])),
    ("calls / account / scrape (models / summary)",
     lambda r: _calls(r["calls_per_account_per_scrape"])),
    ("same, 2 scrapers", lambda r: _calls(r.get("calls_per_account_per_scrape_two_scrapers"))),
    ("2-scraper p50 s", lambda r: f"{r['two_scrapers_p50_s']:.3f}"
     if "two_scrapers_p50_s" in r else "-"),
    ("other calls", lambda r: str(r["other_calls"] + r.get("other_calls_two_scrapers", 0))),
    ("conns held", lambda r: f"{r['warm_connections']} -> {r['open_connections']}"),
    ("new conns", lambda r: str(r["new_connections"])),
    ("discarded conns", lambda r: str(r["discarded_connections"])),
    ("up", lambda r: f"{r['up_min']}/{r['accounts']}"),
]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(name for name, _ in COLUMNS) + " |",
        "|" + "|".join("---:" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(cell(r) for _, cell in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)
