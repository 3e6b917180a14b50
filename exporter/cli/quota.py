"""`llm-quota-exporter quota`: fetch once (or every INTERVAL) and print the quota table.

Exit codes:
    0    every selected account was fetched (and, with --fail-below, every known
         quota is at or above the fraction)
    1    at least one selected account failed to fetch
    2    usage or config error, such as an unknown --account name
    3    with --fail-below F: a known model or pool quota is below F
         (when 1 and 3 both apply, 1 wins: a failed account hides its quotas)
    130  interrupted (Ctrl-C), the normal way to leave --watch

With --best MODEL it prints only the name of the account with the most effective
quota left for MODEL (ties: the earlier reset) and exits 0; it exits 1, saying why
on stderr, when no account has the model or none has usable quota (at or above
the exhausted threshold). `--output json` prints the /api/v1/best document instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import NoReturn, TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from exporter.cli.common import DEFAULT_CONFIG, EXIT_CONFIG, config_source, load_or_report
from exporter.config import Config
from exporter.discovery import ConfigSource
from exporter.discovery.render import looked, not_served, nothing_found
from exporter.fetch import FetchEngine
from exporter.query import (
    QuotaSource,
    accounts_for,
    best_answer,
    select,
    unknown_accounts_message,
)
from exporter.quota import effective
from exporter.snapshot import Snapshot
from exporter.timefmt import human_duration
from exporter.views.document import to_json
from exporter.views.terminal import make_console, render_snapshot

EXIT_OK = 0
EXIT_ACCOUNT_FAILED = 1
EXIT_USAGE = 2
EXIT_BELOW = 3
EXIT_INTERRUPTED = 130


def run(args: argparse.Namespace) -> int:
    """The command: load the config (or discover accounts), fetch, print."""
    source = config_source(args.config_file)
    config = load_or_report(source)
    if config is None:
        return EXIT_CONFIG
    if not _say_where_accounts_come_from(args, source, config):
        return EXIT_USAGE
    engine = FetchEngine(config)
    try:
        return run_quota(args, engine)
    finally:
        engine.close()


def _say_where_accounts_come_from(
    args: argparse.Namespace, source: ConfigSource, config: Config
) -> bool:
    """Without a config file, say which discovered accounts the table shows (on
    stderr); False when there are none."""
    report = source.report
    if source.config_file is None and report is not None:
        if not config.accounts:
            print(f"No config file ({DEFAULT_CONFIG} here, or --config.file). Looked for "
                  "accounts in:", *looked(report), nothing_found(report), sep="\n",
                  file=sys.stderr)
            return False
        if args.output == "table":
            print(f"No config file: the {len(report.served)} account(s) found on this "
                  "machine (llm-quota-exporter discover explains):", file=sys.stderr)
            for found in report.served:
                print(f"  {found.name}  {found.shown}", file=sys.stderr)
            for line in not_served(report):
                print(f"  not served: {line}", file=sys.stderr)
    return True


def exit_code(snapshot: Snapshot, fail_below: float | None) -> int:
    """The exit code for one collected snapshot (see the module docstring)."""
    if any(not a.up for a in snapshot.accounts):
        return EXIT_ACCOUNT_FAILED
    if fail_below is not None:
        for a in snapshot.accounts:
            if a.data is None:
                continue
            # A model counts with its effective number (its pools included); an
            # unknown number is not low and never trips the threshold.
            limits = [effective(m, a.data) for m in a.data.models]
            fractions = [limit.fraction for limit in limits if limit is not None]
            fractions += [p.remaining_fraction for p in a.data.pools
                          if p.remaining_fraction is not None]
            if any(f < fail_below for f in fractions):
                return EXIT_BELOW
    return EXIT_OK


def run_quota(
    args: argparse.Namespace,
    engine: QuotaSource,
    *,
    out: TextIO | None = None,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run the `quota` subcommand; returns the exit code (see the module docstring)."""
    stdout = sys.stdout if out is None else out
    accounts: list[str] = list(args.account)
    providers: list[str] = list(args.provider)
    known = engine.account_names()
    unknown = [name for name in accounts if name not in known]
    if unknown:
        print(f"error: {unknown_accounts_message(unknown, known)}", file=sys.stderr)
        return EXIT_USAGE
    wanted = accounts_for(engine, providers, accounts)
    if wanted == [] and providers:
        # Nothing would be fetched: almost certainly a typo, not an empty fleet.
        configured = sorted({a.provider for a in engine.config.accounts})
        scope = f"none of {', '.join(map(repr, accounts))} has" if accounts else "no account has"
        print(
            f"error: {scope} provider {', '.join(map(repr, providers))}"
            f" (configured providers: {', '.join(configured) or 'none'})",
            file=sys.stderr,
        )
        return EXIT_USAGE

    def fetch() -> Snapshot:
        return select(engine.collect(accounts=wanted), providers, accounts)

    if args.best is not None:
        return _best(args, fetch(), stdout)

    try:
        if args.watch is not None:
            _watch(args, fetch, stdout, now=now, sleep=sleep)
        snapshot = fetch()
        _print(args.output, snapshot, make_console(stdout), now=now())
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return exit_code(snapshot, args.fail_below)


def _best(args: argparse.Namespace, snapshot: Snapshot, out: TextIO) -> int:
    """`--best MODEL`: the account name (or the JSON answer); 1 when there is none to use.

    `snapshot` is already narrowed to the --account / --provider selection."""
    status, doc = best_answer(snapshot, args.best, None)
    if args.output == "json":
        out.write(json.dumps(doc, indent=2) + "\n")
    if status != 200:
        print(f"error: {doc['error']['message']}", file=sys.stderr)
        return EXIT_ACCOUNT_FAILED
    for skipped in doc.get("unknown", []):
        print(f"note: {skipped['account']} not considered: its quota for {args.best!r} is "
              f"unknown ({skipped['reason']})", file=sys.stderr)
    if not doc["usable"]:
        left = doc["effective_remaining_fraction"]
        print(f"error: no account has usable quota for {args.best!r}: the best, "
              f"{doc['account']}, has {left:.1%} left"
              + (f" until {doc['reset_time']}" if doc["reset_time"] else ""), file=sys.stderr)
        return EXIT_ACCOUNT_FAILED
    if args.output != "json":
        out.write(doc["account"] + "\n")
    return EXIT_OK


def _print(output: str, snapshot: Snapshot, console: Console, *, now: float) -> None:
    if output == "json":
        # Straight to the file: rich would wrap long lines and mark up brackets.
        console.file.write(json.dumps(to_json(snapshot), indent=2) + "\n")
        console.file.flush()
    else:
        console.print(render_snapshot(snapshot, now=now))


def _watch(
    args: argparse.Namespace,
    fetch: Callable[[], Snapshot],
    out: TextIO,
    *,
    now: Callable[[], float],
    sleep: Callable[[float], None],
) -> NoReturn:
    """Redraw every interval until KeyboardInterrupt (which the caller turns into 130)."""
    interval: float = args.watch
    console = make_console(out)
    if args.output == "json" or not console.is_terminal:
        # A pipe or file cannot redraw: append one document or table per round.
        while True:
            _print(args.output, fetch(), console, now=now())
            if args.output == "table":
                console.print()
            sleep(interval)
    with Live(console=console, auto_refresh=False, transient=False) as live:
        while True:
            snapshot = fetch()
            stamp = datetime.fromtimestamp(now()).strftime("%H:%M:%S")
            header = Text(
                f"every {human_duration(interval)}, updated {stamp}; Ctrl-C to quit", style="dim"
            )
            live.update(Group(header, render_snapshot(snapshot, now=now())), refresh=True)
            sleep(interval)
