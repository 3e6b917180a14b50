"""The landing page at `/`: links, and the current quota table per account.

One self-contained HTML5 document: inline CSS, no JavaScript, no external
assets (it must work on an air-gapped host and on a phone). Every string that
comes from config or upstream goes through `html.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from exporter import __version__
from exporter.discovery.render import not_served
from exporter.quota import EXHAUSTED_AT
from exporter.snapshot import AccountSnapshot, Snapshot
from exporter.timefmt import rfc3339
from exporter.views import (
    LOW,
    NO_POOLS_TEXT,
    NO_QUOTAS_TEXT,
    WARN,
    QuotaRow,
    account_rows,
    bar_fraction,
    credits_text,
    failure_text,
    last_success_text,
    reset_text,
    tier_text,
)

if TYPE_CHECKING:
    from exporter.discovery import Report

DEMO_BANNER = "DEMO DATA (simulated upstream)"

_CSS = """
:root { color-scheme: light dark; --fg: #1d2127; --muted: #5f6b7a; --bg: #f6f7f9;
  --card: #fff; --line: #dde1e6; --track: #e6e9ed; --ok: #2e9e4f; --warn: #d9a400;
  --low: #d63a3a; --link: #1f5fbf; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e8eb; --muted: #9aa5b1; --bg: #15181c; --card: #1e2227;
    --line: #343a42; --track: #343a42; --link: #7fb0ff; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1rem; font: 15px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 60rem; margin: 0 auto; }
h1 { font-size: 1.35rem; margin: 0 0 .25rem; }
nav { margin: 0 0 1rem; color: var(--muted); }
nav a { margin-right: 1rem; white-space: nowrap; }
a { color: var(--link); }
.demo { background: #ffd33d; color: #1d2127; border: 2px solid #b08800; font-weight: 700;
  text-align: center; padding: .6rem; margin: 0 0 1rem; border-radius: 6px;
  letter-spacing: .04em; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: .75rem 1rem; margin: 0 0 1rem; }
section h2 { font-size: 1.1rem; margin: 0; overflow-wrap: anywhere; }
.meta { color: var(--muted); margin: .1rem 0 .5rem; overflow-wrap: anywhere; }
.badge { display: inline-block; font-size: .75rem; font-weight: 700; padding: 0 .45rem;
  border-radius: 4px; vertical-align: middle; margin-left: .4rem; }
.badge.failed { background: var(--low); color: #fff; }
.badge.cached { border: 1px solid var(--muted); color: var(--muted); font-weight: 400; }
.error { color: var(--low); overflow-wrap: anywhere; margin: .25rem 0; }
.note { color: var(--muted); margin: .25rem 0; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .3rem .4rem; border-top: 1px solid var(--line);
  vertical-align: middle; }
th { font-size: .8rem; font-weight: 600; color: var(--muted); border-top: 0; }
th.group { padding-top: .6rem; }
td.name { overflow-wrap: anywhere; }
td.name small { display: block; color: var(--muted); }
td.name small.limit { color: var(--fg); }
td.bar { width: 40%; }
.pct { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums;
  width: 4.5rem; }
td.reset { white-space: nowrap; width: 6.5rem; }
.track { height: .7rem; background: var(--track); border-radius: .35rem; overflow: hidden; }
.fill { height: 100%; border-radius: .35rem; min-width: 2px; }
.fill.empty { min-width: 0; }
.ok .fill { background: var(--ok); }
.warn .fill { background: var(--warn); }
.low .fill, .exhausted .fill { background: var(--low); }
.low .pct, .exhausted .pct { color: var(--low); font-weight: 600; }
.exhausted .track { box-shadow: inset 0 0 0 1px var(--low); }
.unknown .track { background: repeating-linear-gradient(45deg, var(--track) 0 6px,
  transparent 6px 12px); }
.unknown .pct { color: var(--muted); font-style: italic; }
.tag { display: block; font-size: .7rem; font-weight: 700; font-style: normal;
  text-transform: uppercase; letter-spacing: .03em; }
.tag.exhausted { color: #fff; background: var(--low); border-radius: 3px; padding: 0 .2rem;
  text-align: center; }
.tag.overage { color: var(--low); }
footer { color: var(--muted); font-size: .85rem; margin-top: 1rem; }
@media (max-width: 34rem) {
  body { padding: .5rem; font-size: 14px; }
  section { padding: .5rem .6rem; }
  th, td { padding: .25rem .25rem; }
  td.bar { width: 28%; }
  td.pct { width: 3.5rem; }
  td.reset { width: auto; }
  td.name small.id { display: none; }
}
""".strip()


def render_page(
    snapshot: Snapshot, *, telemetry_path: str = "/metrics", now: float, demo: bool = False,
    discovery: Report | None = None, links: Sequence[tuple[str, str]] = (),
) -> str:
    """The whole landing page as a string; `now` drives the reset countdowns.
    `discovery`: when serving discovered accounts, the files used and places looked.
    `links`: more (href, text) for the navigation, e.g. the demo stack's Prometheus."""
    nav_links = [
        (telemetry_path, "Metrics"),
        ("/api/v1/quota", "JSON API"),
        ("/-/healthy", "Health"),
        *links,
    ]
    nav = " ".join(f'<a href="{escape(href)}">{escape(text)}</a>' for href, text in nav_links)
    banner = f'<p class="demo" role="status">{escape(DEMO_BANNER)}</p>\n' if demo else ""
    if snapshot.accounts:
        body = "\n".join(_account_section(a, now=now) for a in snapshot.accounts)
    elif discovery is not None:
        body = '<p class="note">No accounts yet: see Discovered accounts below.</p>'
    else:
        body = '<p class="note">No accounts configured.</p>'
    if discovery is not None:
        body += "\n" + _discovery_section(discovery)
    title = "LLM quota exporter" + (" (demo)" if demo else "")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
{_CSS}
</style>
</head>
<body>
<main>
<h1>{escape(title)}</h1>
<nav>{nav}</nav>
{banner}{body}
<footer>Snapshot taken {escape(rfc3339(snapshot.taken_at))}. Green above {WARN:.0%} left,
yellow above {LOW:.0%}, red at {LOW:.0%} or less (the low alert), EXHAUSTED at
{EXHAUSTED_AT:.0%} or less. Grey stripes and UNKNOWN: upstream sent no number and
nothing else tells it, which is not the same as empty. llm-quota-exporter
{escape(__version__)}.</footer>
</main>
</body>
</html>
"""


def _account_section(account: AccountSnapshot, *, now: float) -> str:
    badges = ""
    if not account.up:
        badges += ('<span class="badge failed">FAILED</span>' if account.data is None
                   else '<span class="badge failed">PARTIAL</span>')
    elif account.cached:
        badges += '<span class="badge cached">cached</span>'
    head = (
        f"<h2>{escape(account.account)}{badges}</h2>\n"
        f'<p class="meta">{escape(account.provider)} · tier {escape(tier_text(account))}</p>'
    )
    if not account.up:
        last = last_success_text(account, now)
        failure = (
            f'<p class="error">{escape(failure_text(account))}</p>\n'
            f'<p class="note">Last success: {escape(last)}</p>'
        )
        if account.data is None:
            return f'<section class="account down">\n{head}\n{failure}\n</section>'
        head += "\n" + failure
    return f'<section class="account">\n{head}\n{_quota_table(account, now=now)}\n</section>'


def _quota_table(account: AccountSnapshot, *, now: float) -> str:
    rows = account_rows(account)
    pools = [r for r in rows if r.kind == "pool"]
    models = [r for r in rows if r.kind == "model"]
    no_pools = account.data is not None and account.data.pools_available is False
    credits = credits_text(account)
    credit_line = f'\n<p class="note credits">{escape(credits)}</p>' if credits else ""
    if not rows:
        note = NO_POOLS_TEXT + "; " + NO_QUOTAS_TEXT if no_pools else NO_QUOTAS_TEXT
        if credits:
            return credit_line.lstrip("\n")
        return f'<p class="note">{escape(note)}</p>'
    parts = ["<table>"]
    if pools or no_pools:
        parts.append(_group_header("Pool"))
        if no_pools:
            parts.append(f'<tr><td class="note" colspan="4">{escape(NO_POOLS_TEXT)}</td></tr>')
        parts.extend(_row(r, now=now) for r in pools)
    if models:
        parts.append(_group_header("Model", "Effective quota"))
        parts.extend(_row(r, now=now) for r in models)
    parts.append("</table>")
    return "\n".join(parts) + credit_line


def _group_header(first: str, remaining: str = "Remaining") -> str:
    return (
        f'<tr><th class="group" scope="col">{first}</th><th scope="col">{remaining}</th>'
        '<th scope="col" class="pct">Left</th><th scope="col">Resets</th></tr>'
    )


# At a glance, without colour: an empty quota and an unknown one must never look alike.
_TAGS = {
    "exhausted": '<span class="tag exhausted">exhausted</span>',
    "overage": '<span class="tag overage">overage</span>',
}


def _row(row: QuotaRow, *, now: float) -> str:
    pct = row.percent
    shown = 1.0 if row.unlimited else row.fraction
    width = f"{bar_fraction(shown) * 100:.1f}%"
    fill_class = "fill empty" if shown is None or shown <= 0 else "fill"
    # Model ids are long and secondary: hidden on narrow screens. The binding limit
    # and notes say why a number is what it is.
    if row.kind == "pool":
        detail = f"<small>{escape(row.detail)} window</small>"
    elif row.detail != row.label:
        detail = f'<small class="id">{escape(row.detail)}</small>'
    else:  # upstream gave no display name: the id is already the label
        detail = ""
    if row.limit:
        detail += f'<small class="limit">limited by {escape(row.limit)}</small>'
    for extra in (row.count, row.note):
        if extra:
            detail += f'<small class="note">{escape(extra)}</small>'

    # An unknown row needs no tag: its percent reads "unknown" over a striped bar.
    tag = _TAGS.get("overage" if row.overage else row.level.value, "")
    reset = escape(reset_text(row.reset_time, now))
    if row.reset_time is not None:
        stamp = escape(rfc3339(row.reset_time))
        reset = f'<time datetime="{stamp}" title="{stamp}">{reset}</time>'
    return (
        f'<tr class="{row.level.value}">'
        f'<td class="name">{escape(row.label)}{detail}</td>'
        f'<td class="bar"><div class="track" aria-hidden="true">'
        f'<div class="{fill_class}" style="width: {width}"></div></div></td>'
        f'<td class="pct">{escape(pct)}{tag}</td>'
        f'<td class="reset">{reset}</td></tr>'
    )


def _discovery_section(report: Report) -> str:
    """The accounts found on this machine: files used, files left out and why, places
    looked. Paths are as `Report` holds them: `~/...`, emails masked."""
    served = report.served
    parts = ['<section class="discovery">', "<h2>Discovered accounts</h2>"]
    if served:
        parts.append('<p class="meta">Found on this machine; their files are only read, '
                     "never written.</p>")
        rows = "".join(
            f"<tr><td>{escape(a.name)}</td><td>{escape(a.provider)}</td>"
            f"<td>{escape(a.tool)}</td><td class=\"name\">{escape(a.shown)}</td>"
            f"<td>{escape(a.token)}</td></tr>"
            for a in served)
        parts.append('<table><tr><th scope="col">Account</th><th scope="col">Provider</th>'
                     '<th scope="col">From</th><th scope="col">File</th>'
                     f'<th scope="col">Token</th></tr>{rows}</table>')
    else:
        tools = "".join(f"<li>{escape(tool)}: <code>{escape(how)}</code></li>"
                        for tool, how in report.sign_in)
        parts.append('<p class="error">No accounts found yet. Sign in with one of these '
                     f"tools; this page shows the account within a minute:</p><ul>{tools}</ul>"
                     '<p class="note">Or write a config file and start the exporter with '
                     "<code>--config.file</code>.</p>")
    left = not_served(report)
    if left:
        items = "".join(f"<li>{escape(line)}</li>" for line in left)
        parts.append(f'<p class="note">Not served:</p><ul class="note">{items}</ul>')
    looked = "".join(
        f"<tr><td>{escape(lk.tool)}</td><td class=\"name\">{escape(lk.shown)}</td>"
        f"<td>{escape(lk.how)}</td><td>{escape(lk.result or 'found')}</td></tr>"
        for lk in report.looked)
    parts.append(f'<details{"" if served else " open"}><summary>Places looked '
                 f"({len(report.looked)})</summary><table>{looked}</table></details>")
    parts.append('<p class="note">Looked for again every minute. '
                 "<code>llm-quota-exporter discover --write-config FILE</code> writes these "
                 "accounts to a config you can edit.</p>")
    parts.append("</section>")
    return "\n".join(parts)
