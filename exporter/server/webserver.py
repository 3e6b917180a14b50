"""Serving with a web config: basic auth middleware, and TLS for the server.

The TLS handshake is driven without blocking by the server's selector
(exporter/server/httpd.py), never in a thread that others wait for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cheroot.makefile import MakeFile

from exporter.config import Secret
from exporter.server.webconfig import REALM, WebConfig, ssl_context

log = logging.getLogger(__name__)


class BasicAuth:
    """Checks `Authorization: Basic` headers against bcrypt hashes.

    A success is remembered for `cache_ttl` seconds under a SHA-256 of the
    decoded `user:password`, so a scrape every few seconds costs one bcrypt per
    TTL, not one per request. Unknown users are checked against a decoy hash of
    the same cost so that timing does not reveal which user names exist, and
    bcrypt runs one at a time so a flood of guesses cannot take every core.
    """

    CACHE_MAX = 256

    def __init__(
        self, users: Mapping[str, Secret], *, cache_ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = {u: h.reveal().encode("ascii") for u, h in users.items()}
        self._cost = max((int(h[4:6]) for h in self._users.values()), default=4)
        self._decoy: bytes | None = None
        self._ttl, self._clock = cache_ttl, clock
        self._cache: dict[bytes, float] = {}
        self._lock, self._bcrypt_lock = threading.Lock(), threading.Lock()

    def challenge_headers(self) -> list[tuple[str, str]]:
        return [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')]

    def check(self, authorization_header: str | None) -> bool:
        raw = _basic_credentials(authorization_header)
        if raw is None:
            return False
        user_bytes, _, password = raw.partition(b":")
        digest = hashlib.sha256(raw).digest()
        now = self._clock()
        with self._lock:
            expiry = self._cache.get(digest)
            if expiry is not None and expiry > now:
                return True
        user = user_bytes.decode("utf-8", "replace")
        ok = self._verify(password, self._users.get(user))
        if ok:
            with self._lock:
                self._remember(digest, now)
        return ok

    def _verify(self, password: bytes, hashed: bytes | None) -> bool:
        import bcrypt

        with self._bcrypt_lock:
            if hashed is None and self._decoy is None:
                self._decoy = bcrypt.hashpw(b"decoy", bcrypt.gensalt(self._cost))
            try:
                match = bcrypt.checkpw(password, hashed or self._decoy or b"")
            except ValueError:  # longer than bcrypt's 72 bytes: Go's bcrypt refuses it too
                return False
        return match and hashed is not None

    def _remember(self, digest: bytes, now: float) -> None:
        if len(self._cache) >= self.CACHE_MAX:
            self._cache = {k: t for k, t in self._cache.items() if t > now}
            while len(self._cache) >= self.CACHE_MAX:
                del self._cache[next(iter(self._cache))]
        self._cache[digest] = now + self._ttl


def _basic_credentials(header: str | None) -> bytes | None:
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if b":" in raw else None


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wrap_wsgi(
    app: WSGIApp, cfg: WebConfig, open_paths: frozenset[str] = frozenset({"/-/healthy"}),
    *, clock: Callable[[], float] = time.monotonic,
) -> WSGIApp:
    """Require basic auth (when users are configured) on every path but `open_paths`.

    The configured http_server_config.headers go on every response, refusals included.
    """
    if not cfg.basic_auth_users and not cfg.headers:
        return app
    auth = BasicAuth(cfg.basic_auth_users, clock=clock) if cfg.basic_auth_users else None
    extra = list(cfg.headers)

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            return start_response(status, [*headers, *extra], *exc_info)

        if (
            auth is not None
            and (environ.get("PATH_INFO") or "/") not in open_paths
            and not auth.check(environ.get("HTTP_AUTHORIZATION"))
        ):
            body = b"Unauthorized.\n"
            start("401 Unauthorized", [("Content-Type", "text/plain; charset=utf-8"),
                                       ("Content-Length", str(len(body))),
                                       *auth.challenge_headers()])
            return [body]
        return app(environ, start)

    return middleware


class TLSAdapter:
    """TLS for the cheroot server (exporter/server/httpd.py), from our own SSLContext.

    cheroot's builtin adapter handshakes inside its accept loop, so one silent
    client would hold every other one up. Here `wrap` only wraps; the server's
    selector drives `handshake` on the non-blocking socket as bytes arrive, and
    then checks client_allowed_sans.
    """

    def __init__(self, context: ssl.SSLContext, allowed_sans: tuple[str, ...] = ()) -> None:
        self.context = context
        self.allowed_sans = allowed_sans

    def bind(self, sock: socket.socket) -> socket.socket:
        return sock

    def wrap(self, sock: socket.socket) -> tuple[ssl.SSLSocket, dict[str, str]]:
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False), {}

    def makefile(self, sock: socket.socket, mode: str = "r", bufsize: int = -1) -> Any:
        return MakeFile(sock, mode, bufsize)

    def get_environ(self, sock: ssl.SSLSocket) -> dict[str, str]:
        cipher = sock.cipher()
        return {"HTTPS": "on", "SSL_PROTOCOL": sock.version() or "",
                "SSL_CIPHER": cipher[0] if cipher else ""}

    def handshake(self, sock: ssl.SSLSocket) -> dict[str, str] | None:
        """Advance the handshake: the TLS environ once done, None when the client
        certificate's SAN is not allowed. Raises ssl.SSLWantReadError while it needs
        more bytes, another OSError when it failed."""
        sock.do_handshake()
        if not _san_allowed(sock.getpeercert(), self.allowed_sans):
            log.info("client certificate SAN not allowed",
                     extra={"kv": {"client": str(sock.getpeername()[0])}})
            return None
        return self.get_environ(sock)


def _san_allowed(cert: dict[str, Any] | None, allowed: tuple[str, ...]) -> bool:
    if not allowed:
        return True
    wanted = {_normal(a) for a in allowed}
    return any(_normal(value) in wanted for _, value in (cert or {}).get("subjectAltName", ()))


def _normal(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return value


def tls_adapter(cfg: WebConfig) -> TLSAdapter | None:
    """The server's TLS per `cfg`, or None (plain HTTP). Raises WebConfigError."""
    ctx = ssl_context(cfg)
    if ctx is None:
        return None
    return TLSAdapter(ctx, cfg.tls.client_allowed_sans if cfg.tls else ())
