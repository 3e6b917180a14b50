"""Pooled HTTP for every upstream call: keep-alive, deadlines, size cap, host back-off.

Provider-neutral: it knows hosts, status codes and bytes, never an API's JSON.
Every failure becomes a `FetchError` whose message names the host, never a token.
"""

from __future__ import annotations

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

from exporter.snapshot import FetchError, Reason

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_BACKOFF = 3600.0


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


class Transport:
    """POSTs over pooled keep-alive connections, shared by every account.

    urllib3 directly rather than requests: a scrape makes two calls per account,
    and requests' per-call preparation (cookies, settings, URL re-parsing) was
    half the exporter's CPU in the profile (docs/benchmarks.md).
    """

    def __init__(self, pool_size: int) -> None:
        self._manager = urllib3.PoolManager(
            num_pools=16,
            maxsize=max(pool_size, 1),
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
        self._pools: dict[str, tuple[urllib3.connectionpool.HTTPConnectionPool, str]] = {}
        self._lock = threading.Lock()

    def _pool(self, base: str) -> tuple[urllib3.connectionpool.HTTPConnectionPool, str]:
        with self._lock:
            got = self._pools.get(base)
            if got is None:
                got = (self._manager.connection_from_url(base), urlsplit(base).path.rstrip("/"))
                self._pools[base] = got
            return got

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
        """One request's status and body; raises FetchError for timeouts and network errors.

        `name` (the API call) and `host` name the call in messages.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(Reason.TIMEOUT, f"{name}: deadline passed before calling {host}")
        pool, prefix = self._pool(base)
        try:
            resp = pool.urlopen(
                method,
                prefix + path,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=min(remaining, 5.0), read=remaining),
                retries=False,
                redirect=False,
                preload_content=False,
                assert_same_host=False,
            )
            try:
                raw = _read_capped(resp, deadline, name, host)
            except BaseException:
                resp.close()  # unread data must not reach the next request on this connection
                raise
            finally:
                resp.release_conn()
        except urllib3.exceptions.NewConnectionError as exc:
            # Listed first: urllib3 makes it a subclass of ConnectTimeoutError.
            raise FetchError(
                Reason.NETWORK, f"{name}: cannot reach {host} ({_describe(exc)})"
            ) from None
        except urllib3.exceptions.TimeoutError:
            raise FetchError(Reason.TIMEOUT, f"{name}: {host} did not answer in time") from None
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(
                Reason.NETWORK, f"{name}: cannot reach {host} ({_describe(exc)})"
            ) from None
        return RawReply(resp.status, raw, _retry_after(resp.headers.get("Retry-After")))

    def close(self) -> None:
        self._manager.clear()


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


def _describe(exc: Exception) -> str:
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name does not resolve"
    if "Temporary failure in name resolution" in text or "NameResolutionError" in text:
        return "host name lookup failed"
    if "Connection refused" in text:
        return "connection refused"
    return type(exc).__name__
