"""A fake Antigravity upstream on loopback, for the demo, the tests and the benchmarks.

    with Simulator([SimAccount("work"), SimAccount("home", tier="free-tier")]) as sim:
        config = sim.exporter_config(tmp_path)     # dump with yaml.safe_dump
        sim.set_fault("work", "429", times=1)      # the next call of "work" gets a 429
        sim.set_model_fraction("home", "gemini-3-flash", 0.25)

Two fake hosts share one port, told apart by a path prefix: `{base_url}/daily` and
`{base_url}/prod` (a bare `base_url` is "prod"); the OAuth token endpoint is
`{base_url}/token`. The same controls are reachable over HTTP under `/_sim/` for a
simulator in another process:

    python -m exporter.simulator --demo --write-config ./sim/config.yml
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

from exporter.sim_model import (
    BAD_TOKEN,
    FAULT_KINDS,
    NO_LICENSE,
    Fault,
    Reply,
    SimAccount,
    google_error,
    json_reply,
)
from exporter.sim_state import SimState
from exporter.timefmt import rfc3339

__all__ = ["FAULT_KINDS", "SimAccount", "Simulator", "bench_accounts", "demo_accounts", "main"]

logger = logging.getLogger(__name__)

_UPSTREAM_PATH = re.compile(r"^(?:/(daily|prod))?/v1internal:([A-Za-z]+)$")
_CONTROL_PATH = re.compile(r"^/_sim/accounts/([^/]+)/([a-z-]+)$")
LARGE_BODY_BYTES = 20 * 1024 * 1024
_HTML = (b"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>Sign in - Google "
         b"Accounts</title></head><body><p>Please sign in to continue.</p></body></html>\n")
# Valid JSON whose types are wrong where a parser looks: lists for objects, strings for numbers.
_WRONG_TYPES: Mapping[str, object] = {
    "loadCodeAssist": {"cloudaicompanionProject": 42, "currentTier": "g1-pro-tier",
                       "paidTier": ["g1-pro-tier"]},
    "fetchAvailableModels": {"models": [{"gemini-3-flash": {
        "displayName": 3, "quotaInfo": {"remainingFraction": "lots", "resetTime": 1234}}}]},
    "retrieveUserQuotaSummary": {"groups": {"displayName": "Gemini Models", "buckets": "none"}},
    "token": {"access_token": 12345, "expires_in": "soon", "token_type": ["Bearer"]},
}


def _error_fault(fault: Fault) -> Reply:
    if fault.kind == "429":
        delay = f"{fault.retry_delay:g}s"
        return google_error(429, "RESOURCE_EXHAUSTED",
                            "Resource has been exhausted (e.g. check quota).", [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
             "domain": "cloudcode-pa.googleapis.com", "metadata": {"quotaResetDelay": delay}},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}])
    code, status, message = {
        "401": (401, "UNAUTHENTICATED", BAD_TOKEN),
        "403": (403, "PERMISSION_DENIED", "Verify your account to continue."),
        "403_license": (403, "PERMISSION_DENIED", NO_LICENSE),
        "500": (500, "INTERNAL", "Internal error encountered."),
        "503": (503, "UNAVAILABLE", "The service is currently unavailable."),
    }[fault.kind]
    return google_error(code, status, message)


def apply_fault(fault: Fault | None, method: str, reply: Reply) -> Reply:
    """What the client gets instead of `reply` (the honest answer) under `fault`."""
    if fault is None or fault.kind == "not_onboarded":  # already applied by the model
        return reply
    if fault.kind == "hang":
        return dataclasses.replace(reply, delay=fault.hang_seconds)
    if fault.kind == "malformed":
        return Reply(200, reply.body[: max(1, len(reply.body) // 2)])
    if fault.kind == "large":
        # The honest body plus padding: still valid, so only a size limit stops it.
        head = reply.body.rstrip()[:-1]
        padding = b'"padding": "' + b"x" * LARGE_BODY_BYTES + b'"}'
        return Reply(200, head + (b", " if head.strip() != b"{" else b"") + padding)
    if fault.kind == "html":
        return Reply(200, _HTML, "text/html; charset=utf-8")
    if fault.kind == "wrong_types":
        return json_reply(_WRONG_TYPES.get(method, {"models": "wrong"}))
    return _error_fault(fault)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the benchmarks open 500 connections at once

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            (self._connections.add if open_ else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """End idle keep-alive connections so a stopped simulator answers nothing more."""
        with self._connections_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-reply (size limits, timeouts, stop()) are routine here.
        if isinstance(sys.exc_info()[1], OSError):
            return
        logger.exception("simulator: error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections
    timeout = 300  # seconds an idle keep-alive connection holds a thread
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("simulator: " + format, *args)

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, verb: str) -> None:
        try:
            self._serve(verb)
        except OSError:
            raise  # the client hung up; handle_error keeps quiet about it
        except Exception as exc:  # a simulator bug: say so rather than drop the connection
            logger.exception("simulator: failed to serve %s %s", verb, self.path)
            self._send(google_error(500, "INTERNAL", f"simulator error: {exc!r}"))

    def _serve(self, verb: str) -> None:
        length = self.headers.get("Content-Length", "0")
        body = self.rfile.read(int(length)) if length.isdigit() else b""
        path = urlsplit(self.path).path
        sim = self.server.sim
        if path.startswith("/_sim/"):
            self._send(sim.control(verb, path, body))
            return
        upstream = _UPSTREAM_PATH.match(path)
        if verb == "POST" and upstream:
            method = upstream.group(2)
            auth = self.headers.get("Authorization", "")
            scheme, _, token = auth.partition(" ")
            fault, reply = sim.upstream(upstream.group(1) or "prod", method,
                                        token.strip() if scheme.lower() == "bearer" else None, body)
        elif verb == "POST" and path == "/token":
            method = "token"
            fault, reply = sim.token(dict(parse_qsl(body.decode("utf-8", "replace"))))
        else:
            self._send(google_error(404, "NOT_FOUND", f"No route for {verb} {path}."))
            return
        reply = apply_fault(fault, method, reply)
        if self.server.stopping.wait(sim.latency + reply.delay):
            self.close_connection = True  # stopped while waiting: answer nothing
            return
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


def _field(payload: Mapping[str, Any], key: str) -> Any:
    if key not in payload:
        raise ValueError(f"request body is missing field {key!r}")
    return payload[key]


def _write_secret(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


class Simulator(SimState):
    """The fake upstream: `SimState` (controls, calls, fractions) behind a loopback server."""

    def __init__(self, accounts: Sequence[SimAccount] | None = None, *, latency: float = 0.0,
                 token_ttl: float = 3600.0, clock: Callable[[], float] = time.time,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(demo_accounts() if accounts is None else accounts,
                         token_ttl=token_ttl, clock=clock)
        self.latency = latency  # seconds added to every upstream and token reply
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Simulator:
        if self._server is None:
            self._server = _Server(self._address, self)
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name="simulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()  # wakes replies sleeping on latency or a hang fault
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def endpoints(self) -> list[str]:
        return [self.base_url + "/daily", self.base_url + "/prod"]

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    def control(self, verb: str, path: str, body: bytes) -> Reply:
        """The `/_sim/` HTTP API: the control methods for another process."""
        try:
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise ValueError("request body must be a JSON object")
            if (verb, path) == ("GET", "/_sim/state"):
                return json_reply(self.state())
            if (verb, path) == ("GET", "/_sim/calls"):
                return json_reply({"accounts": self.calls(), "hosts": self.calls_by_host()})
            if (verb, path) == ("POST", "/_sim/reset-calls"):
                self.reset_calls()
                return json_reply({"ok": True})
            match = _CONTROL_PATH.match(path)
            name = unquote(match.group(1)) if match else ""
            actions: dict[tuple[str, str], Callable[[], None]] = {
                ("POST", "fault"): lambda: self.set_fault(name, **payload),
                ("DELETE", "faults"): lambda: self.clear_faults(name),
                ("POST", "exhaust"): lambda: self.exhaust(name),
                ("POST", "model-fraction"): lambda: self.set_model_fraction(
                    name, _field(payload, "model"), _field(payload, "fraction")),
                ("POST", "pool-fraction"): lambda: self.set_pool_fraction(
                    name, _field(payload, "pool"), _field(payload, "window"),
                    _field(payload, "fraction")),
                ("POST", "drain"): lambda: self.set_drain(name, _field(payload, "per_hour")),
                ("POST", "revoke-refresh-token"): lambda: self.revoke_refresh_token(name),
                ("POST", "expire-access-tokens"): lambda: self.expire_access_tokens(name),
            }
            action = actions.get((verb, match.group(2))) if match else None
            if action is None:
                return json_reply({"error": f"no control route {verb} {path}"}, 404)
            action()
            return json_reply({"ok": True})
        except KeyError as exc:  # an unknown account, model or pool
            return json_reply({"error": str(exc.args[0])}, 404)
        except (ValueError, TypeError) as exc:
            return json_reply({"error": str(exc)}, 400)

    def exporter_config(self, directory: Path, *, accounts: Sequence[str] | None = None,
                        defaults: Mapping[str, object] | None = None) -> dict[str, object]:
        """An exporter config (the YAML schema, as a dict) for these accounts, pointing here.

        Token files and CLIProxyAPI-style credential files go into `directory`.
        """
        directory.mkdir(parents=True, exist_ok=True)
        names = self.account_names if accounts is None else accounts
        config: dict[str, object] = {"defaults": dict(defaults)} if defaults else {}
        config["accounts"] = [self._account_config(name, directory) for name in names]
        return config

    def _account_config(self, name: str, directory: Path) -> dict[str, object]:
        spec = self.account(name)
        style = spec.credential_style
        refresh, access, expires_at = self.credentials(name, expiring=style == "file")
        credentials: dict[str, str]
        if style in ("refresh_token", "access_token"):
            credentials = {style: refresh if style == "refresh_token" else access}
        elif style in ("refresh_token_file", "access_token_file"):
            path = directory / f"{name}.{style.removesuffix('_file')}"
            _write_secret(path, (refresh if style == "refresh_token_file" else access) + "\n")
            credentials = {style: str(path)}
        else:  # "file": what CLIProxyAPI keeps in ~/.cli-proxy-api/antigravity-<email>.json
            path = directory / f"antigravity-{spec.email}.json"
            issued = expires_at - self.token_ttl
            auth: dict[str, object] = {
                "type": "antigravity", "access_token": access, "refresh_token": refresh,
                "expires_in": int(self.token_ttl), "timestamp": int(issued * 1000),
                "expired": rfc3339(expires_at), "email": spec.email}
            if spec.project:
                auth["project_id"] = spec.project
            _write_secret(path, json.dumps(auth, indent=2) + "\n")
            credentials = {"file": str(path)}
        entry: dict[str, object] = {"name": name, "provider": "antigravity",
                                    "credentials": credentials}
        if not style.startswith("access_token"):
            entry["oauth_client"] = {"client_id": self.client_id,
                                     "client_secret": self.client_secret}
        entry["endpoints"] = self.endpoints
        entry["token_url"] = self.token_url
        return entry


def demo_accounts() -> list[SimAccount]:
    """Accounts that show every state the exporter knows, draining fast enough to watch."""
    return [
        SimAccount("demo-ultra", tier="g1-ultra-tier", drain_per_hour=0.6),
        SimAccount("demo-pro", credential_style="file", drain_per_hour=1.2),
        SimAccount("demo-pro-2", credential_style="access_token", drain_per_hour=1.5,
                   model_fractions={"claude-sonnet-4-5": 0.06},
                   pool_fractions={"claude-gpt/5h": 0.12}),
        SimAccount("demo-standard", tier="standard-tier",
                   credential_style="refresh_token_file", drain_per_hour=0.3),
        SimAccount("demo-free", tier="free-tier", drain_per_hour=0.4),
        SimAccount("demo-revoked", revoked=True),
        SimAccount("demo-not-onboarded", tier="free-tier", project=None,
                   credential_style="access_token_file"),
    ]


def bench_accounts(n: int) -> list[SimAccount]:
    """`bench-0001` .. `bench-NNNN`: identical g1-pro accounts with refresh tokens."""
    return [SimAccount(f"bench-{i:04d}") for i in range(1, n + 1)]


def write_config(sim: Simulator, path: Path) -> None:
    """The exporter config YAML for all accounts at `path`, credential files beside it."""
    config = sim.exporter_config(path.parent)
    _write_secret(path, yaml.safe_dump(config, sort_keys=False))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exporter.simulator",
        description="Run a fake Antigravity upstream on loopback until SIGTERM or Ctrl-C.")
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                        help="address to bind (default %(default)s: loopback, any free port)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--accounts", type=int, metavar="N", help="N bench accounts")
    which.add_argument("--demo", action="store_true", help="the demo accounts (the default)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="delay added to every upstream reply")
    parser.add_argument("--token-ttl", type=float, default=3600.0, metavar="SECONDS",
                        help="lifetime of access tokens from the token endpoint")
    parser.add_argument("--write-config", type=Path, metavar="PATH",
                        help="write an exporter config YAML for all accounts here")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen {args.listen!r}: expected HOST:PORT, e.g. 127.0.0.1:0")
    if args.accounts is not None and args.accounts < 1:
        parser.error(f"--accounts {args.accounts}: expected at least 1")
    accounts = demo_accounts() if args.accounts is None else bench_accounts(args.accounts)

    sim = Simulator(accounts, latency=args.latency, token_ttl=args.token_ttl,
                    host=host, port=int(port))
    try:
        sim.start()
    except OSError as exc:
        parser.exit(1, f"cannot listen on {args.listen}: {exc.strerror or exc}\n")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with sim:
        if args.write_config is not None:
            write_config(sim, args.write_config)
        print(json.dumps({"base_url": sim.base_url, "endpoints": sim.endpoints,
                          "token_url": sim.token_url}), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
