"""A loopback HTTP server that answers from a script, for HTTP client layer tests.

Like `responses`, but a real socket: replies registered for a path are given in
order, and the last one repeats. Every request is recorded.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Scripted:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    wait_for_calls: int = 0  # answer once this many requests came, or after `delay`


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes
    seen_when_answered: int = 0  # requests the server had received when it answered this one
    peer: int = 0  # the client's port: one per connection

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class ScriptedServer:
    routes: dict[str, list[Scripted]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, *, status: int = 200, json_body: Any = None, body: bytes = b"",
            content_type: str = "application/json", delay: float = 0.0,
            headers: dict[str, str] | None = None, wait_for_calls: int = 0) -> None:
        if json_body is not None:
            body = json.dumps(json_body).encode()
        with self._lock:
            self.routes.setdefault(path, []).append(
                Scripted(status, body, content_type, delay, dict(headers or {}),
                         wait_for_calls))

    def replace(self, path: str, **kw: Any) -> None:
        with self._lock:
            self.routes.pop(path, None)
        self.add(path, **kw)

    def next_reply(self, path: str) -> Scripted:
        with self._lock:
            queue = self.routes.get(path)
            if not queue:
                return Scripted(404, b'{"error": {"message": "not scripted"}}')
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def start(self) -> tuple[ThreadingHTTPServer, str]:
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                data = self.rfile.read(length)
                call = Call(self.path, dict(self.headers.items()), data,
                            peer=int(self.client_address[1]))
                with script._lock:
                    script.calls.append(call)
                reply = script.next_reply(self.path)
                if reply.wait_for_calls:
                    end = time.monotonic() + reply.delay
                    while len(script.calls) < reply.wait_for_calls and time.monotonic() < end:
                        time.sleep(0.01)
                elif reply.delay:  # an upstream's latency
                    time.sleep(reply.delay)
                with script._lock:
                    call.seen_when_answered = len(script.calls)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(reply.body)

            do_GET = do_POST

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"


@contextlib.contextmanager
def serving() -> Iterator[tuple[ScriptedServer, str]]:
    """A started ScriptedServer and its base URL, shut down on exit."""
    script = ScriptedServer()
    server, base = script.start()
    try:
        yield script, base
    finally:
        server.shutdown()
        server.server_close()
