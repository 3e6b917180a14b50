"""The simulator's loopback HTTP server: routes upstream calls to `SimState`, applies faults."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from exporter.simkit.common import ANSWERED_FAULTS, Fault, Reply, json_error, json_reply
from exporter.simulator.state import TOKEN_METHOD, SimState
from exporter.simulator.upstreams import UPSTREAMS, SimUpstream, token_upstream


class Served(SimState):
    """What the server asks of the `Simulator` above it: its live state, a latency and
    the `/_sim/` controls (named here so that the server does not import it)."""

    latency: float

    def control(self, verb: str, path: str, body: bytes) -> Reply:
        raise NotImplementedError

logger = logging.getLogger("exporter.simulator")

LARGE_BODY_BYTES = 20 * 1024 * 1024
_HTML = (b"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>Sign in - Google "
         b"Accounts</title></head><body><p>Please sign in to continue.</p></body></html>\n")
def apply_fault(fault: Fault | None, method: str, reply: Reply, upstream: SimUpstream) -> Reply:
    """What the client gets instead of `reply` (the honest answer) under `fault`."""
    if fault is None or fault.kind in ANSWERED_FAULTS:  # already applied by the upstream
        return reply
    if fault.kind == "hang":
        return dataclasses.replace(reply, delay=fault.hang_seconds)
    if fault.kind == "malformed":
        return Reply(200, reply.body[: max(1, len(reply.body) // 2)])
    if fault.kind == "large":
        # The honest body plus padding: still valid, so only a size limit stops it.
        head = reply.body.rstrip()[:-1]
        padding = b'"padding": "' + b"x" * LARGE_BODY_BYTES + b'"}'
        return Reply(200, head + (b", " if head.strip() != b"{" else b"") + padding)
    if fault.kind == "html":
        return Reply(200, _HTML, "text/html; charset=utf-8")
    if fault.kind == "wrong_types":
        return json_reply(upstream.wrong_types(method))
    return upstream.error(fault)


def bearer(header: str) -> str | None:
    """The token of `Authorization: Bearer <t>` (or GitHub's `token <t>`, or a raw
    API key with no scheme at all)."""
    header = header.strip()
    if header and " " not in header:
        return header
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() in ("bearer", "token") else None


def route(verb: str, path: str) -> tuple[list[SimUpstream], str, str] | None:
    """The upstreams serving `verb path` (the Google ones share their paths), with the
    host label and method it names."""
    serving: list[SimUpstream] = []
    named: tuple[str, str] | None = None
    for upstream in UPSTREAMS.values():
        found = upstream.route(verb, path)
        if found is not None:
            serving.append(upstream)
            named = named or found
    return (serving, *named) if named else None


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the benchmarks open 500 connections at once

    def __init__(self, address: tuple[str, int], sim: Served) -> None:
        self.sim = sim
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, SimHandler)

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """End idle keep-alive connections so a stopped simulator answers nothing more."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-reply (size limits, timeouts, stop()) are routine here.
        if isinstance(sys.exc_info()[1], OSError):
            return
        logger.exception("simulator: error serving %s", client_address)


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections
    timeout = 300  # seconds an idle keep-alive connection holds a thread
    server: SimServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator: " + format, *args)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, verb: str) -> None:
        try:
            self._serve(verb)
        except OSError:
            raise  # the client hung up; handle_error keeps quiet about it
        except Exception as exc:  # a simulator bug: say so rather than drop the connection
            logger.exception("simulator: failed to serve %s %s", verb, self.path)
            self._send(json_error(500, "INTERNAL", f"simulator error: {exc!r}"))

    def _serve(self, verb: str) -> None:
        length = self.headers.get("Content-Length", "0")
        body = self.rfile.read(int(length)) if length.isdigit() else b""
        path = urlsplit(self.path).path
        sim = self.server.sim
        if path.startswith("/_sim/"):
            self._send(sim.control(verb, path, body))
            return
        sim.record_request(verb, self.path, dict(self.headers.items()), body)
        found = route(verb, path)
        upstream = token_upstream()  # answers faults of the token call in its style
        if found is not None:
            serving, host, method = found
            token = bearer(self.headers.get("Authorization", ""))
            upstream, fault, reply = sim.upstream(host, method, token, body, serving)
        elif verb == "POST" and path == "/token" and upstream is not None:
            method = TOKEN_METHOD
            fault, reply = sim.token(dict(parse_qsl(body.decode("utf-8", "replace"))))
        else:
            self._send(json_error(404, "NOT_FOUND", f"No route for {verb} {path}."))
            return
        assert upstream is not None
        reply = apply_fault(fault, method, reply, upstream)
        if self.server.stopping.wait(sim.latency + reply.delay):
            self.close_connection = True  # stopped while waiting: answer nothing
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


