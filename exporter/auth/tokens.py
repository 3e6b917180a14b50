"""Token sources: static tokens, and refresh tokens with cached access tokens.

An access token is reused until EXPIRY_MARGIN before it expires; a refresh token
the OAuth server calls dead (`invalid_grant`) is not sent again until it changes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import requests

from exporter.secret import OAuthClient, Secret
from exporter.snapshot import FetchError, Reason

log = logging.getLogger(__name__)

# Refresh this long before the upstream's expiry, so a token never dies mid-scrape.
EXPIRY_MARGIN = 120.0
# Used when nothing says how long a borrowed access token lives.
ASSUMED_TOKEN_LIFETIME = 3300.0


class NeedsThread(Exception):
    """A network step (an OAuth refresh) was asked for on an event loop's thread.

    Raised before anything is sent; the caller runs the same step again on a
    blocking thread (`exporter.upstream.client.off_loop_if_needed`), so a token
    source stays plain synchronous code and the loop never waits for the network.
    """


def _refuse_on_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise NeedsThread


class TokenSource(Protocol):
    def token(self, deadline: float) -> str:
        """A usable access token; raises FetchError. `deadline` is time.monotonic()."""

    def refresh(self, deadline: float, rejected: str) -> str:
        """A new access token after `rejected` got a 401; raises FetchError(AUTH) if
        impossible. When another call already replaced `rejected`, its successor is
        returned without a second refresh (an account's sources run side by side)."""

    @property
    def can_refresh(self) -> bool: ...

    def hints(self) -> CredentialHints:
        """Facts a credential file carries (email, project); empty for plain tokens."""


@dataclass(frozen=True)
class CredentialHints:
    email: str | None = None
    project: str | None = None
    plan: str | None = None  # the plan a credentials file names ("max", "plus", ...)


@dataclass
class _Cached:
    token: str
    expires_at: float  # wall clock


class OAuthRefresher:
    """Exchanges a refresh token for an access token at the OAuth token endpoint."""

    def __init__(
        self,
        session: requests.Session,
        client: OAuthClient,
        token_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session = session
        self._client = client
        self._token_url = token_url
        self._clock = clock

    def exchange(self, refresh_token: str, deadline: float) -> _Cached:
        _refuse_on_loop()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(Reason.TIMEOUT, "deadline passed before the token refresh")
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self._client.client_id,
        }
        if self._client.client_secret is not None:
            form["client_secret"] = self._client.client_secret.reveal()
        try:
            resp = self._session.post(
                self._token_url,
                data=form,
                headers={"Accept": "application/json"},
                timeout=(min(remaining, 5.0), remaining),
            )
        except requests.Timeout:
            raise FetchError(Reason.TIMEOUT, "token refresh timed out") from None
        except requests.RequestException as exc:
            raise FetchError(
                Reason.NETWORK, f"token endpoint unreachable ({type(exc).__name__})"
            ) from None
        return self._read_reply(resp)

    def _read_reply(self, resp: requests.Response) -> _Cached:
        try:
            body = resp.json()
        except ValueError:
            body = None
        code = body.get("error") if isinstance(body, dict) else None
        if resp.status_code == 200 and isinstance(body, dict):
            access = body.get("access_token")
            if not isinstance(access, str) or not access:
                raise FetchError(Reason.PARSE, "token endpoint reply has no access_token")
            try:
                lifetime = float(body.get("expires_in", ASSUMED_TOKEN_LIFETIME))
            except (TypeError, ValueError):
                lifetime = ASSUMED_TOKEN_LIFETIME
            return _Cached(access, self._clock() + lifetime)
        if resp.status_code == 200:
            raise FetchError(Reason.PARSE, "token endpoint answered 200 without a JSON object")
        if code == "invalid_grant":
            raise DeadRefreshToken(
                "refresh token is dead (invalid_grant: expired or revoked); "
                "sign in again with the tool that owns this account"
            )
        if code in ("invalid_client", "unauthorized_client"):
            raise FetchError(
                Reason.AUTH, f"OAuth client rejected by the token endpoint ({code}); "
                "check oauth_client.client_id and client_secret"
            )
        if resp.status_code >= 500:
            raise FetchError(Reason.UPSTREAM, f"token endpoint answered {resp.status_code}")
        if resp.status_code == 429:
            raise FetchError(Reason.RATE_LIMITED, "token endpoint answered 429")
        shown = code if isinstance(code, str) else "no error code"
        raise FetchError(Reason.AUTH, f"token refresh failed: {resp.status_code} ({shown[:60]})")


class DeadRefreshToken(FetchError):
    def __init__(self, message: str) -> None:
        super().__init__(Reason.AUTH, message)


class StaticToken:
    """`access_token` in the config, or `access_token_file` re-read when it changes."""

    FILE_KIND = "access_token_file"  # how the config names the file, for messages

    def __init__(self, secret: Secret | None = None, path: Path | None = None) -> None:
        self._secret = secret
        self._path = path
        self._file = WatchedFile(path) if path else None

    @property
    def can_refresh(self) -> bool:
        return False

    def token(self, deadline: float) -> str:
        if self._file is not None:
            text = self._file.read_text().strip()
            if not text:
                raise FetchError(Reason.AUTH, f"{self.FILE_KIND} {self._path} is empty")
            return text
        assert self._secret is not None
        return self._secret.reveal()

    def refresh(self, deadline: float, rejected: str) -> str:
        what = "access_token_file" if self._file else "access_token"
        raise FetchError(
            Reason.AUTH,
            f"access token rejected (401) and it cannot be refreshed ({what} has no "
            "refresh token); supply a fresh token or use refresh_token",
        )

    def hints(self) -> CredentialHints:
        return CredentialHints()


class ApiKey(StaticToken):
    """A static API key (`api_key`, `api_key_env`, or `api_key_file` re-read when it
    changes): sent as is, never refreshed; a 401 says the key was refused."""

    FILE_KIND = "api_key_file"

    def __init__(self, secret: Secret | None = None, path: Path | None = None,
                 where: str = "api_key") -> None:
        super().__init__(secret=secret, path=path)
        self._where = where  # how the config gave it, for messages: api_key_env FOO

    def refresh(self, deadline: float, rejected: str) -> str:
        raise FetchError(
            Reason.AUTH,
            f"the API key ({self._where}) was refused (401): check that it is current "
            "and belongs to a plan this provider serves; API keys are never refreshed",
        )


class RefreshingToken:
    """`refresh_token` / `refresh_token_file` with an OAuth client: cached access tokens."""

    def __init__(
        self,
        refresher: OAuthRefresher,
        secret: Secret | None = None,
        path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._refresher = refresher
        self._secret = secret
        self._file = WatchedFile(path) if path else None
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: _Cached | None = None
        self._dead_for: str | None = None  # the refresh token invalid_grant was said of

    @property
    def can_refresh(self) -> bool:
        return True

    def _refresh_token(self) -> str:
        if self._file is not None:
            text = self._file.read_text().strip()
            if not text:
                raise FetchError(Reason.AUTH, "refresh_token_file is empty")
            return text
        assert self._secret is not None
        return self._secret.reveal()

    def token(self, deadline: float) -> str:
        with self._lock:
            if self._cached and self._cached.expires_at - EXPIRY_MARGIN > self._clock():
                return self._cached.token
            return self._exchange(deadline)

    def refresh(self, deadline: float, rejected: str) -> str:
        with self._lock:
            if self._cached is not None and self._cached.token != rejected:
                return self._cached.token
            self._cached = None
            return self._exchange(deadline)

    def _exchange(self, deadline: float) -> str:
        rt = self._refresh_token()
        if self._dead_for == rt:
            raise DeadRefreshToken(
                "refresh token is dead (invalid_grant earlier; not retried until it changes); "
                "sign in again with the tool that owns this account"
            )
        try:
            self._cached = self._refresher.exchange(rt, deadline)
        except DeadRefreshToken:
            self._dead_for = rt
            raise
        self._dead_for = None
        return self._cached.token

    def hints(self) -> CredentialHints:
        return CredentialHints()


class WatchedFile:
    """A file re-read only when it changes. Never written.

    "Changed" is any of inode, mtime, ctime and size: a tool that replaces the file
    in place (write a temporary file, rename it over) within one mtime tick, with
    the same size, still gives a new inode.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, ...] | None = None
        self._text = ""
        self._lock = threading.Lock()

    def read_text(self) -> str:
        with self._lock:
            try:
                st = os.stat(self.path)
                stamp = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)
                if stamp != self._stamp:
                    self._text = self.path.read_text(encoding="utf-8")
                    self._stamp = stamp
            except OSError as exc:
                raise FetchError(
                    Reason.AUTH, f"cannot read credentials {self.path}: {exc.strerror}"
                ) from None
            return self._text

    @property
    def changed_stamp(self) -> tuple[int, ...] | None:
        return self._stamp
