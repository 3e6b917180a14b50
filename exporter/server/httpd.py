"""The HTTP server: threads, listen address, TLS and basic auth from the web config."""

from __future__ import annotations

import logging
import socket
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from exporter.server.app import ExporterApp
from exporter.server.webconfig import WebConfig
from exporter.server.webserver import TLSMixin, enable_tls, wrap_wsgi

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http " + format, *args)


class ThreadingWSGIServer(TLSMixin, ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def parse_listen_address(address: str) -> tuple[str, int]:
    """`:10977`, `0.0.0.0:10977`, `[::1]:10977`, `localhost:10977` -> (host, port)."""
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ValueError(f"listen address {address!r} has no port (use host:port or :port)")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(
            f"listen address {address!r}: port {port_text!r} is not a number"
        ) from None
    if not 0 <= port <= 65535:
        raise ValueError(f"listen address {address!r}: port {port} is out of range")
    host = host.strip("[]")
    return host or "0.0.0.0", port


def make_http_server(
    app: ExporterApp, address: str, web: WebConfig | None = None
) -> ThreadingWSGIServer:
    """The threaded server; with a web config, basic auth on every path but
    /-/healthy, and TLS."""
    host, port = parse_listen_address(address)
    web = web or WebConfig()

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = make_server(
        host, port, wrap_wsgi(app, web), server_class=Server, handler_class=_QuietHandler
    )
    assert isinstance(server, ThreadingWSGIServer)
    enable_tls(server, web)
    return server
