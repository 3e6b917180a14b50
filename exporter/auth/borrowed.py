"""`credentials.file`: another tool's auth JSON, read only, re-read when it changes.

Those tools (CLIProxyAPI, llm-mux, Antigravity-Manager, gemini-cli, ...) refresh
the token and rewrite the file themselves. When the file's token has expired and it
carries a refresh token, we refresh in memory and never write the file.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from exporter.auth.tokens import (
    EXPIRY_MARGIN,
    CredentialHints,
    OAuthRefresher,
    RefreshingToken,
    WatchedFile,
)
from exporter.config import OAuthClient, Secret
from exporter.snapshot import FetchError, Reason
from exporter.timefmt import parse_rfc3339


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
        self._file = WatchedFile(path)
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

    def refresh(self, deadline: float, rejected: str) -> str:
        with self._lock:
            creds = self._current()
            if self._own is None:
                if creds.access_token != rejected and creds.access_token:
                    return creds.access_token  # the owning tool wrote a new one meanwhile
                self._rejected = creds.access_token
                return self._refresh_locked(creds, deadline, force=True)
            return self._own.refresh(deadline, rejected)

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
        if force:
            return self._own.refresh(deadline, self._rejected or "")
        return self._own.token(deadline)

    def hints(self) -> CredentialHints:
        with self._lock:
            try:
                creds = self._current()
            except FetchError:
                return CredentialHints()
            return CredentialHints(email=creds.email, project=creds.project)
