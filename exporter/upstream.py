"""One upstream call: base URLs in order, one refresh on 401, host back-off, size cap.

A 429, a 5xx or a network error moves on to the next base URL; a 429's
`retryDelay` closes that host for this account until it has passed, so no
scrape calls it again early. Every error becomes a `FetchError` whose message
names the host and status but never a token.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import certifi
import requests
import urllib3
from requests.adapters import HTTPAdapter

from exporter.auth import TokenSource
from exporter.providers.antigravity_parse import UpstreamErrorInfo, parse_error
from exporter.snapshot import FetchError, Reason
from exporter.timefmt import human_duration

MAX_BODY_BYTES = 8 * 1024 * 1024
# A 429 without retryDelay still closes the host briefly: hammering it helps nobody.
DEFAULT_429_BACKOFF = 5.0
MAX_BACKOFF = 3600.0


class UpstreamError(FetchError):
    """An HTTP error answer from the upstream, with what its body said."""

    def __init__(
        self, reason: Reason, message: str, *, http_status: int, info: UpstreamErrorInfo
    ) -> None:
        super().__init__(reason, message, retry_after=info.retry_delay)
        self.http_status = http_status
        self.info = info


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

    def post(
        self,
        base: str,
        path: str,
        body: bytes,
        headers: dict[str, str],
        deadline: float,
        *,
        method: str,
        host: str,
    ) -> tuple[int, bytes]:
        """(status, body) of one POST; raises FetchError for timeouts and network errors.

        `method` and `host` name the call in messages.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(Reason.TIMEOUT, f"{method}: deadline passed before calling {host}")
        pool, prefix = self._pool(base)
        try:
            resp = pool.urlopen(
                "POST",
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
                raw = _read_capped(resp, deadline, method, host)
            except BaseException:
                resp.close()  # unread data must not reach the next request on this connection
                raise
            finally:
                resp.release_conn()
        except urllib3.exceptions.NewConnectionError as exc:
            # Listed first: urllib3 makes it a subclass of ConnectTimeoutError.
            raise FetchError(
                Reason.NETWORK, f"{method}: cannot reach {host} ({_describe(exc)})"
            ) from None
        except urllib3.exceptions.TimeoutError:
            raise FetchError(Reason.TIMEOUT, f"{method}: {host} did not answer in time") from None
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(
                Reason.NETWORK, f"{method}: cannot reach {host} ({_describe(exc)})"
            ) from None
        return resp.status, raw

    def close(self) -> None:
        self._manager.clear()


def _read_capped(
    resp: urllib3.BaseHTTPResponse, deadline: float, method: str, host: str
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.stream(65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise FetchError(
                Reason.PARSE,
                f"{method}: {host} sent more than {MAX_BODY_BYTES // (1024 * 1024)} MiB; "
                "refusing to parse",
            )
        if time.monotonic() > deadline:
            raise FetchError(Reason.TIMEOUT, f"{method}: {host} body did not arrive in time")
        chunks.append(chunk)
    return b"".join(chunks)


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


class UpstreamClient:
    def __init__(
        self,
        transport: Transport,
        endpoints: tuple[str, ...],
        user_agent: str,
        tokens: TokenSource,
        gate: HostGate | None = None,
    ) -> None:
        self._transport = transport
        self._endpoints = endpoints
        self._user_agent = user_agent
        self._tokens = tokens
        self.gate = gate or HostGate()

    def call(self, method: str, body: dict[str, Any], deadline: float) -> Any:
        """POST {base}/v1internal:{method}; returns the decoded JSON body."""
        token = self._tokens.token(deadline)
        try:
            return self._try_hosts(method, body, token, deadline)
        except _Unauthorized as exc:
            # A source that cannot refresh raises an auth error that says why.
            token = self._tokens.refresh(deadline)
            try:
                return self._try_hosts(method, body, token, deadline)
            except _Unauthorized:
                raise FetchError(
                    Reason.AUTH,
                    f"{method}: {exc.host} answered 401 again after a token refresh",
                ) from None

    def _try_hosts(self, method: str, body: dict[str, Any], token: str, deadline: float) -> Any:
        last: FetchError | None = None
        for base in self._endpoints:
            host = host_of(base)
            wait = self.gate.wait_left(host)
            if wait > 0:
                last = FetchError(
                    Reason.RATE_LIMITED,
                    f"{method}: {host} asked us to wait; next call in {human_duration(wait)}",
                    retry_after=wait,
                )
                continue
            try:
                return self._post(base, host, method, body, token, deadline)
            except UpstreamError as exc:
                if exc.http_status == 429:
                    self.gate.close(host, exc.info.retry_delay or DEFAULT_429_BACKOFF)
                elif exc.http_status < 500:
                    raise
                last = exc
            except FetchError as exc:
                if exc.reason is not Reason.NETWORK:
                    raise
                last = exc
        assert last is not None
        raise last

    def _post(
        self, base: str, host: str, method: str, body: dict[str, Any], token: str, deadline: float
    ) -> Any:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": self._user_agent,
        }
        status, raw = self._transport.post(
            base, f"/v1internal:{method}", json.dumps(body).encode(), headers, deadline,
            method=method, host=host,
        )
        if status == 200:
            try:
                return json.loads(raw)
            except ValueError:
                raise FetchError(
                    Reason.PARSE, f"{method}: {host} answered 200 with a body that is not JSON"
                ) from None
        if status == 401:
            raise _Unauthorized(host)
        raise _error_for(status, raw, method, host)


class _Unauthorized(Exception):
    def __init__(self, host: str) -> None:
        super().__init__(host)
        self.host = host


def _describe(exc: Exception) -> str:
    text = str(exc)
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "host name does not resolve"
    if "Temporary failure in name resolution" in text or "NameResolutionError" in text:
        return "host name lookup failed"
    if "Connection refused" in text:
        return "connection refused"
    return type(exc).__name__


def _error_for(status: int, raw: bytes, method: str, host: str) -> UpstreamError:
    try:
        info = parse_error(json.loads(raw))
    except ValueError:
        info = parse_error(None)
    detail = info.message or info.status or "no error message"
    if info.reasons:
        detail += f" [{', '.join(info.reasons)}]"
    message = f"{method}: {host} answered {status}: {detail}"
    if status == 429:
        reason = Reason.RATE_LIMITED
        if info.retry_delay is not None:
            message += f"; retry in {human_duration(info.retry_delay)}"
    elif status == 403:
        reason = Reason.FORBIDDEN
    else:  # 5xx, and 4xx answers that say the request itself was wrong
        reason = Reason.UPSTREAM
    return UpstreamError(reason, message, http_status=status, info=info)
