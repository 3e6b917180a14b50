"""Where the exporter's CPU goes during scrapes: py-spy on the real process, summed up.

    pip install py-spy
    python -m benchmarks.profile_scrape --accounts 100 --latency 0.2 --scrapes 15
    python -m benchmarks.profile_scrape --accounts 100 --in-series   # for comparison

Samples only threads holding the GIL (`py-spy record --gil`), so a thread waiting
on a socket counts for nothing and the shares add up to the exporter's CPU time.
Each sample goes to the first category, in the order of CATEGORIES, that any of
its frames matches; the report gives each category's share and its estimated
milliseconds per scrape, then the hottest functions.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import IN_SERIES, SIDE_BY_SIDE, Scraper, SimulatorProcess, start_exporter
from benchmarks.procstat import cpu_seconds
from tests.procs import REPO, write_config

# (category, pattern on "function (file)"); the first that matches a frame wins.
CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("exposition (collector + prometheus_client)",
     re.compile(r"generate_latest|exporter/collector\.py|registry\.py|metrics_core\.py")),
    ("gzip", re.compile(r"gzip\.py")),
    ("JSON decode", re.compile(r"json/")),
    ("parse to snapshot", re.compile(r"providers/.*parse\.py|providers/parsing\.py|timefmt\.py")),
    ("HTTP client (aiohttp, requests, urllib3, http.client)",
     re.compile(r"aiohttp/|yarl/|multidict/|requests/|urllib3/|http/client\.py")),
    ("HTTP server (cheroot)", re.compile(r"cheroot/|exporter/web/httpd\.py")),
    ("event loop (asyncio, uvloop)", re.compile(r"asyncio/|uvloop/|exporter/upstream/loop\.py")),
    ("thread pool, locks, futures", re.compile(r"concurrent/futures|threading\.py")),
]
OTHER = "other"
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::\d+)?\)$")


def parse_raw(text: str) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) output: `frame;frame;... count` -> (frames root first, count)."""
    stacks: list[tuple[list[str], int]] = []
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for frame in stack.split(";"):
            m = _FRAME.match(frame)
            frames.append(f"{m['func']} ({_short(m['file'])})" if m else frame)
        stacks.append((frames, int(count)))
    return stacks


def _short(path: str) -> str:
    """`.../site-packages/requests/x.py` -> `requests/x.py`; repo files relative to it."""
    for marker in ("site-packages/", "/lib/python3."):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail.split("/", 1)[1] if marker.startswith("/lib") else tail
    repo = f"{REPO}/"
    return path[len(repo):] if path.startswith(repo) else path


def categorize(stacks: list[tuple[list[str], int]]) -> Counter[str]:
    shares: Counter[str] = Counter()
    for frames, count in stacks:
        for name, pattern in CATEGORIES:
            if any(pattern.search(f) for f in frames):
                shares[name] += count
                break
        else:
            shares[OTHER] += count
    return shares


def hottest(stacks: list[tuple[list[str], int]], top: int) -> tuple[Counter[str], Counter[str]]:
    """Inclusive and self sample counts per function."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        for f in set(frames):
            inclusive[f] += count
        own[frames[-1]] += count
    return inclusive, own


def profile(args: argparse.Namespace, workdir: Path) -> str:
    sim = SimulatorProcess(args.accounts, args.latency, workdir)
    try:
        config = {"concurrency": args.concurrency or args.accounts, "accounts": sim.accounts}
        sources = IN_SERIES if args.in_series else SIDE_BY_SIDE
        exporter = start_exporter(write_config(workdir, config, "exporter.yml"), sources)
        scraper = Scraper(exporter.url + "/metrics", 10.0)
        try:
            scraper.scrape()  # warm-up: tokens and loadCodeAssist
            out = workdir / "profile.txt"
            spy = subprocess.Popen(
                ["py-spy", "record", "--gil", "--nonblocking", "--format", "raw",
                 "--rate", str(args.rate), "--pid", str(exporter.proc.pid), "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            scraper.scrape()  # lets py-spy attach before the measured scrapes
            cpu0 = cpu_seconds(exporter.proc.pid)
            for _ in range(args.scrapes):
                scraper.scrape()
            cpu = cpu_seconds(exporter.proc.pid) - cpu0
            spy.send_signal(signal.SIGINT)
            _, err = spy.communicate(timeout=60)
            if not out.exists():
                raise RuntimeError(f"py-spy wrote no profile: {err.strip()}")
            text = out.read_text()
        finally:
            scraper.close()
            exporter.stop()
    finally:
        sim.stop()
    return report(parse_raw(text), 1000 * cpu / args.scrapes, args)


def report(stacks: list[tuple[list[str], int]], cpu_ms: float,
           args: argparse.Namespace) -> str:
    total = sum(count for _, count in stacks) or 1
    lines = [
        f"## {args.accounts} accounts, {args.latency:g}s per call, concurrency "
        f"{args.concurrency or args.accounts}, sources "
        f"{IN_SERIES if args.in_series else SIDE_BY_SIDE}: {cpu_ms:.0f} ms exporter CPU per scrape "
        f"({total} samples)",
        "",
        "| where | share | ms / scrape |",
        "|---|---:|---:|",
    ]
    for name, count in categorize(stacks).most_common():
        lines.append(f"| {name} | {count / total:.0%} | {cpu_ms * count / total:.0f} |")
    inclusive, own = hottest(stacks, args.top)
    for title, counter in (("inclusive", inclusive), ("self", own)):
        lines += ["", f"Top {args.top} functions, {title}:"]
        lines += [f"  {c / total:6.1%}  {f}" for f, c in counter.most_common(args.top)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_scrape",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=100, metavar="N")
    parser.add_argument("--latency", type=float, default=0.2, metavar="SECONDS")
    parser.add_argument("--concurrency", type=int, default=0, metavar="C",
                        help="default: N")
    parser.add_argument("--scrapes", type=int, default=15, metavar="K")
    parser.add_argument("--in-series", action="store_true",
                        help="fetch an account's sources one after the other, as before")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25, metavar="K")
    args = parser.parse_args(argv)
    if shutil.which("py-spy") is None:
        print("error: py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="scrape-profile-") as tmp:
        print(profile(args, Path(tmp)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
