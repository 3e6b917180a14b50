"""The simulator's loopback HTTP server: routes upstream calls to `SimState`, applies faults."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import socket
import sys
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from exporter.simulator.antigravity import (
    BAD_TOKEN,
    NO_LICENSE,
    Fault,
    Reply,
    google_error,
    json_reply,
)

if TYPE_CHECKING:
    from exporter.simulator import Simulator

logger = logging.getLogger("exporter.simulator")

_UPSTREAM_PATH = re.compile(r"^(?:/(daily|prod))?/v1internal:([A-Za-z]+)$")
LARGE_BODY_BYTES = 20 * 1024 * 1024
_HTML = (b"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>Sign in - Google "
         b"Accounts</title></head><body><p>Please sign in to continue.</p></body></html>\n")
# Valid JSON whose types are wrong where a parser looks: lists for objects, strings for numbers.
_WRONG_TYPES: Mapping[str, object] = {
    "loadCodeAssist": {"cloudaicompanionProject": 42, "currentTier": "g1-pro-tier",
                       "paidTier": ["g1-pro-tier"]},
    "fetchAvailableModels": {"models": [{"gemini-3-flash": {
        "displayName": 3, "quotaInfo": {"remainingFraction": "lots", "resetTime": 1234}}}]},
    "retrieveUserQuotaSummary": {"groups": {"displayName": "Gemini Models", "buckets": "none"}},
    "token": {"access_token": 12345, "expires_in": "soon", "token_type": ["Bearer"]},
}


def _error_fault(fault: Fault) -> Reply:
    if fault.kind == "429":
        delay = f"{fault.retry_delay:g}s"
        return google_error(429, "RESOURCE_EXHAUSTED",
                            "Resource has been exhausted (e.g. check quota).", [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
             "domain": "cloudcode-pa.googleapis.com", "metadata": {"quotaResetDelay": delay}},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}])
    code, status, message = {
        "401": (401, "UNAUTHENTICATED", BAD_TOKEN),
        "403": (403, "PERMISSION_DENIED", "Verify your account to continue."),
        "403_license": (403, "PERMISSION_DENIED", NO_LICENSE),
        "500": (500, "INTERNAL", "Internal error encountered."),
        "503": (503, "UNAVAILABLE", "The service is currently unavailable."),
    }[fault.kind]
    return google_error(code, status, message)


def apply_fault(fault: Fault | None, method: str, reply: Reply) -> Reply:
    """What the client gets instead of `reply` (the honest answer) under `fault`."""
    if fault is None or fault.kind == "not_onboarded":  # already applied by the model
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
        return json_reply(_WRONG_TYPES.get(method, {"models": "wrong"}))
    return _error_fault(fault)


class SimServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the benchmarks open 500 connections at once

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
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
            self._send(google_error(500, "INTERNAL", f"simulator error: {exc!r}"))

    def _serve(self, verb: str) -> None:
        length = self.headers.get("Content-Length", "0")
        body = self.rfile.read(int(length)) if length.isdigit() else b""
        path = urlsplit(self.path).path
        sim = self.server.sim
        if path.startswith("/_sim/"):
            self._send(sim.control(verb, path, body))
            return
        upstream = _UPSTREAM_PATH.match(path)
        if verb == "POST" and upstream:
            method = upstream.group(2)
            auth = self.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            fault, reply = sim.upstream(upstream.group(1) or "prod", method,
                                        token.strip() if scheme.lower() == "bearer" else None, body)
        elif verb == "POST" and path == "/token":
            method = "token"
            fault, reply = sim.token(dict(parse_qsl(body.decode("utf-8", "replace"))))
        else:
            self._send(google_error(404, "NOT_FOUND", f"No route for {verb} {path}."))
            return
        reply = apply_fault(fault, method, reply)
        if self.server.stopping.wait(sim.latency + reply.delay):
            self.close_connection = True  # stopped while waiting: answer nothing
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


