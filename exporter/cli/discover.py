"""`llm-quota-exporter discover`: the accounts other tools signed in on this machine.

Reads files only: no network, and no write but the config `--write-config` asks
for, which never replaces a file unless `--force`, and never goes where another
tool keeps its credentials.

Exit codes:
    0    at least one account this version can serve was found
    1    none was found (the report says where it looked)
    2    usage error: the file to write exists, or cannot be written there
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from exporter.discovery import Env, Scanner
from exporter.discovery.render import config_text, report_yaml, table
from exporter.discovery.scan import Report, with_readable_names

EXIT_OK = 0
EXIT_NONE_FOUND = 1
EXIT_USAGE = 2


def run(args: argparse.Namespace, env: Env | None = None) -> int:
    env = env or Env.current()
    scanner = Scanner(env)
    report = scanner.scan()
    if args.names == "email":
        report = with_readable_names(report)
    sys.stdout.write(table(report) if args.output == "table" else report_yaml(report))
    if args.write_config is not None:
        code = _write_config(Path(args.write_config), report, env, scanner, force=args.force)
        if code != EXIT_OK:
            return code
    return EXIT_OK if report.served else EXIT_NONE_FOUND


def _write_config(path: Path, report: Report, env: Env, scanner: Scanner, *,
                  force: bool) -> int:
    if not report.served:
        print(f"error: no account to serve was found; {path} not written", file=sys.stderr)
        return EXIT_NONE_FOUND
    target = Path(os.path.realpath(path))
    for location in scanner.locations:
        for place in location.places(env):
            where = Path(os.path.realpath(place.path))
            if target == where or where in target.parents:
                print(f"error: {path} is where {location.tool} keeps its credentials; "
                      "write the config somewhere else", file=sys.stderr)
                return EXIT_USAGE
    text = config_text(report, env.environ, path=str(path),
                       date=datetime.now(UTC).strftime("%Y-%m-%d"))
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        # 0600: the file names credential files, and their names may hold an email.
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        print(f"error: {path} exists; pass --force to replace it", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"Wrote {len(report.served)} account(s) to {path}. Check it with: "
          f"llm-quota-exporter check-config --config.file {path}", file=sys.stderr)
    return EXIT_OK
