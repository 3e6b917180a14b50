"""Pooled HTTP for every upstream call: keep-alive, deadlines, size cap, host back-off.

Provider-neutral: it knows hosts, status codes and bytes, never an API's JSON.
Every failure becomes a `FetchError` whose message names the host, never a token.
API calls are coroutines on the fetch loop (`exporter.upstream.loop`), over
aiohttp's pooled connections; `requests` is kept for the rare OAuth refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import certifi
import requests
from requests.adapters import HTTPAdapter
from yarl import URL

from exporter.snapshot import FetchError, Reason
from exporter.upstream.loop import BLOCKING_THREADS, FetchLoop

T = TypeVar("T")

MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_BACKOFF = 3600.0
CONNECT_TIMEOUT = 5.0  # seconds a new connection may take, within the deadline


class HostGate:
    """Per-host "do not call before" times for one account (from 429 retryDelay).
    Used on the fetch loop only, like every call that reads or closes it."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._until: dict[str, float] = {}
        self._monotonic = monotonic

    def wait_left(self, host: str) -> float:
        if not self._until:  # no host ever asked this account to wait: the common case
            return 0.0
        return max(0.0, self._until.get(host, 0.0) - self._monotonic())

    def close(self, host: str, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), MAX_BACKOFF)
        until = self._monotonic() + seconds
        self._until[host] = max(self._until.get(host, 0.0), until)


def host_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return parts.netloc + parts.path.rstrip("/")


# Idle kept-alive connections are closed after this long. Prometheus scrapes every
# 15-60 s, so a connection waits at most a scrape or two for its next call.
KEEPALIVE_SECONDS = 75.0
# How long a host name's addresses are kept (aiohttp's own default is 10 s).
DNS_TTL_SECONDS = 300


class Transport:
    """Requests on the fetch loop over pooled keep-alive connections (aiohttp).

    Every account's calls are in flight at once; `connections_per_host` bounds how
    many are open to one upstream host (a call waits for a free one). Redirects are
    not followed, cookies are never kept (nothing one account receives is sent for
    another), no proxy is taken from the environment, and TLS is verified against
    certifi's CAs. The session is made on the loop, at the first request.
    """

    def __init__(self, connections_per_host: int) -> None:
        self._per_host = max(connections_per_host, 1)
        self._session: aiohttp.ClientSession | None = None
        self._ssl = ssl.create_default_context(cafile=certifi.where())
        self._urls: dict[str, URL] = {}

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=0, limit_per_host=self._per_host, ssl=self._ssl,
                keepalive_timeout=KEEPALIVE_SECONDS, ttl_dns_cache=DNS_TTL_SECONDS,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
                # The deadline bounds the whole call; a new connection gets at most this.
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT),
            )
        return self._session

    def _url(self, base: str, path: str) -> URL:
        """The parsed URL of `base` + `path`, parsed once (a call's URL never changes)."""
        key = base + path
        url = self._urls.get(key)
        if url is None:
            url = self._urls[key] = URL(base.rstrip("/") + path)
        return url

    async def request(
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
        progress: Progress | None = None,
    ) -> RawReply:
        """One request and its answer, within `deadline` (time.monotonic()) and the
        size cap; raises FetchError for timeouts and network errors.

        `name` (the API call) and `host` name the call in messages. A kept-alive
        connection the server closed before answering is tried once more on a new
        one, as long as time is left. With `progress`, the caller holds the deadline
        (one timer for all of an account's calls, see `within`) and `progress` says
        how far this call got; without it, the request keeps its own.
        """
        url = self._url(base, path)
        if progress is None:
            own = Progress()
            try:
                async with within(deadline):
                    return await self.request(method, base, path, body, headers, deadline,
                                              name=name, host=host, progress=own)
            except TimeoutError:
                raise own.timed_out(name) from None
        progress.host, progress.reading = host, False
        for attempt in (1, 2):
            if deadline - time.monotonic() <= 0:
                raise FetchError(Reason.TIMEOUT, f"{name}: deadline passed before calling {host}")
            progress.sent = True
            try:
                return await self._exchange(method, url, body, headers, progress, name, host)
            except FetchError:
                raise
            except aiohttp.ConnectionTimeoutError:
                raise FetchError(Reason.TIMEOUT, f"{name}: {host} did not accept a connection "
                                                 f"within {CONNECT_TIMEOUT:.0f}s") from None
            except aiohttp.ServerDisconnectedError as exc:
                if attempt == 1 and not progress.reading:
                    continue
                raise _network_error(exc, name, host) from None
            except (aiohttp.ClientError, OSError) as exc:
                raise _network_error(exc, name, host) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self, method: str, url: URL, body: bytes | None, headers: Mapping[str, str],
        progress: Progress, name: str, host: str,
    ) -> RawReply:
        async with self._open().request(
            method, url, data=body, headers=headers, allow_redirects=False,
        ) as resp:
            progress.reading = True
            raw = await _read_capped(resp.content, name, host)
            return RawReply(resp.status, raw, _retry_after(resp.headers.get("Retry-After")))

    async def aclose(self) -> None:
        """Close every connection (on the loop)."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class Progress:
    """How far one call got, for the message if its deadline passes: the host it
    was sent to, and whether its answer's body was being read."""

    __slots__ = ("host", "reading", "sent")

    def __init__(self) -> None:
        self.host = ""
        self.sent = False
        self.reading = False

    def timed_out(self, name: str) -> FetchError:
        if not self.sent:
            return FetchError(Reason.TIMEOUT, f"{name}: deadline passed before calling "
                                              f"{self.host or 'the upstream'}")
        what = "body did not arrive" if self.reading else "did not answer"
        return FetchError(Reason.TIMEOUT, f"{name}: {self.host} {what} in time")


def within(deadline: float) -> asyncio.Timeout:
    """A timeout scope ending at `deadline` (time.monotonic()), on the running loop's
    own clock (uvloop's counts from elsewhere)."""
    loop = asyncio.get_running_loop()
    return asyncio.timeout_at(loop.time() + (deadline - time.monotonic()))


async def _read_capped(content: aiohttp.StreamReader, name: str, host: str) -> bytes:
    """The body, at most MAX_BODY_BYTES (after decompression); the deadline around
    the whole request bounds a server that trickles it a byte at a time."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await content.readany()
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise FetchError(
                Reason.PARSE,
                f"{name}: {host} sent more than {MAX_BODY_BYTES // (1024 * 1024)} MiB; "
                "refusing to parse",
            )
        chunks.append(chunk)


def _network_error(exc: BaseException, name: str, host: str) -> FetchError:
    """A FetchError for what went wrong on the wire."""
    return FetchError(Reason.NETWORK, f"{name}: cannot reach {host} ({_describe(exc)})")


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


@dataclass(frozen=True)
class HttpClients:
    """The engine's shared HTTP clients and the loop they run on: aiohttp for every
    API call, requests for the rare OAuth token refresh (on a blocking thread)."""

    session: requests.Session
    transport: Transport
    loop: FetchLoop

    @classmethod
    def create(cls, connections_per_host: int) -> HttpClients:
        return cls(session=new_session(BLOCKING_THREADS), transport=Transport(connections_per_host),
                   loop=FetchLoop())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the fetch loop and wait for its result (from another thread)."""
        return self.loop.run(coro, timeout)

    def close(self) -> None:
        if not self.loop.loop.is_closed():
            with contextlib.suppress(Exception):
                self.loop.run(self.transport.aclose(), timeout=5.0)
        self.loop.close()
        self.session.close()


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
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert = exc.certificate_error
        reason = getattr(cert, "verify_message", None) or type(cert).__name__
        return f"TLS certificate not trusted: {reason}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message}"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        cause = str(exc.os_error)
        if "Temporary failure" in cause:
            return "host name lookup failed"
        return "host name does not resolve"
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
            exc.os_error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection closed before the answer"
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name does not resolve"
    if "Temporary failure in name resolution" in text or "NameResolutionError" in text:
        return "host name lookup failed"
    if "Connection refused" in text:
        return "connection refused"
    return type(exc).__name__
