"""Pooled HTTP for every upstream call: keep-alive, deadlines, size cap, host back-off.

Provider-neutral: it knows hosts, status codes and bytes, never an API's JSON.
Every failure becomes a `FetchError` whose message names the host, never a token.
"""

from __future__ import annotations

import http.client
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import certifi
import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

from exporter.snapshot import FetchError, Reason

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_BACKOFF = 3600.0
CONNECT_TIMEOUT = 5.0  # seconds a new connection may take, within the deadline


class HostGate:
    """Per-host "do not call before" times for one account (from 429 retryDelay)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def wait_left(self, host: str) -> float:
        with self._lock:
            return max(0.0, self._until.get(host, 0.0) - self._monotonic())

    def close(self, host: str, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), MAX_BACKOFF)
        with self._lock:
            until = self._monotonic() + seconds
            self._until[host] = max(self._until.get(host, 0.0), until)


def host_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return parts.netloc + parts.path.rstrip("/")


@dataclass(frozen=True)
class _Base:
    https: bool
    host: str
    port: int | None
    prefix: str  # the base URL's path, put before every call's path


@dataclass
class Pending:
    """A request sent and not yet answered: what `Transport.receive` finishes."""

    conn: HTTPConnection
    base: str
    reused: bool  # the connection was kept alive from an earlier call
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]
    name: str
    host: str


# Connection errors that, on a kept-alive connection, mean only that the server had
# closed it meanwhile: the request is sent again once, on a new connection.
_STALE = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
          http.client.BadStatusLine)


class Transport:
    """Requests over pooled keep-alive connections, shared by every account.

    Two phases: `send` writes a request and `receive` reads its answer, so one
    thread can send an account's two calls and then read both: a fetch costs one
    round trip without a thread per call. urllib3's connection class does the
    sockets and TLS (verified against certifi's CAs); the pool here is a list of
    idle connections per base URL, at most `pool_size` each.
    """

    def __init__(self, pool_size: int) -> None:
        self._maxsize = max(pool_size, 1)
        self._idle: dict[str, list[HTTPConnection]] = {}
        self._bases: dict[str, _Base] = {}
        self._lock = threading.Lock()
        self._ca_certs = certifi.where()

    def _base(self, base: str) -> _Base:
        with self._lock:
            got = self._bases.get(base)
            if got is None:
                parts = urlsplit(base)
                got = _Base(parts.scheme == "https", parts.hostname or "", parts.port,
                            parts.path.rstrip("/"))
                self._bases[base] = got
            return got

    def _checkout(self, base: str, b: _Base) -> tuple[HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(base)
            while idle:
                conn = idle.pop()
                if conn.is_connected:
                    return conn, True
                conn.close()  # the server closed it while it was idle
        if b.https:
            return HTTPSConnection(b.host, b.port, cert_reqs="CERT_REQUIRED",
                                   ca_certs=self._ca_certs), False
        return HTTPConnection(b.host, b.port), False

    def _checkin(self, base: str, conn: HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(base, [])
            if len(idle) < self._maxsize:
                idle.append(conn)
                return
        conn.close()

    def send(
        self,
        method: str,
        base: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: float,
        *,
        name: str,
        host: str,
    ) -> Pending:
        """Write one request; raises FetchError for timeouts and network errors.

        `name` (the API call) and `host` name the call in messages.
        """
        b = self._base(base)
        url = b.prefix + path
        for attempt in (1, 2):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FetchError(Reason.TIMEOUT, f"{name}: deadline passed before calling {host}")
            conn, reused = self._checkout(base, b)
            try:
                if conn.sock is None:
                    conn.timeout = min(remaining, CONNECT_TIMEOUT)
                else:
                    conn.sock.settimeout(remaining)
                conn.request(method, url, body=body, headers=headers, preload_content=False)
            except BaseException as exc:
                conn.close()
                if reused and attempt == 1 and isinstance(exc, _STALE):
                    continue
                raise _network_error(exc, name, host) from None
            return Pending(conn, base, reused, method, path, body, headers, name, host)
        raise AssertionError("unreachable")  # pragma: no cover

    def receive(self, pending: Pending, deadline: float) -> RawReply:
        """Read the answer to a sent request, within the deadline and the size cap."""
        conn, name, host = pending.conn, pending.name, pending.host
        try:
            if conn.sock is not None:
                conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            resp = conn.getresponse()
            raw = _read_capped(resp, deadline, name, host)
        except FetchError:
            conn.close()  # unread data must not reach the next request on this connection
            raise
        except BaseException as exc:
            conn.close()
            if pending.reused and isinstance(exc, _STALE):
                # The kept-alive connection was closed before it answered: once more.
                again = self.send(pending.method, pending.base, pending.path, pending.body,
                                  pending.headers, deadline, name=name, host=host)
                again.reused = False
                return self.receive(again, deadline)
            raise _network_error(exc, name, host) from None
        if resp.headers.get("Connection", "").lower() == "close" or resp.version < 11:
            conn.close()
        else:
            self._checkin(pending.base, conn)
        return RawReply(resp.status, raw, _retry_after(resp.headers.get("Retry-After")))

    def request(
        self,
        method: str,
        base: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        deadline: float,
        *,
        name: str,
        host: str,
    ) -> RawReply:
        """One request and its answer; raises FetchError for timeouts and network errors."""
        pending = self.send(method, base, path, body, headers, deadline, name=name, host=host)
        return self.receive(pending, deadline)

    def open_connections(self, base: str) -> int:
        """Idle kept-alive connections to `base` (for tests and benchmarks)."""
        with self._lock:
            return sum(1 for conn in self._idle.get(base, []) if conn.sock is not None)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


def _network_error(exc: BaseException, name: str, host: str) -> FetchError:
    """A FetchError for what went wrong on the wire: timeout or network."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        # Listed first: urllib3 makes it a subclass of ConnectTimeoutError.
        return FetchError(Reason.NETWORK, f"{name}: cannot reach {host} ({_describe(exc)})")
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return FetchError(Reason.TIMEOUT, f"{name}: {host} did not answer in time")
    if isinstance(exc, OSError | http.client.HTTPException | urllib3.exceptions.HTTPError):
        return FetchError(Reason.NETWORK, f"{name}: cannot reach {host} ({_describe(exc)})")
    raise exc


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header in its delay-seconds form; None otherwise."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < MAX_BACKOFF else None


@dataclass(frozen=True)
class RawReply:
    status: int
    body: bytes
    retry_after: float | None = None  # from a Retry-After header, seconds


def _read_capped(
    resp: urllib3.BaseHTTPResponse, deadline: float, method: str, host: str
) -> bytes:
    """The body, within the fetch deadline as a whole and at most MAX_BODY_BYTES.

    A per-read socket timeout alone would let a server that trickles a byte at a
    time hold the call for ever; so every read gets only the time that is left
    of the deadline, and returns what has arrived (read1) instead of waiting for a
    full buffer.
    """
    sock = getattr(getattr(resp, "connection", None), "sock", None)
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(Reason.TIMEOUT, f"{method}: {host} body did not arrive in time")
        if sock is not None:
            sock.settimeout(remaining)
        chunk = resp.read1(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise FetchError(
                Reason.PARSE,
                f"{method}: {host} sent more than {MAX_BODY_BYTES // (1024 * 1024)} MiB; "
                "refusing to parse",
            )
        chunks.append(chunk)


@dataclass(frozen=True)
class HttpClients:
    """The engine's shared HTTP clients: requests for OAuth (rare), urllib3 for the API."""

    session: requests.Session
    transport: Transport

    @classmethod
    def create(cls, pool_size: int) -> HttpClients:
        return cls(session=new_session(pool_size), transport=Transport(pool_size))

    def close(self) -> None:
        self.session.close()
        self.transport.close()


def new_session(pool_size: int) -> requests.Session:
    """A pooled requests session (token refreshes). Cookies are refused so nothing
    one account receives is sent for another."""
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=8, pool_maxsize=max(pool_size, 1))
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False  # no proxy or netrc surprises; a proxy is a config matter
    return session


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}"
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name does not resolve"
    if "Temporary failure in name resolution" in text or "NameResolutionError" in text:
        return "host name lookup failed"
    if "Connection refused" in text:
        return "connection refused"
    return type(exc).__name__
