"""Every command's flags, in one parser, as `--help` shows them.

`llm-quota-exporter --config.file x` with no command means `serve`, as with other
exporters.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from exporter import __version__, logs
from exporter.cli.common import DEFAULT_CONFIG
from exporter.discovery import RESCAN_INTERVAL
from exporter.timefmt import parse_duration
from exporter.web.httpd import READ_TIMEOUT

DEFAULT_LISTEN = ":10977"
COMMANDS = ("serve", "demo", "quota", "check-config", "discover")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-quota-exporter",
        description="Prometheus exporter for LLM subscription quotas.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = sub.add_parser("serve", help="serve /metrics for the configured accounts (default)")
    _common(serve, discovered=True)
    _web(serve)
    demo = sub.add_parser("demo", help="serve simulated demo accounts; no accounts needed")
    _common(demo, config=False)
    _web(demo)
    demo.add_argument(
        "--web.page-link", dest="page_links", action="append", default=[], type=_page_link,
        metavar="TEXT=URL", help="one more link in the landing page's navigation, e.g. "
        "Prometheus=http://127.0.0.1:9090 (repeatable; scripts/demo --stack sets them)",
    )
    quota = sub.add_parser("quota", help="print the quota table in a terminal")
    # The table already shows failed accounts; per-account warnings would repeat it.
    _common(quota, log_level="error", discovered=True)
    add_quota_arguments(quota)
    check = sub.add_parser("check-config", help="validate the config file and exit")
    _common(check)
    discover = sub.add_parser(
        "discover", help="list the accounts other tools signed in on this machine")
    _common(discover, config=False, log_level="warn")
    add_discover_arguments(discover)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    args = list(argv)
    if not args or (args[0] not in COMMANDS and args[0] not in ("-h", "--help", "--version")):
        args.insert(0, "serve")
    return build_parser().parse_args(args)


def _common(
    parser: argparse.ArgumentParser, *, config: bool = True, log_level: str = "info",
    discovered: bool = False,
) -> None:
    """`discovered`: without --config.file and without ./llm-quota-exporter.yml, run on
    the accounts other tools signed in (zero configuration)."""
    if config:
        parser.add_argument(
            "--config.file", dest="config_file", default=None if discovered else DEFAULT_CONFIG,
            metavar="PATH",
            help=f"YAML config file (default: {DEFAULT_CONFIG}"
                 + (" if it exists, else the accounts `discover` finds)" if discovered else ")"),
        )
    parser.add_argument(
        "--log.level", dest="log_level", choices=logs.LEVELS, default=log_level,
        help=f"only log messages of this severity or above (default: {log_level})",
    )
    parser.add_argument(
        "--log.format", dest="log_format", choices=("logfmt", "json"), default="logfmt",
        help="log line format (default: logfmt)",
    )


def _web(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--web.listen-address", dest="listen_address", default=DEFAULT_LISTEN,
        metavar="ADDRESS", help=f"host:port to listen on (default: {DEFAULT_LISTEN})",
    )
    parser.add_argument(
        "--web.telemetry-path", dest="telemetry_path", default="/metrics", metavar="PATH",
        help="path under which metrics are exposed (default: /metrics)",
    )
    parser.add_argument(
        "--web.config.file", dest="web_config_file", default=None, metavar="PATH",
        help="exporter-toolkit web config: TLS and basic auth (optional)",
    )
    parser.add_argument(
        "--web.enable-lifecycle", dest="enable_lifecycle", action="store_true",
        help="allow POST /-/reload (without it: 403); SIGHUP always reloads",
    )
    parser.add_argument(
        "--web.read-timeout", dest="read_timeout", type=_positive_duration,
        default=READ_TIMEOUT, metavar="DURATION",
        help=f"time a client has to send a whole request; idle connections are closed "
             f"after it (default: {READ_TIMEOUT:g}s)",
    )
    # How often discovered accounts are looked for again; for tests, so not in --help.
    parser.add_argument(
        "--discovery.rescan-interval", dest="rescan_interval", type=_positive_duration,
        default=RESCAN_INTERVAL, help=argparse.SUPPRESS,
    )


def add_quota_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", choices=("table", "json"), default="table",
        help="table for people (default), json for scripts (the /api/v1/quota schema)",
    )
    parser.add_argument(
        "--watch", type=_interval, default=None, metavar="INTERVAL",
        help="fetch again every INTERVAL (e.g. 30s, 5m) and redraw until Ctrl-C",
    )
    parser.add_argument(
        "--account", action="append", default=[], metavar="NAME",
        help="only this account (repeatable)",
    )
    parser.add_argument(
        "--provider", action="append", default=[], metavar="NAME",
        help="only accounts of this provider (repeatable), e.g. antigravity",
    )
    parser.add_argument(
        "--best", default=None, metavar="MODEL",
        help="print the account with the most quota left for MODEL (a model id, or a pool "
             "such as opus or premium-interactions) and exit 0; exit 1 when none has any",
    )
    parser.add_argument(
        "--fail-below", type=_fraction, default=None, metavar="FRACTION",
        help="exit 3 when a known quota is below FRACTION (0..1); ignored with --watch",
    )


def add_discover_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output", choices=("table", "yaml"), default="table",
        help="table for people (default), yaml for scripts; file names are shown with "
             "emails masked either way",
    )
    parser.add_argument(
        "--write-config", dest="write_config", default=None, metavar="FILE",
        help="also write a config listing the accounts found, to rename, drop or tune",
    )
    parser.add_argument(
        "--force", action="store_true", help="let --write-config replace an existing FILE",
    )
    parser.add_argument(
        "--names", choices=("hash", "email"), default="hash",
        help="account names: <provider>-<hash> (default), or with the account's email or "
             "GitHub login in them (your opt-in: the email then shows in every label)",
    )


def _page_link(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not (sep and name and url.startswith(("http://", "https://"))):
        raise argparse.ArgumentTypeError(f"{text!r} is not TEXT=http(s)://...")
    return url, name


def _positive_duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (e.g. 500ms, 10s, 1m)") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than zero")
    return seconds


def _interval(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than zero")
    return seconds


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is outside 0..1 (use e.g. 0.1 for 10%)")
    return value
