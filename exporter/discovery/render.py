"""A discovery report as people read it (a table), as scripts read it (YAML), and as
a config file to edit (`discover --write-config`).

Everything shown comes from `Report`'s already masked fields: `~` for the home
folder, `<email>` for an email in a file name. Only the written config names the
files as they are, because it must open them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from exporter.discovery.scan import Found, Report
from exporter.providers import PACKAGES

# Where zero-config mode and written configs take an OAuth client from, per provider.
CLIENT_VARS = {
    name: package.discovery.client_vars
    for name, package in PACKAGES.items()
    if package.discovery.client_vars is not None
}


def oauth_client_entry(provider: str, environ: Mapping[str, str]) -> dict[str, str] | None:
    """`oauth_client` as `${VAR}` references, when the environment has the client id."""
    id_var, secret_var = CLIENT_VARS.get(provider, ("", ""))
    if not id_var or not environ.get(id_var):
        return None
    client = {"client_id": f"${{{id_var}}}"}
    if environ.get(secret_var):
        client["client_secret"] = f"${{{secret_var}}}"
    return client


def account_entry(found: Found, environ: Mapping[str, str]) -> dict[str, Any]:
    """The config form of a discovered account."""
    credentials: dict[str, str] = {"file": str(found.path)}
    if found.user is not None:
        credentials["user"] = found.user
    entry: dict[str, Any] = {"name": found.name, "provider": found.provider,
                             "credentials": credentials}
    client = oauth_client_entry(found.provider, environ) if found.needs_client else None
    if client is not None:
        entry["oauth_client"] = client
    if "@" in found.name:  # the user asked for emails in names: the label shows it anyway
        entry["expose_email"] = True
    return entry


# -- for people -----------------------------------------------------------------------


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
            for r in rows]


def not_served(report: Report) -> list[str]:
    """One line per file found but not served, with why."""
    lines = []
    for a in report.accounts:
        if not a.served:
            lines.append(f"{a.shown} ({a.name}): {a.why_not}")
        lines.extend(f"{other}: same account as {a.name} ({a.shown})" for other in a.also)
    lines.extend(f"{s.shown}: {s.reason}" for s in report.skipped)
    return lines


def looked(report: Report) -> list[str]:
    """One indented line per place looked at, with what was there."""
    return [f"  {line}" for line in _columns(
        [(lk.tool, lk.shown, f"({lk.how})", lk.result or "found") for lk in report.looked])]


def nothing_found(report: Report) -> str:
    """What to do when no account was found."""
    tools = "\n".join(f"  {tool}: {how}" for tool, how in report.sign_in)
    return (
        "No accounts found on this machine. Sign in with one of these tools:\n"
        f"{tools}\n"
        "A running exporter picks new accounts up within a minute. Or write a config\n"
        "by hand (docs/configuration.md) and pass it with --config.file."
    )


def table(report: Report) -> str:
    served = report.served
    out = [f"Found {len(served)} account(s) to serve (files only read; no network used)."]
    if served:
        rows = [("ACCOUNT", "PROVIDER", "FROM", "TOKEN", "FILE")]
        rows += [(a.name, a.provider, a.tool, a.token, a.shown) for a in served]
        out += ["", *_columns(rows)]
    skipped = not_served(report)
    if skipped:
        out += ["", "Not served:", *(f"  {line}" for line in skipped)]
    out += ["", "Looked in:", *looked(report)]
    if not served:
        out += ["", nothing_found(report)]
    else:
        out += ["", "`llm-quota-exporter` with no config serves these; "
                    "`discover --write-config FILE` writes them to a config to edit."]
    return "\n".join(out) + "\n"


def report_yaml(report: Report) -> str:
    """The report for scripts, with the same masked paths as the table."""
    doc = {
        "accounts": [
            {"name": a.name, "provider": a.provider, "tool": a.tool, "file": a.shown,
             "token": a.token, "served": a.served,
             **({"not_served_because": a.why_not} if not a.served else {}),
             **({"same_account_in": list(a.also)} if a.also else {})}
            for a in report.accounts
        ],
        "skipped": [{"file": s.shown, "tool": s.tool, "reason": s.reason}
                    for s in report.skipped],
        "looked": [{"tool": lk.tool, "place": lk.shown, "how": lk.how,
                    "result": lk.result or "found"} for lk in report.looked],
    }
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)


# -- the config to edit ---------------------------------------------------------------

_HEADER = """\
# llm-quota-exporter config, written by `llm-quota-exporter discover` on {date}.
#
# Every account below was found on this machine. The exporter only reads the files
# named here; it never writes them. Rename an account (its name is the `account`
# label of every series), drop it, or tune it with the keys docs/configuration.md
# lists. Check it with: llm-quota-exporter check-config --config.file {path}
#
# The file names below may contain your email address (tools name their files after
# the account): keep this config private.
#
# Uncomment to also serve accounts signed in later (an account listed here wins
# over a discovered one for the same file):
# discover: true
"""

_CLIENT_HINT = """\
    # {why}, give the OAuth client of the tool that signed the account in
    # (this exporter ships none):
    # oauth_client:
    #   client_id: ${{{id_var}}}
    #   client_secret: ${{{secret_var}}}
"""


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(value, ensure_ascii=False)


def config_text(report: Report, environ: Mapping[str, str], *, date: str, path: str) -> str:
    """A config listing every served account, commented so it explains itself; the
    accounts not served are named in comments with why."""
    out = [_HEADER.format(date=date, path=path), "accounts:"]
    for a in report.served:
        out.append(f"  # {a.provider} account from {a.tool}; its token: {a.token}.")
        out.extend(f"  # The same account is also in {other} (left out)." for other in a.also)
        entry = account_entry(a, environ)
        out.append(f"  - name: {entry['name']}")
        out.append(f"    provider: {entry['provider']}")
        out.append("    credentials:")
        out.extend(f"      {k}: {_quoted(v)}" for k, v in entry["credentials"].items())
        if "oauth_client" in entry:
            out.append("    oauth_client:  # from the environment where the exporter runs")
            out.extend(f"      {k}: {_quoted(v)}" for k, v in entry["oauth_client"].items())
        elif a.needs_client:
            id_var, secret_var = CLIENT_VARS[a.provider]
            why = (f"{a.tool} keeps only a refresh token here: to get access tokens"
                   if a.token.startswith("refresh token only") else
                   f"To refresh its token in memory when {a.tool} is not running")
            out.append(_CLIENT_HINT.format(why=why, id_var=id_var,
                                           secret_var=secret_var).rstrip("\n"))
        if entry.get("expose_email"):
            out.append("    expose_email: true  # its name shows the email anyway")
    left = [a for a in report.accounts if not a.served]
    if left:
        out.append("")
        out.append("# Found but not listed:")
        out.extend(f"#   {a.name} ({a.provider}, {a.tool}): {a.why_not}" for a in left)
    return "\n".join(out) + "\n"
