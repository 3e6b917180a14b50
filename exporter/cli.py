"""Argument parsing and subcommands: serve (default), demo, quota, check-config, discover."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from exporter import __version__, logs
from exporter.config import Config, ConfigError
from exporter.discovery import RESCAN_INTERVAL, ConfigSource
from exporter.fetch import FetchEngine
from exporter.providers import load_config
from exporter.server.app import ExporterApp
from exporter.server.httpd import READ_TIMEOUT, make_http_server, parse_listen_address, url_base
from exporter.server.lifecycle import MainLoop, Reloader
from exporter.server.webconfig import WebConfigError, load_web_config
from exporter.timefmt import parse_duration

log = logging.getLogger("exporter")

DEFAULT_LISTEN = ":10977"
DEFAULT_CONFIG = "llm-quota-exporter.yml"
COMMANDS = ("serve", "demo", "quota", "check-config", "discover")
EXIT_CONFIG = 2


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


def _positive_duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (e.g. 500ms, 10s, 1m)") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than zero")
    return seconds


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
    quota = sub.add_parser("quota", help="print the quota table in a terminal")
    # The table already shows failed accounts; per-account warnings would repeat it.
    _common(quota, log_level="error", discovered=True)
    from exporter.quota_cmd import add_quota_arguments

    add_quota_arguments(quota)
    check = sub.add_parser("check-config", help="validate the config file and exit")
    _common(check)
    discover = sub.add_parser(
        "discover", help="list the accounts other tools signed in on this machine")
    _common(discover, config=False, log_level="warn")
    from exporter.discover_cmd import add_discover_arguments

    add_discover_arguments(discover)
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    args = list(argv)
    # `llm-quota-exporter --config.file x` means `serve`, like other exporters.
    if not args or (args[0] not in COMMANDS and args[0] not in ("-h", "--help", "--version")):
        args.insert(0, "serve")
    return build_parser().parse_args(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logs.setup(args.log_level, args.log_format)
    if args.command == "check-config":
        return check_config(args.config_file)
    if args.command == "demo":
        return run_demo(args)
    if args.command == "discover":
        from exporter.discover_cmd import run_discover

        return run_discover(args)
    source = config_source(args.config_file)
    config = _load_or_report(source)
    if config is None:
        return EXIT_CONFIG
    if args.command == "quota":
        return _quota(args, source, config)
    return serve(args, config, source=source)


def config_source(config_file: str | None) -> ConfigSource:
    """--config.file, else ./llm-quota-exporter.yml when it exists, else discovery."""
    if config_file is None and Path(DEFAULT_CONFIG).exists():
        config_file = DEFAULT_CONFIG
    return ConfigSource(config_file)


def _load_or_report(source: ConfigSource) -> Config | None:
    try:
        return source.load()
    except ConfigError as exc:
        _report(source.config_file, exc)
        return None


def _report(path: object, exc: ConfigError) -> None:
    print(f"error: invalid config {path}:", file=sys.stderr)
    for line in exc.lines():
        print(f"  {line}", file=sys.stderr)


def _quota(args: argparse.Namespace, source: ConfigSource, config: Config) -> int:
    from exporter.discovery.render import looked, not_served, nothing_found
    from exporter.quota_cmd import EXIT_USAGE, run_quota

    report = source.report
    if source.config_file is None and report is not None:
        if not config.accounts:
            print(f"No config file ({DEFAULT_CONFIG} here, or --config.file). Looked for "
                  "accounts in:", *looked(report), nothing_found(report), sep="\n",
                  file=sys.stderr)
            return EXIT_USAGE
        if args.output == "table":
            print(f"No config file: the {len(report.served)} account(s) found on this "
                  "machine (llm-quota-exporter discover explains):", file=sys.stderr)
            for found in report.served:
                print(f"  {found.name}  {found.shown}", file=sys.stderr)
            for line in not_served(report):
                print(f"  not served: {line}", file=sys.stderr)
    engine = FetchEngine(config)
    try:
        return run_quota(args, engine)
    finally:
        engine.close()


def check_config(path: str) -> int:
    # The file only: which accounts discovery would add is `discover`'s to say.
    try:
        config = load_config(path)
    except ConfigError as exc:
        _report(path, exc)
        return EXIT_CONFIG
    names = ", ".join(a.name for a in config.accounts)
    print(f"{path}: OK, {len(config.accounts)} account(s)" + (f": {names}" if names else "")
          + ("; discover: true adds the accounts found on this machine "
             "(llm-quota-exporter discover lists them)" if config.discover else ""))
    return 0


def _listen_address_ok(address: str) -> bool:
    try:
        parse_listen_address(address)
    except ValueError as exc:
        print(f"error: --web.listen-address: {exc}", file=sys.stderr)
        return False
    return True


def serve(
    args: argparse.Namespace, config: Config, *, demo: bool = False,
    banner: Callable[[tuple[str, int], str], str] | None = None,
    source: ConfigSource | None = None,
) -> int:
    """Serve until SIGTERM or SIGINT; `banner(bound address, URL that reaches it)` is
    printed once listening."""
    if not _listen_address_ok(args.listen_address):
        return EXIT_CONFIG
    web = None
    if args.web_config_file:
        try:
            web = load_web_config(args.web_config_file)
        except WebConfigError as exc:
            print(f"error: invalid web config {args.web_config_file}:", file=sys.stderr)
            for line in exc.lines():
                print(f"  {line}", file=sys.stderr)
            return EXIT_CONFIG
    engine = FetchEngine(config)
    reloader = Reloader(source, engine) if source is not None and not demo else None
    app = ExporterApp(
        engine, telemetry_path=args.telemetry_path, demo=demo, reloader=reloader,
        lifecycle=args.enable_lifecycle,
        discovery=None if source is None else (lambda: source.report),
    )
    try:
        server = make_http_server(app, args.listen_address, web, read_timeout=args.read_timeout)
    except OSError as exc:
        print(f"error: cannot listen on {args.listen_address}: {exc.strerror}", file=sys.stderr)
        engine.close()
        return 1
    loop = MainLoop(reloader, tick=None if reloader is None else reloader.rescan,
                    tick_interval=getattr(args, "rescan_interval", RESCAN_INTERVAL))
    loop.install()
    host, port = server.address
    log.info(
        "listening",
        extra={"kv": {"address": f"{host}:{port}", "accounts": str(len(config.accounts)),
                      "version": __version__}},
    )
    if banner is not None:
        base = url_base(server.address, "https" if server.tls else "http")
        print(banner(server.address, base), flush=True)
    server.start()
    try:
        loop.run()
    finally:
        app.ready = False
        server.stop()
        engine.close()
        log.info("stopped")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from exporter.simulator import Simulator, demo_accounts

    # Refuse a bad address before the simulator starts, as `serve` does.
    if not _listen_address_ok(args.listen_address):
        return EXIT_CONFIG
    sim = Simulator(demo_accounts()).start()

    def banner(address: tuple[str, int], base: str) -> str:
        host, port = address
        bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if host in ("0.0.0.0", "::"):
            bound += ", every interface"
        return (
            "llm-quota-exporter DEMO: simulated accounts on a fake upstream, not real data.\n"
            f"  listening on:       {bound}\n"
            f"  simulated upstream: {sim.base_url}\n"
            f"  landing page:       {base}/\n"
            f"  metrics:            {base}{args.telemetry_path}\n"
            f"  JSON API:           {base}/api/v1/quota\n"
            "Press Ctrl-C to stop."
        )

    try:
        with tempfile.TemporaryDirectory(prefix="llm-quota-demo-") as tmp:
            config_path = Path(tmp) / "demo.yml"
            data = sim.exporter_config(Path(tmp))
            config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            return serve(args, load_config(config_path), demo=True, banner=banner)
    finally:
        sim.stop()
