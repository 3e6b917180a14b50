"""A lean fake Antigravity upstream for N accounts, costing the machine little.

    python -m benchmarks.lean_upstream --accounts 1000 --latency 0.2 \\
        --listen 127.0.0.1:0 --write-config exporter.yml

One asyncio thread and a raw `asyncio.Protocol`: HTTP/1.1 with keep-alive, no
framework, no threads. Every reply body is built once at start (the simulator's
Antigravity shapes: five models plus the internal entries, and the 5-hour and
weekly buckets of both pools), so answering costs a dictionary lookup and a
write, sent `latency` seconds later by `loop.call_later`. With `--change-fraction
F`, that fraction of the accounts answer with a moving remaining fraction, so their
reply bytes differ on every call (the worst case for a cache of unchanged replies).

Routes: `POST [/prefix]/v1internal:{loadCodeAssist,fetchAvailableModels,
retrieveUserQuotaSummary}` (the account is known by its bearer token; the quota
calls must name its project), `POST /token` (an OAuth refresh), and, answered at
once, `GET /_lean/accounts` (name, token, project), `GET /_lean/calls` (per
account and method, since the last reset) and `POST /_lean/reset`.

It prints one JSON line once listening: `{"base_url": ..., "accounts": N, "pid": ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import yaml

from exporter.providers.antigravity import simulated
from exporter.providers.google.simulated import load_code_assist
from exporter.simkit.common import AccountState, SimAccount

# The simulator's registry of upstreams, which SimAccount checks its tier against.
from exporter.simulator.upstreams import upstream_for

QUOTA_METHODS = ("fetchAvailableModels", "retrieveUserQuotaSummary")
METHODS = ("loadCodeAssist", *QUOTA_METHODS)
TOKEN = "token"  # the OAuth refresh, counted like a method
MAX_HEAD = 64 * 1024  # request line and headers
MAX_BODY = 1024 * 1024
# Stands in for the moving fraction in a changing account's bodies (a value no
# account has: the simulator's defaults are 0.5 and above, in steps of 0.2).
_MOVING = 0.123456789
_MOVING_JSON = b"0.123456789"
_V1 = b"/v1internal:"
_STATUS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
           413: "Content Too Large", 501: "Not Implemented"}


class BadRequest(Exception):
    """A request this server will not read; the connection is answered and closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Request:
    verb: str
    target: bytes  # the path as sent, query included
    headers: dict[bytes, bytes]  # lower-case names; a repeated header keeps the last
    body: bytes

    @property
    def keep_alive(self) -> bool:
        return self.headers.get(b"connection", b"").lower() != b"close"


def parse_request(buffer: bytes | bytearray) -> tuple[Request, int] | None:
    """The first complete request in `buffer` and how many bytes it used; None when
    more bytes are needed. Raises BadRequest for what HTTP/1.1 clients do not send
    here (chunked bodies, no Content-Length on a body, garbage)."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise BadRequest(400, "request head too long")
        return None
    lines = bytes(buffer[:end]).split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise BadRequest(400, f"bad request line {lines[0][:100]!r}")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise BadRequest(400, f"bad header line {line[:100]!r}")
        headers[name.lower()] = value.strip()
    if b"transfer-encoding" in headers:
        raise BadRequest(501, "chunked request bodies are not supported; send Content-Length")
    try:
        length = int(headers.get(b"content-length", b"0"))
    except ValueError:
        raise BadRequest(400, "bad Content-Length") from None
    if length < 0 or length > MAX_BODY:
        raise BadRequest(413 if length > 0 else 400, f"Content-Length {length}")
    start = end + 4
    if len(buffer) < start + length:
        return None
    request = Request(parts[0].decode("latin-1"), parts[1], headers,
                      bytes(buffer[start:start + length]))
    return request, start + length


def response(status: int, body: bytes, keep_alive: bool = True) -> bytes:
    head = (f"HTTP/1.1 {status} {_STATUS.get(status, 'Error')}\r\n"
            "Content-Type: application/json; charset=UTF-8\r\n"
            f"Content-Length: {len(body)}\r\n")
    if not keep_alive:
        head += "Connection: close\r\n"
    return head.encode("latin-1") + b"\r\n" + body


def google_error(status: int, message: str) -> bytes:
    word = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
            404: "NOT_FOUND"}.get(status, "UNKNOWN")
    return json.dumps({"error": {"code": status, "message": message, "status": word}}).encode()


@dataclass
class Account:
    """One account's identity and its replies, built once."""

    name: str
    token: str
    refresh_token: str
    project: str
    load_code_assist: bytes
    # method -> the body, or its two halves around the moving fraction
    bodies: dict[str, bytes | tuple[bytes, bytes]]
    changes: bool
    calls: dict[str, int] = field(default_factory=dict)
    moves: int = 0  # how often a changing account's fraction moved

    def body(self, method: str) -> bytes:
        body = self.bodies[method]
        if isinstance(body, bytes):
            return body
        # A different value on every call: 0.5000 .. 0.9998, period 4999.
        self.moves += 1
        value = 0.5 + (self.moves * 7919 % 4999) / 10000
        return body[0] + f"{value:.4f}".encode() + body[1]


def _split(payload: dict[str, Any]) -> tuple[bytes, bytes]:
    before, marker, after = json.dumps(payload).encode().partition(_MOVING_JSON)
    assert marker, "the moving fraction is missing from the body"
    return before, after


def build_accounts(n: int, change_fraction: float, now: float) -> list[Account]:
    """`lean-0001` .. `lean-NNNN`; the first round(n * change_fraction) change."""
    assert upstream_for("antigravity") is simulated.ANTIGRAVITY
    changing = round(n * change_fraction)
    accounts = []
    for i in range(1, n + 1):
        name = f"lean-{i:04d}"
        spec = SimAccount(name, project=f"lean-project-{i:04d}")
        state = AccountState(spec, now)
        models = simulated.models_body(state, now)
        summary = simulated.summary_body(state, now)
        changes = i <= changing
        bodies: dict[str, bytes | tuple[bytes, bytes]]
        if changes:
            models["models"]["gemini-3-pro-high"]["quotaInfo"]["remainingFraction"] = _MOVING
            summary["groups"][0]["buckets"][0]["remainingFraction"] = _MOVING
            bodies = {"fetchAvailableModels": _split(models),
                      "retrieveUserQuotaSummary": _split(summary)}
        else:
            bodies = {"fetchAvailableModels": json.dumps(models).encode(),
                      "retrieveUserQuotaSummary": json.dumps(summary).encode()}
        assert spec.project is not None
        accounts.append(Account(
            name=name, token=f"ya29.lean-{i:04d}", refresh_token=f"1//lean-{i:04d}",
            project=spec.project,
            load_code_assist=json.dumps(load_code_assist(spec, spec.project)).encode(),
            bodies=bodies, changes=changes,
            calls=dict.fromkeys((TOKEN, *METHODS), 0)))
    return accounts


class Upstream:
    """The accounts, their counters and the routes; no I/O of its own."""

    def __init__(self, accounts: list[Account], latency: float) -> None:
        self.accounts = accounts
        self.latency = latency
        self._by_token = {f"Bearer {a.token}".encode(): a for a in accounts}
        self._by_refresh = {a.refresh_token: a for a in accounts}
        self.unknown = 0  # calls no account could be found for

    def answer(self, req: Request) -> tuple[int, bytes, float]:
        """(status, body, delay): upstream calls wait `latency`, control calls not."""
        path = req.target
        if path.startswith(b"/_lean/"):
            return self._control(req.verb, path)
        at = path.find(_V1)
        if at >= 0:
            method = path[at + len(_V1):].decode("latin-1")
            return (*self._cloud_code(req, method), self.latency)
        if path == b"/token" and req.verb == "POST":
            return (*self._token(req.body), self.latency)
        self.unknown += 1
        return 404, google_error(404, f"no route {req.verb} {path[:100]!r}"), 0.0

    def _cloud_code(self, req: Request, method: str) -> tuple[int, bytes]:
        account = self._by_token.get(req.headers.get(b"authorization", b""))
        if account is None:
            self.unknown += 1
            return 401, google_error(401, "Request had invalid authentication credentials.")
        if req.verb != "POST" or method not in METHODS:
            self.unknown += 1
            return 404, google_error(404, f"Method {method!r} not found.")
        account.calls[method] += 1
        if method == "loadCodeAssist":
            return 200, account.load_code_assist
        # The project must be the account's; a bytes search, not a JSON decode.
        if f'"{account.project}"'.encode() not in req.body:
            return 403, google_error(403, "Permission denied on resource project.")
        return 200, account.body(method)

    def _token(self, body: bytes) -> tuple[int, bytes]:
        form = parse_qs(body.decode("latin-1"))
        account = self._by_refresh.get((form.get("refresh_token") or [""])[0])
        if account is None or form.get("grant_type") != ["refresh_token"]:
            self.unknown += 1
            return 400, json.dumps({"error": "invalid_grant"}).encode()
        account.calls[TOKEN] += 1
        return 200, json.dumps({"access_token": account.token, "expires_in": 3599,
                                "token_type": "Bearer"}).encode()

    def _control(self, verb: str, path: bytes) -> tuple[int, bytes, float]:
        if (verb, path) == ("GET", b"/_lean/calls"):
            doc = {"accounts": {a.name: a.calls for a in self.accounts},
                   "unknown": self.unknown}
            return 200, json.dumps(doc).encode(), 0.0
        if (verb, path) == ("POST", b"/_lean/reset"):
            for a in self.accounts:
                a.calls = dict.fromkeys(a.calls, 0)
            self.unknown = 0
            return 200, b'{"ok": true}', 0.0
        if (verb, path) == ("GET", b"/_lean/accounts"):
            listed = [{"name": a.name, "token": a.token, "project": a.project,
                       "changes": a.changes} for a in self.accounts]
            return 200, json.dumps({"accounts": listed}).encode(), 0.0
        return 404, google_error(404, f"no control route {verb} {path[:100]!r}"), 0.0


class Connection(asyncio.Protocol):
    """One client connection: requests in, replies out in the order asked."""

    def __init__(self, upstream: Upstream, loop: asyncio.AbstractEventLoop) -> None:
        self._upstream = upstream
        self._loop = loop
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        # Replies not sent yet, in request order; None until its delay has passed.
        self._pending: list[list[bytes | None]] = []
        self._closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._buffer += data
        while True:
            try:
                parsed = parse_request(self._buffer)
            except BadRequest as exc:
                self._closing = True
                self._queue(response(exc.status, google_error(exc.status, str(exc)), False), 0.0)
                return
            if parsed is None:
                return
            req, used = parsed
            del self._buffer[:used]
            status, body, delay = self._upstream.answer(req)
            keep = req.keep_alive
            self._queue(response(status, body, keep), delay)
            if not keep:
                self._closing = True
                return

    def _queue(self, reply: bytes, delay: float) -> None:
        slot: list[bytes | None] = [None]
        self._pending.append(slot)
        if delay > 0:
            self._loop.call_later(delay, self._ready, slot, reply)
        else:
            self._ready(slot, reply)

    def _ready(self, slot: list[bytes | None], reply: bytes) -> None:
        slot[0] = reply
        transport = self._transport
        while self._pending and self._pending[0][0] is not None:
            out = self._pending.pop(0)[0]
            if transport is not None and out is not None:
                transport.write(out)
        if self._closing and not self._pending and transport is not None:
            transport.close()


def raise_fd_limit() -> int:
    """The soft RLIMIT_NOFILE raised to the hard limit (10,000 connections need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    return soft


def exporter_config(base_url: str, accounts: Sequence[Account],
                    credential: str = "access_token") -> dict[str, Any]:
    """An exporter config for these accounts, pointing at this server only."""
    entries: list[dict[str, Any]] = []
    for a in accounts:
        entry: dict[str, Any] = {"name": a.name, "provider": "antigravity"}
        if credential == "access_token":
            entry["credentials"] = {"access_token": a.token}
        else:  # refreshed at start through this server's /token
            entry["credentials"] = {"refresh_token": a.refresh_token}
            entry["oauth_client"] = {"client_id": "lean-client", "client_secret": "lean-secret"}
        entry["endpoints"] = [base_url]
        entry["token_url"] = f"{base_url}/token"
        entries.append(entry)
    return {"accounts": entries}


async def serve(args: argparse.Namespace, ready: Callable[[str], None]) -> None:
    loop = asyncio.get_running_loop()
    upstream = Upstream(build_accounts(args.accounts, args.change_fraction, time.time()),
                        args.latency)
    host, _, port = args.listen.rpartition(":")
    server = await loop.create_server(lambda: Connection(upstream, loop), host, int(port),
                                      backlog=args.backlog, reuse_address=True)
    bound = server.sockets[0].getsockname()
    base_url = f"http://{host}:{bound[1]}"
    if args.write_config is not None:
        config = exporter_config(base_url, upstream.accounts, args.credential)
        args.write_config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        args.write_config.chmod(0o600)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    ready(base_url)
    async with server:
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lean_upstream",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=100, metavar="N")
    parser.add_argument("--latency", type=float, default=0.2, metavar="SECONDS",
                        help="delay before every upstream reply (default 0.2)")
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT")
    parser.add_argument("--change-fraction", type=float, default=0.0, metavar="F",
                        help="this fraction of accounts answer with bytes that change on "
                        "every call (default 0: every reply byte-identical)")
    parser.add_argument("--credential", choices=("access_token", "refresh_token"),
                        default="access_token",
                        help="the credential kind in the written config (default "
                        "access_token: no token refresh at all)")
    parser.add_argument("--backlog", type=int, default=16384,
                        help="listen backlog (the kernel caps it at net.core.somaxconn)")
    parser.add_argument("--write-config", type=Path, metavar="PATH",
                        help="write an exporter config YAML for the accounts here")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen {args.listen!r}: expected HOST:PORT, e.g. 127.0.0.1:0")
    if args.accounts < 1:
        parser.error("--accounts must be at least 1")
    if not 0.0 <= args.change_fraction <= 1.0:
        parser.error("--change-fraction must be between 0 and 1")
    if args.latency < 0:
        parser.error("--latency must not be negative")
    raise_fd_limit()

    def ready(base_url: str) -> None:
        print(json.dumps({"base_url": base_url, "accounts": args.accounts,
                          "pid": os.getpid()}), flush=True)

    try:
        asyncio.run(serve(args, ready))
    except OSError as exc:
        print(f"cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
