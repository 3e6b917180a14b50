"""The quota table for a terminal, built with rich.

Looks like this (colours dropped)::

    work  antigravity  Google AI Pro (g1-pro-tier)
     Quota                         Window  Remaining              Left  Resets
    ──────────────────────────────────────────────────────────────────────────────
     Gemini Models                 5h      ████████████████████    91%  in 2h 10m
     Claude and GPT models         5h      ░░░░░░░░░░░░░░░░░░░░     0%  in 1h 15m

     Gemini 3 Pro (High)                   ████████████████░░░░    78%  in 2h 48m
       model quota
     Claude Sonnet 4.5                     ░░░░░░░░░░░░░░░░░░░░     0%  in 1h 15m
       Claude and GPT models, 5h
       window; own quota 12%

    team-ci  antigravity  unknown  FAILED
      auth: token refresh failed: invalid_grant (last success 3h ago)

Models lead with their effective number: the lowest of their own quota and every
pool window they draw on; the dim line under a model names the limit that binds
(and the model's own number when that alone would look safe). Counts ("42 of 300
left") go under their pool.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TextIO

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from exporter.snapshot import AccountSnapshot, Snapshot
from exporter.timefmt import human_duration
from exporter.views import (
    NO_POOLS_TEXT,
    NO_QUOTAS_TEXT,
    Level,
    QuotaRow,
    account_rows,
    bar_fraction,
    credits_text,
    failure_text,
    last_success_text,
    reset_text,
    tier_text,
)

BAR_WIDTH = 20

LEVEL_STYLE: dict[Level, str] = {
    Level.OK: "green",
    Level.WARN: "yellow",
    Level.LOW: "red",
    Level.EXHAUSTED: "bold red",
    Level.UNKNOWN: "dim",
}


def make_console(file: TextIO, *, environ: Mapping[str, str] | None = None) -> Console:
    """A console that colours only a real terminal, and never when NO_COLOR is set.

    `color_system=None` drops every style escape (not only colours), so piped or
    NO_COLOR output is plain text; a TTY stays a terminal so `--watch` can still
    redraw in place.
    """
    env = os.environ if environ is None else environ
    isatty = getattr(file, "isatty", None)
    is_tty = bool(isatty()) if callable(isatty) else False
    # no-color.org: set and non-empty disables colour.
    no_color = bool(env.get("NO_COLOR", ""))
    return Console(
        file=file,
        force_terminal=is_tty,
        color_system="auto" if is_tty and not no_color else None,
        no_color=no_color or not is_tty,
        highlight=False,
        emoji=False,
        soft_wrap=False,
    )


def render_snapshot(snapshot: Snapshot, *, now: float) -> RenderableType:
    """All accounts, one block each, in snapshot order."""
    if not snapshot.accounts:
        return Text("no accounts selected", style="dim")
    blocks: list[RenderableType] = []
    for i, account in enumerate(snapshot.accounts):
        if i:
            blocks.append(Text(""))
        blocks.append(render_account(account, now=now))
    return Group(*blocks)


def render_account(account: AccountSnapshot, *, now: float) -> RenderableType:
    heading = Text.assemble(
        (account.account, "bold"),
        "  ",
        (account.provider, "cyan"),
        "  ",
        tier_text(account),
    )
    if not account.up:
        heading.append("  FAILED" if account.data is None else "  PARTIAL", style="bold red")
        detail = Text("  ")
        detail.append(failure_text(account), style="red")
        detail.append(f" (last success {last_success_text(account, now)})", style="dim")
        if account.data is None:
            return Group(heading, detail)
        return Group(heading, detail, _quota_table(account, now=now))
    if account.cached:
        age = human_duration(max(now - account.fetched_at, 0.0))
        heading.append(f"  cached {age} ago", style="dim")
    return Group(heading, _quota_table(account, now=now))


def _quota_table(account: AccountSnapshot, *, now: float) -> RenderableType:
    table = Table(
        box=box.SIMPLE_HEAD,  # rich swaps in ASCII when the encoding needs it
        show_edge=False,
        pad_edge=True,
        padding=(0, 1),
        collapse_padding=True,
    )
    table.add_column("Quota", overflow="fold")
    table.add_column("Window", no_wrap=True)
    table.add_column("Remaining", no_wrap=True)
    table.add_column("Left", no_wrap=True, justify="right")
    table.add_column("Resets", no_wrap=True)

    rows = account_rows(account)
    pools = [r for r in rows if r.kind == "pool"]
    models = [r for r in rows if r.kind == "model"]
    data = account.data
    if data is not None and data.pools_available is False:
        table.add_row(Text(NO_POOLS_TEXT, style="dim"), "", "", "", "")
    for row in pools:
        table.add_row(*_cells(row, now=now))
    if models and table.row_count:
        table.add_section()
    for row in models:
        table.add_row(*_cells(row, now=now))
    credits = credits_text(account)
    if not table.row_count:
        return Text(f"  {credits or NO_QUOTAS_TEXT}", style="" if credits else "dim")
    if credits:
        return Group(table, Text(f"  {credits}"))
    return table


def _cells(row: QuotaRow, *, now: float) -> tuple[RenderableType, ...]:
    style = LEVEL_STYLE[row.level]
    label = Text(row.label)
    detail = "; ".join(t for t in (row.count, row.limit, row.note) if t)
    if detail:
        label.append("\n  " + detail, style="dim")
    return (
        label,
        # A model's detail is its id: too long for the table and not a window.
        Text(row.detail if row.kind == "pool" else ""),
        Bar(1.0 if row.unlimited else row.fraction, style=style),
        Text(row.percent, style=style),
        Text(reset_text(row.reset_time, now)),
    )


class Bar:
    """A fixed-width bar; blank (not empty) when the fraction is unknown.

    Block characters on a UTF-8 console, `#` and `.` where the encoding is ASCII.
    """

    def __init__(self, fraction: float | None, *, style: str = "") -> None:
        self.fraction = fraction
        self.style = style

    def text(self, *, ascii_only: bool = False) -> Text:
        """
        >>> Bar(0.5).text(ascii_only=True).plain
        '##########..........'
        """
        if self.fraction is None:
            return Text(" " * BAR_WIDTH)
        full, empty = ("#", ".") if ascii_only else ("\u2588", "\u2591")
        filled = round(bar_fraction(self.fraction) * BAR_WIDTH)
        # A sliver left must not look exhausted.
        if filled == 0 and self.fraction > 0:
            filled = 1
        text = Text(full * filled, style=self.style)
        text.append(empty * (BAR_WIDTH - filled), style="dim")
        return text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.text(ascii_only=options.ascii_only)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(BAR_WIDTH, BAR_WIDTH)
