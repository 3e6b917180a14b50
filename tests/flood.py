"""Connection floods with real sockets on loopback: idle, half-sent, TLS never finished.

Every function here is bounded in count and time and the caller closes what it opened
(`Flood` is a context manager). Nothing here talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from exporter.web.httpd import MAX_WORKERS

T = TypeVar("T")

HALF_SENT = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n"  # no blank line
# An exporter's threads: main, the selector, cheroot's 503 thread, fetch threads (one
# per account in these tests) and at most MAX_WORKERS workers. A thread per
# connection, as before, would be one more per open socket.
THREAD_BOUND = MAX_WORKERS + 8


def all_at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run every call in its own thread, released together by one barrier."""
    start = threading.Barrier(len(calls))

    def go(call: Callable[[], T]) -> T:
        start.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


def thread_count(pid: int) -> int:
    """The `Threads:` line of /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError(f"no Threads: line for pid {pid}")


def client_hello_start() -> bytes:
    """The first half of a real TLS ClientHello, as a stalled client would send it."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the server's answer
        tls.do_handshake()
    hello = outgoing.read()
    return hello[: len(hello) // 2]


class Flood:
    """Sockets opened to one port and left as they are; all closed on exit."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.address = (host, port)
        self.sockets: list[socket.socket] = []

    def open(self, count: int, first_bytes: bytes = b"") -> list[socket.socket]:
        opened = []
        for _ in range(count):
            sock = socket.create_connection(self.address, timeout=5)
            if first_bytes:
                sock.sendall(first_bytes)
            opened.append(sock)
        self.sockets.extend(opened)
        return opened

    def wait_closed_by_server(self, socks: list[socket.socket], within: float) -> float:
        """Seconds until the server had closed every one of `socks`; fails past `within`."""
        started = time.monotonic()
        waiting = selectors.DefaultSelector()
        for sock in socks:
            sock.setblocking(False)
            waiting.register(sock, selectors.EVENT_READ)
        open_ = len(socks)
        while open_:
            left = started + within - time.monotonic()
            assert left > 0, f"{open_} of {len(socks)} connections still open after {within}s"
            for key, _ in waiting.select(timeout=min(left, 0.5)):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue  # TLS records without data, e.g. session tickets
                except OSError:  # reset, or a TLS connection cut without close_notify
                    data = b""
                if not data:  # a 408 answer may come first; the close is what counts
                    waiting.unregister(sock)
                    open_ -= 1
        waiting.close()
        return time.monotonic() - started

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()

    def __enter__(self) -> Flood:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
