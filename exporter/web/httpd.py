"""The HTTP server: cheroot's WSGI server with bounded threads and a non-blocking gate.

cheroot is maintained, pure Python, speaks HTTP/1.1 with keep-alive, runs a
bounded pool of worker threads and watches idle keep-alive connections with one
selector. Two of its habits would still let a few slow clients stop `/metrics`:
it hands every new connection straight to a worker, which then waits up to the
read timeout for a request that may never come, and its TLS adapter runs the
handshake inside the accept loop. So the selector thread here is a *gate*:

- it accepts, runs the TLS handshake and reads the request head (and a body up
  to its Content-Length) without ever blocking; a worker only gets a connection
  whose request has fully arrived;
- a connection that has not sent a complete request `read_timeout` seconds after
  it was accepted (or after its previous answer) is closed: idle and half-sent
  connections cost a file descriptor and a few KiB, never a thread;
- at most `max_connections` connections wait at once; past that the one waiting
  longest is closed;
- workers: MIN_WORKERS at start, one more whenever all are busy, at most
  MAX_WORKERS, so the thread count is bounded whatever clients do.

    server = make_http_server(app, "127.0.0.1:0", web_config)
    server.start()           # serves in a background thread
    host, port = server.address
    server.stop()
"""

from __future__ import annotations

import contextlib
import logging
import re
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from cheroot import wsgi
from cheroot.connections import ConnectionManager
from cheroot.makefile import StreamReader
from cheroot.server import HTTPConnection
from cheroot.workers.threadpool import ThreadPool

from exporter.web.basic_auth import WSGIApp, wrap_wsgi
from exporter.web.config import WebConfig, reason_text
from exporter.web.tls import TLSAdapter, tls_adapter

log = logging.getLogger(__name__)

READ_TIMEOUT = 10.0  # seconds a client has to send a whole request (--web.read-timeout)
MIN_WORKERS = 8
MAX_WORKERS = 32
MAX_CONNECTIONS = 512  # connections waiting for a request, idle keep-alive ones included
MAX_REQUEST_HEAD = 64 * 1024  # bytes the gate buffers; longer heads get cheroot's 413
MAX_REQUEST_BODY = 64 * 1024  # no route reads a body
# How often the selector wakes to close expired connections; also bounds stop().
_TICK = 0.2
_CONTENT_LENGTH = re.compile(rb"\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_ERRNO = re.compile(r"\[Errno (\d+)\] ([^)]+)\)*$")


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


def url_base(address: tuple[str, int], scheme: str = "http") -> str:
    """`scheme://host:port` that reaches a server bound to `address` from this machine.

    >>> url_base(("0.0.0.0", 80)), url_base(("::", 80)), url_base(("::1", 443), "https")
    ('http://127.0.0.1:80', 'http://[::1]:80', 'https://[::1]:443')
    """
    host, port = address
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _request_complete(data: bytes | bytearray) -> bool:
    """True once the head has ended and a Content-Length body has arrived whole."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return False
    length = _CONTENT_LENGTH.search(data, 0, end + 2)
    # Longer bodies (and chunked ones) go to a worker, whose reads time out.
    return length is None or int(length.group(1)) > MAX_REQUEST_BODY or (
        len(data) >= end + 4 + int(length.group(1)))


class _Prefixed:
    """The socket as cheroot's reader sees it: first the bytes the gate already read."""

    def __init__(self, sock: socket.socket, head: bytes) -> None:
        self._sock = sock
        self._head = memoryview(head)

    @property
    def buffered(self) -> bool:
        return len(self._head) > 0

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        if self._head:
            n = min(len(buffer), len(self._head), nbytes or len(buffer))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._sock.recv_into(buffer, nbytes, flags)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Connection(HTTPConnection):
    """A connection and what the gate has read of its next request."""

    def __init__(self, server: Any, sock: socket.socket, makefile: Any) -> None:
        super().__init__(server, sock, makefile)
        self.head = bytearray()
        self.handshaken = not isinstance(sock, ssl.SSLSocket)
        self.ssl_env: dict[str, str] = {}

    def pending(self) -> bool:
        """Bytes of a next request already buffered (pipelined) above the socket."""
        raw = getattr(self.rfile, "raw", None)
        sock = getattr(raw, "_sock", None)
        return bool(
            self.rfile.has_data()
            or (isinstance(sock, _Prefixed) and sock.buffered)
            or (isinstance(self.socket, ssl.SSLSocket) and self.socket.pending())
        )

    def advance(self, adapter: TLSAdapter | None) -> bool | None:
        """Read what has arrived without blocking: True when the request is whole,
        False to wait for more, None to close the connection."""
        if self.pending():
            return True  # cheroot reads pipelined requests itself, as before
        sock = self.socket
        try:
            sock.setblocking(False)
            if not self.handshaken:
                assert adapter is not None and isinstance(sock, ssl.SSLSocket)
                env = adapter.handshake(sock)
                if env is None:
                    return None
                self.ssl_env, self.handshaken = env, True
            while len(self.head) < MAX_REQUEST_HEAD and not _request_complete(self.head):
                chunk = sock.recv(MAX_REQUEST_HEAD)
                if not chunk:
                    return None  # the client left before finishing its request
                self.head += chunk
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return False
        except OSError as exc:  # includes ssl.SSLError: scanners, plain HTTP, bad certificates
            if not self.handshaken:
                log.debug("TLS handshake failed", extra={"kv": {
                    "client": str(self.remote_addr), "reason": reason_text(exc)}})
            return None
        return True

    def hand_over(self, timeout: float) -> None:
        """Back to blocking reads with a timeout, the gate's bytes first."""
        self.socket.settimeout(timeout)
        if self.head:  # else the reader already holds a pipelined request: keep it
            self.rfile = StreamReader(
                _Prefixed(self.socket, bytes(self.head)), "rb", self.rbufsize)
            self.head = bytearray()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            super().close()


class _Gate(ConnectionManager):
    """cheroot's selector loop, but new connections wait here too, not in a worker."""

    _selector: Any  # cheroot's thread-safe selector; its type stubs leave it out

    def wait(self, conn: _Connection) -> None:
        """Watch `conn` until more arrives; its deadline counts from when it started waiting."""
        if conn.last_used is None:
            conn.last_used = time.time()
            self._evict_beyond(self.server.max_connections - 1)
        self._selector.register(conn.socket.fileno(), selectors.EVENT_READ, data=conn)

    def put(self, conn: _Connection) -> None:
        """A worker is done with a kept-alive connection: its next request starts now."""
        conn.last_used = time.time()
        if conn.pending():
            self.server.process_conn(conn)
        else:
            self._selector.register(conn.socket.fileno(), selectors.EVENT_READ, data=conn)

    def _evict_beyond(self, limit: int) -> None:
        waiting = [(c.last_used, fd, c) for fd, c in self._selector.connections
                   if c is not self.server]
        if len(waiting) <= limit:
            return
        waiting.sort(key=lambda item: item[0])
        for _, fd, conn in waiting[:len(waiting) - limit]:
            self._selector.unregister(fd)
            conn.close()
        log.debug("closed the longest-waiting connections",
                  extra={"kv": {"closed": str(len(waiting) - limit)}})


class _Pool(ThreadPool):
    # cheroot internals its type stubs leave out
    _threads: list[threading.Thread]
    _spawn_worker: Callable[[], threading.Thread]

    def __init__(self, server: Any, workers: int, max_workers: int) -> None:
        super().__init__(server, min=workers, max=max_workers)
        self._grow_lock = threading.Lock()  # the selector and a worker may both grow it

    def put_growing(self, conn: _Connection) -> None:
        """Queue `conn`; start one more worker first when none is free."""
        with self._grow_lock:
            if self.idle <= self.qsize and len(self._threads) < self.max:
                # cheroot's own grow() polls in 0.1 s steps until the thread runs;
                # here the selector thread must not wait, and the queue holds `conn`.
                self._threads.append(self._spawn_worker())
        self.put(conn)


class _Server(wsgi.Server):
    ConnectionClass = _Connection
    expiration_interval = _TICK
    _connections: Any
    max_request_header_size = MAX_REQUEST_HEAD
    max_request_body_size = MAX_REQUEST_BODY

    def __init__(self, bind_addr: tuple[str, int], app: WSGIApp, read_timeout: float,
                 max_connections: int, adapter: TLSAdapter | None) -> None:
        # shutdown_timeout: how long stop() lets a worker finish its answer.
        super().__init__(bind_addr, app, server_name="llm-quota-exporter",
                         request_queue_size=128, shutdown_timeout=2)
        self.timeout = read_timeout
        self.requests = _Pool(self, MIN_WORKERS, MAX_WORKERS)
        self.max_connections = self.keep_alive_conn_limit = max_connections
        self.ssl_adapter = adapter

    def prepare(self) -> None:
        super().prepare()
        self._connections.close()  # cheroot's manager, still empty
        self._connections = _Gate(self)

    def process_conn(self, conn: _Connection) -> None:
        """Called by the selector thread (and by put() for pipelined requests)."""
        ready = conn.advance(self.ssl_adapter)
        if ready is None:
            conn.close()
        elif ready:
            conn.hand_over(self.timeout)
            self.requests.put_growing(conn)
        else:
            self._connections.wait(conn)

    def error_log(self, msg: str = "", level: int = logging.INFO,
                  traceback: bool = False) -> None:
        log.log(logging.ERROR if traceback else logging.DEBUG, "http server: %s", msg,
                exc_info=traceback)


class HttpServer:
    """A bound server: `start()` serves in a daemon thread, `stop()` ends it cleanly."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.bind_addr[:2]
        return str(host), int(port)

    @property
    def tls(self) -> bool:
        return self._server.ssl_adapter is not None

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self._server.serve, name="http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def make_http_server(
    app: WSGIApp, address: str, web: WebConfig | None = None, *,
    read_timeout: float = READ_TIMEOUT, max_connections: int = MAX_CONNECTIONS,
) -> HttpServer:
    """A bound, not yet serving, server for `app`; with a web config, basic auth on
    every path but /-/healthy, and TLS. Raises OSError when it cannot bind."""
    web = web or WebConfig()
    server = _Server(parse_listen_address(address), wrap_wsgi(app, web), read_timeout,
                     max_connections, tls_adapter(web))
    try:
        server.prepare()
    except OSError as exc:
        # cheroot folds the system's error into its own text: give it back its errno.
        found = _ERRNO.search(str(exc))
        if found is None:
            raise
        raise OSError(int(found.group(1)), found.group(2)) from None
    return HttpServer(server)
