"""The HTTP server itself (exporter/web/httpd.py) around a tiny WSGI app, in process,
with real sockets on loopback: the gate, keep-alive, limits, workers, start and stop."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from exporter.web.httpd import (
    MAX_REQUEST_HEAD,
    MAX_WORKERS,
    MIN_WORKERS,
    HttpServer,
    make_http_server,
)
from tests.flood import Flood


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    out = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {body.decode()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with make_http_server(echo, "127.0.0.1:0", read_timeout=2.0) as srv:
        yield srv


def _exchange(sock: socket.socket, *parts: bytes, pause: float = 0.0, replies: int = 1) -> bytes:
    """Send `parts` `pause` seconds apart; what came back once `replies` answers are whole."""
    for part in parts:
        sock.sendall(part)
        time.sleep(pause)  # a slow client: the pause is what is under test
    sock.settimeout(5)
    data = b""
    while len(_answers(data)) < replies:
        chunk = sock.recv(65536)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def _answers(data: bytes) -> list[bytes]:
    """The complete answers in `data`, each head and body."""
    out = []
    while (end := data.find(b"\r\n\r\n")) >= 0:
        head = data[:end].decode("latin-1").lower()
        length = int(head.split("content-length: ")[1].split("\r\n")[0])
        if len(data) < end + 4 + length:
            break
        out.append(data[: end + 4 + length])
        data = data[end + 4 + length:]
    return out


def _workers() -> int:
    return sum(t.name.startswith("CP Server") for t in threading.enumerate())


def test_keep_alive_pipelining_and_a_body_sent_in_pieces(server: HttpServer) -> None:
    with socket.create_connection(server.address) as sock:
        both = _exchange(sock, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n", replies=2)
        assert both.count(b"HTTP/1.1 200 OK") == 2 and both.endswith(b"GET /b ")
        reply = _exchange(sock, b"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab",
                          b"cde", pause=0.3)
        assert reply.startswith(b"HTTP/1.1 200 OK") and reply.endswith(b"POST /c abcde")
        assert _exchange(sock, b"GET /d HTTP/1.1\r\nHo", b"st: x\r\n\r\n",
                         pause=0.3).endswith(b"GET /d ")


def test_an_oversized_head_gets_413_at_once(server: HttpServer) -> None:
    with socket.create_connection(server.address) as sock:
        started = time.monotonic()
        reply = _exchange(sock, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 2 * MAX_REQUEST_HEAD)
        assert reply.startswith(b"HTTP/1.1 413 ")
        assert time.monotonic() - started < 1.0


def test_past_max_connections_the_longest_waiting_are_closed() -> None:
    with make_http_server(echo, "127.0.0.1:0", max_connections=20) as srv, \
            Flood(srv.address[1]) as flood:
        oldest = flood.open(10)
        time.sleep(0.2)  # the age that orders the connections: what is under test
        newest = flood.open(20)
        flood.wait_closed_by_server(oldest, within=3)
        for sock in newest:
            reply = _exchange(sock, b"GET /still-here HTTP/1.1\r\nHost: x\r\n\r\n")
            assert reply.endswith(b"GET /still-here ")
        assert requests.get(f"http://127.0.0.1:{srv.address[1]}/x", timeout=5).text == "GET /x "


def test_workers_grow_when_busy_but_never_past_the_maximum() -> None:
    release = threading.Event()
    entered = []  # one item per request that reached the app

    def blocking(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        entered.append(1)
        release.wait(20)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    requests_ = MAX_WORKERS + 10
    with make_http_server(blocking, "127.0.0.1:0") as srv, ThreadPoolExecutor(requests_) as pool:
        assert _workers() == MIN_WORKERS
        url = f"http://127.0.0.1:{srv.address[1]}/"
        answers = [pool.submit(requests.get, url, timeout=30) for _ in range(requests_)]
        # Every request is in, in the app or queued for a worker. Each was a chance to
        # start one more worker, so one past the maximum would be here now.
        queue = srv._server.requests
        deadline = time.monotonic() + 10
        while len(entered) + queue.qsize < requests_ and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(entered) + queue.qsize == requests_
        busy = _workers()
        release.set()
        assert [a.result().status_code for a in answers] == [200] * requests_
    assert busy == MAX_WORKERS


def test_ipv6_loopback() -> None:
    with make_http_server(echo, "[::1]:0") as srv:
        host, port = srv.address
        assert host == "::1"
        assert requests.get(f"http://[::1]:{port}/six", timeout=5).text == "GET /six "


def test_a_taken_port_is_an_oserror_with_the_system_reason() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError) as info:
            make_http_server(echo, f"127.0.0.1:{port}")
    assert info.value.errno == errno.EADDRINUSE
    assert info.value.strerror == "Address already in use"


def test_start_and_stop_many_times_leaves_no_thread_and_no_socket() -> None:
    before = threading.active_count()
    for _ in range(10):
        with make_http_server(echo, "127.0.0.1:0") as srv:
            port = srv.address[1]
            with socket.create_connection(("127.0.0.1", port)):  # one idle client at stop
                assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
