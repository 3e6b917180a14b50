"""`llm-quota-exporter serve` (the default command): serve /metrics, /probe, the
JSON API and the landing page until SIGTERM or SIGINT; SIGHUP reloads."""

from __future__ import annotations

import argparse
import ctypes
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from exporter import __version__
from exporter.cli.common import EXIT_CONFIG, config_source, load_or_report
from exporter.config import Config
from exporter.discovery import RESCAN_INTERVAL, ConfigSource
from exporter.fetch import FetchEngine
from exporter.server.app import ExporterApp
from exporter.server.lifecycle import MainLoop, Reloader
from exporter.web.config import WebConfig, WebConfigError, load_web_config
from exporter.web.httpd import make_http_server, parse_listen_address, url_base

log = logging.getLogger("exporter")


def run(args: argparse.Namespace) -> int:
    source = config_source(args.config_file)
    config = load_or_report(source)
    if config is None:
        return EXIT_CONFIG
    return serve(args, config, source=source)


# glibc's mallopt parameter for the most malloc arenas (malloc.h: M_ARENA_MAX).
M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def fewer_malloc_arenas(libc: Callable[[], Any] | None = None) -> bool:
    """At most MALLOC_ARENAS malloc arenas, as `MALLOC_ARENA_MAX=2` would set; True if set.

    glibc gives a thread that allocates its own arena (up to 8 per core), and memory
    freed in one arena is never reused by another: the scrape threads' exposition
    buffers (megabytes each at a thousand accounts) then stay as resident memory
    beside the fetch loop's. At 1,000 accounts that is a peak RSS of 172 MiB against
    123 MiB with two arenas (docs/benchmarks.md). A MALLOC_ARENA_MAX the user set
    wins; where the C library is not glibc, nothing changes.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        mallopt = (libc or _glibc)().mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_ARENA_MAX, MALLOC_ARENAS))


def _glibc() -> Any:
    return ctypes.CDLL("libc.so.6")


def listen_address_ok(address: str) -> bool:
    """Whether --web.listen-address parses; says why not on stderr."""
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
    if not listen_address_ok(args.listen_address):
        return EXIT_CONFIG
    web = None
    if args.web_config_file:
        web = _web_config(args.web_config_file)
        if web is None:
            return EXIT_CONFIG
    fewer_malloc_arenas()  # before the fetch loop and the server start their threads
    engine = FetchEngine(config)
    reloader = Reloader(source, engine) if source is not None and not demo else None
    app = ExporterApp(
        engine, telemetry_path=args.telemetry_path, demo=demo, reloader=reloader,
        lifecycle=args.enable_lifecycle,
        discovery=None if source is None else (lambda: source.report),
        links=getattr(args, "page_links", ()),
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


def _web_config(path: str) -> WebConfig | None:
    """The --web.config.file, or None once its errors are printed to stderr."""
    try:
        return load_web_config(path)
    except WebConfigError as exc:
        print(f"error: invalid web config {path}:", file=sys.stderr)
        for line in exc.lines():
            print(f"  {line}", file=sys.stderr)
        return None
