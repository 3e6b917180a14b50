"""Where access tokens come from, and how they are refreshed and cached.

One `TokenSource` per account. Steady state costs no OAuth call: an access token
is reused until shortly before it expires. A refresh token the OAuth server calls
dead (`invalid_grant`) is remembered as dead, so no scrape ever loops on it; a
new refresh token (an edited file, a reloaded config) brings the account back.

Another tool's credential file (`credentials.file`) is only ever read, again
whenever its mtime or size changes: those tools refresh and rewrite it
themselves. When its token has expired and it carries a refresh token, we
refresh in memory and never write the file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import requests

from exporter.config import AccountConfig, OAuthClient, Secret
from exporter.snapshot import FetchError, Reason
from exporter.timefmt import parse_rfc3339

log = logging.getLogger(__name__)

# Refresh this long before the upstream's expiry, so a token never dies mid-scrape.
EXPIRY_MARGIN = 120.0
# Used when nothing says how long a borrowed access token lives.
ASSUMED_TOKEN_LIFETIME = 3300.0


class TokenSource(Protocol):
    def token(self, deadline: float) -> str:
        """A usable access token; raises FetchError. `deadline` is time.monotonic()."""

    def refresh(self, deadline: float) -> str:
        """Force a new access token after a 401; raises FetchError(AUTH) if impossible."""

    @property
    def can_refresh(self) -> bool: ...

    def hints(self) -> CredentialHints:
        """Facts a credential file carries (email, project); empty for plain tokens."""


@dataclass(frozen=True)
class CredentialHints:
    email: str | None = None
    project: str | None = None


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

    def __init__(self, secret: Secret | None = None, path: Path | None = None) -> None:
        self._secret = secret
        self._path = path
        self._file = _WatchedFile(path) if path else None

    @property
    def can_refresh(self) -> bool:
        return False

    def token(self, deadline: float) -> str:
        if self._file is not None:
            text = self._file.read_text().strip()
            if not text:
                raise FetchError(Reason.AUTH, f"access_token_file {self._path} is empty")
            return text
        assert self._secret is not None
        return self._secret.reveal()

    def refresh(self, deadline: float) -> str:
        what = "access_token_file" if self._file else "access_token"
        raise FetchError(
            Reason.AUTH,
            f"access token rejected (401) and it cannot be refreshed ({what} has no "
            "refresh token); supply a fresh token or use refresh_token",
        )

    def hints(self) -> CredentialHints:
        return CredentialHints()


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
        self._file = _WatchedFile(path) if path else None
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

    def refresh(self, deadline: float) -> str:
        with self._lock:
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


class _WatchedFile:
    """A file re-read only when its mtime or size changes. Never written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._text = ""
        self._lock = threading.Lock()

    def read_text(self) -> str:
        with self._lock:
            try:
                st = os.stat(self.path)
                stamp = (st.st_mtime_ns, st.st_size)
                if stamp != self._stamp:
                    self._text = self.path.read_text(encoding="utf-8")
                    self._stamp = stamp
            except OSError as exc:
                raise FetchError(
                    Reason.AUTH, f"cannot read credentials {self.path}: {exc.strerror}"
                ) from None
            return self._text

    @property
    def changed_stamp(self) -> tuple[int, int] | None:
        return self._stamp


@dataclass(frozen=True)
class BorrowedCredentials:
    access_token: str | None
    refresh_token: str | None
    expires_at: float | None  # wall clock; None when the file does not say
    email: str | None
    project: str | None
    client_id: str | None = None
    client_secret: str | None = None

    def __repr__(self) -> str:  # never show tokens
        return f"BorrowedCredentials(email={self.email!r}, project={self.project!r})"


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def parse_borrowed(text: str, path: Path) -> BorrowedCredentials:
    """Read another tool's auth JSON. Formats (all read only):

    - CLIProxyAPI / llm-mux: access_token, refresh_token, expired (RFC 3339) or
      timestamp (ms) + expires_in, email, project_id
    - Antigravity-Manager: {"token": {access_token, refresh_token, expiry_timestamp (s),
      email, project_id}}
    - gemini-cli oauth_creds.json: access_token, refresh_token, expiry_date (ms)
    - opencode-antigravity-auth: {"accounts": [{refreshToken, email, projectId}]}, one account
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise FetchError(
            Reason.AUTH, f"credentials file {path} is not JSON (line {_lineno(exc)})"
        ) from None
    if not isinstance(doc, dict):
        raise FetchError(Reason.AUTH, f"credentials file {path} is not a JSON object")
    if isinstance(doc.get("accounts"), list):
        accounts = [a for a in doc["accounts"] if isinstance(a, dict)]
        if len(accounts) != 1:
            raise FetchError(
                Reason.AUTH,
                f"credentials file {path} holds {len(accounts)} accounts; "
                "only files with exactly one account are supported",
            )
        acc = accounts[0]
        return BorrowedCredentials(
            access_token=_s(acc.get("accessToken")),
            refresh_token=_s(acc.get("refreshToken")),
            expires_at=None,
            email=_s(acc.get("email")),
            project=_s(acc.get("projectId")),
        )
    nested = doc.get("token")
    tok: dict[str, Any] = nested if isinstance(nested, dict) else doc
    expires_at: float | None = None
    if _num(tok.get("expiry_timestamp")) is not None:
        expires_at = _num(tok.get("expiry_timestamp"))
    elif _num(tok.get("expiry_date")) is not None:
        expires_at = (_num(tok.get("expiry_date")) or 0) / 1000.0
    elif _s(tok.get("expired")):
        try:
            expires_at = parse_rfc3339(tok["expired"])
        except ValueError:
            expires_at = None
    if expires_at is None and _num(tok.get("timestamp")) and _num(tok.get("expires_in")):
        expires_at = (_num(tok["timestamp"]) or 0) / 1000.0 + (_num(tok["expires_in"]) or 0)
    return BorrowedCredentials(
        access_token=_s(tok.get("access_token")),
        refresh_token=_s(tok.get("refresh_token")),
        expires_at=expires_at,
        email=_s(tok.get("email")) or _s(doc.get("email")),
        project=_s(tok.get("project_id")) or _s(doc.get("project_id")),
        client_id=_s(tok.get("client_id")),
        client_secret=_s(tok.get("client_secret")),
    )


def _lineno(exc: ValueError) -> int:
    return getattr(exc, "lineno", 0)


class BorrowedFile:
    """`credentials.file`: another tool's auth JSON, re-read when it changes."""

    def __init__(
        self,
        path: Path,
        session: requests.Session,
        client: OAuthClient | None,
        token_url: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._file = _WatchedFile(path)
        self._session = session
        self._client = client
        self._token_url = token_url
        self._clock = clock
        self._lock = threading.Lock()
        self._parsed_stamp: tuple[int, int] | None = None
        self._creds: BorrowedCredentials | None = None
        self._own: RefreshingToken | None = None  # in-memory refreshes, never written
        self._rejected: str | None = None  # file access token a 401 was said of

    def _current(self) -> BorrowedCredentials:
        text = self._file.read_text()
        if self._creds is None or self._file.changed_stamp != self._parsed_stamp:
            self._creds = parse_borrowed(text, self._file.path)
            self._parsed_stamp = self._file.changed_stamp
            self._own = None  # the owning tool wrote new tokens: prefer them
            self._rejected = None
        return self._creds

    def _oauth_client(self, creds: BorrowedCredentials) -> OAuthClient | None:
        if self._client is not None:
            return self._client
        if creds.client_id:
            secret = Secret(creds.client_secret) if creds.client_secret else None
            return OAuthClient(client_id=creds.client_id, client_secret=secret)
        return None

    @property
    def can_refresh(self) -> bool:
        with self._lock:
            try:
                creds = self._current()
            except FetchError:
                return False
            return bool(creds.refresh_token and self._oauth_client(creds))

    def token(self, deadline: float) -> str:
        with self._lock:
            creds = self._current()
            if self._own is not None:
                return self._own.token(deadline)
            usable = creds.access_token and creds.access_token != self._rejected
            fresh = creds.expires_at is None or creds.expires_at - EXPIRY_MARGIN > self._clock()
            if usable and fresh:
                assert creds.access_token is not None
                return creds.access_token
            return self._refresh_locked(creds, deadline)

    def refresh(self, deadline: float) -> str:
        with self._lock:
            creds = self._current()
            if self._own is None:
                self._rejected = creds.access_token
            return self._refresh_locked(creds, deadline, force=True)

    def _refresh_locked(
        self, creds: BorrowedCredentials, deadline: float, force: bool = False
    ) -> str:
        client = self._oauth_client(creds)
        if not creds.refresh_token or client is None:
            missing = "refresh token" if not creds.refresh_token else "oauth_client"
            raise FetchError(
                Reason.AUTH,
                f"access token in {self._file.path} is expired or rejected and there is no "
                f"{missing} to refresh it; let the tool that owns the file refresh it",
            )
        if self._own is None:
            refresher = OAuthRefresher(self._session, client, self._token_url, self._clock)
            self._own = RefreshingToken(
                refresher, secret=Secret(creds.refresh_token), clock=self._clock
            )
        return self._own.refresh(deadline) if force else self._own.token(deadline)

    def hints(self) -> CredentialHints:
        with self._lock:
            try:
                creds = self._current()
            except FetchError:
                return CredentialHints()
            return CredentialHints(email=creds.email, project=creds.project)


def token_source_for(
    account: AccountConfig, session: requests.Session, clock: Callable[[], float] = time.time
) -> TokenSource:
    """Build the token source an account's config asks for."""
    creds = account.credentials
    if creds.kind == "access_token":
        return StaticToken(secret=creds.secret)
    if creds.kind == "access_token_file":
        return StaticToken(path=creds.path)
    if creds.kind == "file":
        assert creds.path is not None
        return BorrowedFile(creds.path, session, account.oauth_client, account.token_url, clock)
    if account.oauth_client is None:
        # The config loader refuses this; kept as a guard for hand-built configs.
        raise ValueError(f"account {account.name}: refresh tokens need an oauth_client")
    refresher = OAuthRefresher(session, account.oauth_client, account.token_url, clock)
    if creds.kind == "refresh_token":
        return RefreshingToken(refresher, secret=creds.secret, clock=clock)
    return RefreshingToken(refresher, path=creds.path, clock=clock)
