"""One upstream call: base URLs in order, one refresh on 401, host back-off.

Provider-neutral: a provider gives the path, the headers its upstream needs and
an `ErrorDecoder` that reads its error bodies. A 429, a 5xx or a network error
moves on to the next base URL; a 429's retry delay closes that host for this
account until it has passed, so no scrape calls it again early. Every error
becomes a `FetchError` whose message names the host and status, never a token.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from exporter.auth.tokens import NeedsThread, TokenSource
from exporter.snapshot import FetchError, Reason
from exporter.timefmt import human_duration
from exporter.upstream.transport import (
    HostGate,
    Progress,
    RawReply,
    Transport,
    host_of,
    within,
)

log = logging.getLogger(__name__)

# A call still running when its account's deadline passed (see call_many).
_PENDING: Any = object()
# A 429 without a retry delay still closes the host briefly: hammering it helps nobody.
DEFAULT_429_BACKOFF = 5.0
# Upstream error text is shown to users; a page of HTML is not a message.
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class ErrorInfo:
    """What an upstream error body said, as far as its provider could read it."""

    message: str = ""  # the upstream's own words, at most MAX_MESSAGE_CHARS
    status: str = ""  # a status word such as "RESOURCE_EXHAUSTED"; "" when absent
    reasons: tuple[str, ...] = ()  # machine reasons, e.g. ("RATE_LIMIT_EXCEEDED",)
    retry_delay: float | None = None  # seconds the upstream asked us to wait


ErrorDecoder = Callable[[Any], ErrorInfo]


@dataclass(frozen=True)
class Call:
    """One API call: `method {base}{path}` with a JSON body.

    `name` names it in messages (`fetchAvailableModels`, `usage`) and keys the
    memo of its last parsed answer."""

    name: str
    path: str
    body: Mapping[str, Any] | None = field(default=None, compare=False)
    method: str = "POST"
    # Turns the decoded body into the provider's reply, or raises a PARSE FetchError.
    # It must depend on the body alone (not on the clock): an unchanged body reuses
    # its last result.
    parse: Callable[[Any], Any] | None = field(default=None, compare=False)

    @cached_property
    def payload(self) -> bytes | None:
        """The body as sent, encoded once per Call (a provider may keep its Calls)."""
        return None if self.body is None else json.dumps(self.body).encode()


def plain_error(body: Any) -> ErrorInfo:
    """The common shapes: `{"error": {"message"}}`, `{"error": "x", "error_description"}`,
    `{"message"}`. Anything else gives an empty ErrorInfo.

    >>> plain_error({"error": {"type": "rate_limit_error", "message": "slow down"}}).message
    'slow down'
    """
    if not isinstance(body, dict):
        return ErrorInfo()
    err = body.get("error")
    status = ""
    message = ""
    if isinstance(err, dict):
        message = _text(err.get("message"))
        status = _text(err.get("type")) or _text(err.get("status")) or _text(err.get("code"))
    elif isinstance(err, str):
        status = err
        message = _text(body.get("error_description"))
    if not message:
        message = _text(body.get("message")) or _text(body.get("detail"))
    return ErrorInfo(message=message[:MAX_MESSAGE_CHARS], status=status[:60])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


T = TypeVar("T")


async def off_loop_if_needed(step: Callable[[float], T], deadline: float) -> T:
    """`step(deadline)` on the loop; again on a blocking thread if it needs the
    network (a token refresh raises NeedsThread before sending anything)."""
    try:
        return step(deadline)
    except NeedsThread:
        return await asyncio.to_thread(step, deadline)


class UpstreamError(FetchError):
    """An HTTP error answer from the upstream, with what its body said."""

    def __init__(
        self, reason: Reason, message: str, *, http_status: int, info: ErrorInfo
    ) -> None:
        super().__init__(reason, message, retry_after=info.retry_delay)
        self.http_status = http_status
        self.info = info


class UpstreamClient:
    """One account's calls to one upstream: its base URLs, token and headers."""

    def __init__(
        self,
        transport: Transport,
        endpoints: tuple[str, ...],
        tokens: TokenSource,
        *,
        headers: Mapping[str, str],
        decode_error: ErrorDecoder = plain_error,
        auth_scheme: str = "Bearer",
        gate: HostGate | None = None,
    ) -> None:
        self._transport = transport
        self._endpoints = endpoints
        self._tokens = tokens
        self._headers = dict(headers)
        self._decode_error = decode_error
        self._auth_scheme = auth_scheme
        self.gate = gate or HostGate()
        # Per call name: the last 200 body of a call with `parse`, and what it parsed to.
        self._parsed: dict[str, tuple[bytes, Any]] = {}
        self._kept_headers: dict[tuple[str, bool], dict[str, str]] = {}

    async def call(
        self,
        name: str,
        path: str,
        deadline: float,
        *,
        body: Mapping[str, Any] | None = None,
        method: str = "POST",
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        """`method {base}{path}` on each base URL in turn; the decoded JSON body, or
        what `parse` makes of it (see `Call.parse`).

        `deadline` is time.monotonic(). Raises FetchError.
        """
        progress = Progress()
        try:
            async with within(deadline) as scope:
                return await self._call(Call(name, path, body, method, parse), deadline,
                                        None, progress)
        except TimeoutError:
            if not scope.expired():
                raise
            raise progress.timed_out(name) from None

    async def call_many(self, calls: Sequence[Call], deadline: float) -> list[Any]:
        """Each call's answer (decoded, or parsed by its `parse`), or the FetchError
        it ended with, in order.

        The calls are in flight together, so they cost one round trip; the token is
        read once for all of them, and one timer holds the deadline for all of them.
        A call whose first answer is a 401, 429, 5xx or network error goes on alone
        as `call` would: token refresh, next base URL.
        """
        if not calls:
            return []
        try:
            token = await self.token(deadline)
        except FetchError as exc:
            return [exc for _ in calls]
        progress = [Progress() for _ in calls]
        results: list[Any] = [_PENDING] * len(calls)

        async def one(i: int) -> None:
            c = calls[i]
            try:
                results[i] = await self._call(c, deadline, token, progress[i])
            except Exception as exc:
                results[i] = _as_fetch_error(c.name, exc)

        try:
            async with within(deadline):
                # The first call right here, the others as tasks: all in flight
                # together, one task fewer than gather would make.
                loop = asyncio.get_running_loop()
                others = [loop.create_task(one(i)) for i in range(1, len(calls))]
                try:
                    await one(0)
                    for task in others:
                        await task
                finally:
                    for task in others:
                        task.cancel()  # only those still running: the deadline passed
        except TimeoutError:
            pass  # the calls still pending say how far they got
        return [p.timed_out(c.name) if r is _PENDING else r
                for c, p, r in zip(calls, progress, results, strict=True)]

    async def token(self, deadline: float) -> str:
        """The account's access token, refreshed on a blocking thread when that needs
        the network (the loop itself never waits for the OAuth server)."""
        return await off_loop_if_needed(self._tokens.token, deadline)

    async def _call(
        self, call: Call, deadline: float, token: str | None, progress: Progress
    ) -> Any:
        """`call` on each base URL in turn, within a deadline its caller holds."""
        payload = call.payload
        if token is None:
            token = await self.token(deadline)
        try:
            return await self._try_hosts(call, payload, token, deadline, progress)
        except _Unauthorized as exc:
            # A source that cannot refresh raises an auth error that says why; the
            # 401's own words ("token_expired") go in front of it.
            try:
                token = await asyncio.to_thread(self._tokens.refresh, deadline, token)
            except FetchError as err:
                detail = _detail(exc.info)
                if not detail:
                    raise
                raise UpstreamError(
                    err.reason, f"{call.name}: {exc.host} answered 401: {detail}; {err.message}",
                    http_status=401, info=exc.info,
                ) from None
            try:
                return await self._try_hosts(call, payload, token, deadline, progress)
            except _Unauthorized:
                raise FetchError(
                    Reason.AUTH,
                    f"{call.name}: {exc.host} answered 401 again after a token refresh",
                ) from None

    async def _try_hosts(
        self, call: Call, payload: bytes | None, token: str, deadline: float,
        progress: Progress,
    ) -> Any:
        last: FetchError | None = None
        for base in self._endpoints:
            host = host_of(base)
            wait = self.gate.wait_left(host)
            if wait > 0:
                last = FetchError(
                    Reason.RATE_LIMITED,
                    f"{call.name}: {host} asked us to wait; next call in {human_duration(wait)}",
                    retry_after=wait,
                )
                continue
            try:
                reply = await self._transport.request(
                    call.method, base, call.path, payload,
                    self._headers_for(token, call.body is not None), deadline,
                    name=call.name, host=host, progress=progress,
                )
                return self._interpret(reply, call, host)
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

    def _headers_for(self, token: str, with_body: bool) -> dict[str, str]:
        """The request headers for `token`, built once per token (never changed after)."""
        key = (token, with_body)
        kept = self._kept_headers.get(key)
        if kept is not None:
            return kept
        headers = {
            **self._headers,
            # An empty scheme sends the key alone, as some vendors expect.
            "Authorization": f"{self._auth_scheme} {token}" if self._auth_scheme else token,
            "Accept": "application/json",
        }
        # JSON, unless the provider's spec names its own JSON dialect (AWS's
        # `application/x-amz-json-1.0`); configs cannot set it.
        if with_body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        if len(self._kept_headers) >= 4:  # tokens rotate: keep only the latest few
            self._kept_headers.clear()
        self._kept_headers[key] = headers
        return headers

    def _interpret(self, reply: RawReply, call: Call, host: str) -> Any:
        """The answer of a 200 (decoded, then parsed when the call has `parse`);
        raises the FetchError any other answer means.

        A call with `parse` whose body is byte for byte its last one gets the very
        same parsed object again, with nothing decoded or parsed.
        """
        name = call.name
        if reply.status == 200:
            if call.parse is not None:
                last = self._parsed.get(name)
                if last is not None and last[0] == reply.body:
                    return last[1]
            try:
                body = json.loads(reply.body)
            except ValueError:
                raise FetchError(
                    Reason.PARSE, f"{name}: {host} answered 200 with a body that is not JSON"
                ) from None
            if call.parse is None:
                return body
            result = call.parse(body)  # a body of the wrong shape raises FetchError
            self._parsed[name] = (reply.body, result)
            return result
        if reply.status == 401:
            raise _Unauthorized(host, self._error_info(reply.body, None))
        raise self._error_for(reply.status, reply.body, reply.retry_after, name, host)

    def _error_info(self, raw: bytes, retry_after: float | None) -> ErrorInfo:
        """What an error body says; a JSON body is read whatever its Content-Type
        (some hosts serve JSON errors as text/plain)."""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        info = self._decode_error(body)
        if info.retry_delay is None and retry_after is not None:
            info = ErrorInfo(info.message, info.status, info.reasons, retry_after)
        return info

    def _error_for(
        self, status: int, raw: bytes, retry_after: float | None, name: str, host: str
    ) -> UpstreamError:
        info = self._error_info(raw, retry_after)
        message = f"{name}: {host} answered {status}: {_detail(info) or 'no error message'}"
        if status == 429:
            reason = Reason.RATE_LIMITED
            if info.retry_delay:  # `Retry-After: 0` names no wait (the host still closes)
                message += f"; retry in {human_duration(info.retry_delay)}"
        elif status == 403:
            reason = Reason.FORBIDDEN
        else:  # 5xx, and 4xx answers that say the request itself was wrong
            reason = Reason.UPSTREAM
        return UpstreamError(reason, message, http_status=status, info=info)


def _detail(info: ErrorInfo) -> str:
    """An error body's words for a message: its message (or status) and reasons."""
    detail = info.message or info.status
    if info.reasons:
        detail = f"{detail or 'no error message'} [{', '.join(info.reasons)}]"
    return detail


class _Unauthorized(Exception):
    def __init__(self, host: str, info: ErrorInfo) -> None:
        super().__init__(host)
        self.host = host
        self.info = info  # what the 401's body said


def _as_fetch_error(name: str, exc: Exception) -> FetchError:
    """A call's error as its answer: a FetchError as it is; a bug of ours (any other
    exception) an INTERNAL FetchError for this call only, logged with its traceback."""
    if isinstance(exc, FetchError):
        return exc
    log.error("unexpected error in an upstream call", exc_info=exc,
              extra={"kv": {"call": name}})
    return FetchError(Reason.INTERNAL, f"{name}: unexpected error ({type(exc).__name__})")
