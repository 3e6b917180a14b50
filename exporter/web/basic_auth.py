"""Basic auth from the web config: a WSGI middleware in front of the routes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from exporter.secret import Secret
from exporter.web.config import REALM, WebConfig

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
