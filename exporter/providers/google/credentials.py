"""The Google tools' credential files, and the token sources of a Google account.

`credentials.file`: another tool's auth JSON, read only, re-read when it changes.
Those tools (CLIProxyAPI, llm-mux, Antigravity-Manager, gemini-cli, ...) refresh
the token and rewrite the file themselves. When the file's token has expired and it
carries a refresh token, we refresh in memory and never write the file.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from exporter.auth.credfile import CredentialFile, jwt_claims, load_object, number, text
from exporter.auth.tokens import (
    EXPIRY_MARGIN,
    CredentialHints,
    OAuthRefresher,
    RefreshingToken,
    StaticToken,
    TokenSource,
    WatchedFile,
)
from exporter.config import AccountConfig
from exporter.secret import OAuthClient, Secret
from exporter.snapshot import FetchError, Reason
from exporter.timefmt import parse_rfc3339

# CLIProxyAPI's `type` -> the exporter provider its Google files serve.
_CLIPROXY_TYPES = {"antigravity": "antigravity", "gemini": "gemini-cli", "gemini-cli": "gemini-cli"}


def _expiry(tok: dict[str, Any]) -> float | None:
    """Seconds since the epoch from any of the expiry fields Google-token files use."""
    if number(tok.get("expiry_timestamp")) is not None:  # Antigravity-Manager, seconds
        return number(tok.get("expiry_timestamp"))
    if number(tok.get("expiry_date")) is not None:  # gemini-cli, milliseconds
        return (number(tok.get("expiry_date")) or 0.0) / 1000.0
    for key in ("expired", "expiry"):  # CLIProxyAPI, agy: RFC 3339 (agy with a local offset)
        if text(tok.get(key)):
            try:
                return parse_rfc3339(tok[key])
            except ValueError:
                pass
    issued, lifetime = number(tok.get("timestamp")), number(tok.get("expires_in"))
    if issued and lifetime:  # CLIProxyAPI: issued (ms) + lifetime (s)
        return issued / 1000.0 + lifetime
    return None


def _opencode(doc: dict[str, Any], path: Path, user: str | None) -> CredentialFile:
    """opencode-antigravity-auth: several accounts, refresh tokens only."""
    accounts = [a for a in doc["accounts"] if isinstance(a, dict)]
    if user is not None:
        accounts = [a for a in accounts if str(a.get("email", "")).lower() == user.lower()]
        if not accounts:
            raise FetchError(Reason.AUTH, f"credentials file {path} has no account with the "
                                          "email set as credentials.user")
    if len(accounts) != 1:
        raise FetchError(
            Reason.AUTH,
            f"credentials file {path} holds {len(accounts)} accounts; set credentials.user "
            "to the email of the one this account is",
        )
    return _opencode_account(accounts[0])


def _opencode_account(acc: dict[str, Any]) -> CredentialFile:
    return CredentialFile(
        tool="opencode", provider="antigravity",
        access_token=text(acc.get("accessToken")), refresh_token=text(acc.get("refreshToken")),
        email=text(acc.get("email")), project=text(acc.get("projectId")),
        disabled=acc.get("enabled") is False,
    )


def parse_borrowed(text_: str, path: Path, user: str | None = None) -> CredentialFile:
    """Read a Google account's auth JSON kept by another tool. Formats (all read only):

    - CLIProxyAPI / llm-mux: `type` (antigravity, gemini), access_token,
      refresh_token, expired (RFC 3339) or timestamp (ms) + expires_in, email,
      project_id; gemini files nest the token under `token` with `expiry`
    - Antigravity-Manager: {"token": {access_token, refresh_token, expiry_timestamp (s),
      email, project_id}, "email", "disabled"}
    - gemini-cli oauth_creds.json: access_token, refresh_token, expiry_date (ms), id_token
    - agy: {"token": {access_token, refresh_token, expiry}, "id_token", "auth_method"}
    - opencode-antigravity-auth: {"accounts": [{refreshToken, email, projectId}, ...]};
      `user` picks one by email when it holds several
    """
    doc = load_object(text_, path)
    if isinstance(doc.get("accounts"), list):
        return _opencode(doc, path, user)
    return _single(doc)


def _single(doc: dict[str, Any]) -> CredentialFile:
    """Every Google format but opencode's: one account per file."""
    nested = doc.get("token")
    tok: dict[str, Any] = nested if isinstance(nested, dict) else doc
    id_token = text(tok.get("id_token")) or text(doc.get("id_token"))
    kind = text(doc.get("type"))
    if kind:
        tool, provider = "cliproxyapi", _CLIPROXY_TYPES.get(kind, kind)
    elif isinstance(nested, dict) and "expiry_timestamp" in nested:
        tool, provider = "antigravity-manager", "antigravity"
    elif isinstance(nested, dict):
        tool, provider = "agy", "antigravity"
    else:
        tool, provider = "gemini-cli", "gemini-cli"
    return CredentialFile(
        tool=tool,
        provider=provider,
        access_token=text(tok.get("access_token")),
        refresh_token=text(tok.get("refresh_token")),
        expires_at=_expiry(tok),
        email=text(tok.get("email")) or text(doc.get("email"))
        or text(jwt_claims(id_token).get("email")),
        project=text(tok.get("project_id")) or text(doc.get("project_id")),
        client_id=text(tok.get("client_id")),
        client_secret=text(tok.get("client_secret")),
        disabled=doc.get("disabled") is True,
    )


def borrowed_accounts(text_: str, path: Path) -> list[CredentialFile]:
    """Every account a Google auth file holds, in file order: one, or each of an
    opencode file's (whose email is then what `credentials.user` picks it by)."""
    doc = load_object(text_, path)
    if isinstance(doc.get("accounts"), list):
        return [_opencode_account(a) for a in doc["accounts"] if isinstance(a, dict)]
    return [_single(doc)]


class BorrowedFile:
    """`credentials.file`: another tool's auth JSON, re-read when it changes."""

    def __init__(
        self,
        path: Path,
        session: requests.Session,
        client: OAuthClient | None,
        token_url: str,
        clock: Callable[[], float] = time.time,
        user: str | None = None,
    ) -> None:
        self._file = WatchedFile(path)
        self._user = user
        self._session = session
        self._client = client
        self._token_url = token_url
        self._clock = clock
        self._lock = threading.Lock()
        self._parsed_stamp: tuple[int, ...] | None = None
        self._creds: CredentialFile | None = None
        self._own: RefreshingToken | None = None  # in-memory refreshes, never written
        self._rejected: str | None = None  # file access token a 401 was said of

    def _current(self) -> CredentialFile:
        text = self._file.read_text()
        if self._creds is None or self._file.changed_stamp != self._parsed_stamp:
            self._creds = parse_borrowed(text, self._file.path, self._user)
            self._parsed_stamp = self._file.changed_stamp
            self._own = None  # the owning tool wrote new tokens: prefer them
            self._rejected = None
        return self._creds

    def _oauth_client(self, creds: CredentialFile) -> OAuthClient | None:
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
        self, creds: CredentialFile, deadline: float, force: bool = False
    ) -> str:
        client = self._oauth_client(creds)
        if not creds.refresh_token or client is None:
            # Without a client the owning tool is the only one that can renew it;
            # with a refresh token, an oauth_client lets the exporter do it in memory.
            fix = ("let the tool that owns the file refresh it" if not creds.refresh_token
                   else "let the tool that owns the file refresh it, or give this account "
                        "an oauth_client (docs/configuration.md: Zero configuration)")
            missing = "refresh token" if not creds.refresh_token else "oauth_client"
            raise FetchError(
                Reason.AUTH,
                f"access token in {self._file.path} is expired or rejected and there is no "
                f"{missing} to refresh it; {fix}",
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


def token_source_for(
    account: AccountConfig, session: requests.Session, clock: Callable[[], float] = time.time
) -> TokenSource:
    """The token source a Google account's `credentials:` ask for (tokens we may refresh)."""
    creds = account.credentials
    if creds.kind == "access_token":
        return StaticToken(secret=creds.secret)
    if creds.kind == "access_token_file":
        return StaticToken(path=creds.path)
    if creds.kind == "file":
        assert creds.path is not None
        return BorrowedFile(creds.path, session, account.oauth_client, account.token_url, clock,
                            user=creds.user)
    if account.oauth_client is None:
        # The config loader refuses this; kept as a guard for hand-built configs.
        raise ValueError(f"account {account.name}: refresh tokens need an oauth_client")
    refresher = OAuthRefresher(session, account.oauth_client, account.token_url, clock)
    if creds.kind == "refresh_token":
        return RefreshingToken(refresher, secret=creds.secret, clock=clock)
    return RefreshingToken(refresher, path=creds.path, clock=clock)
