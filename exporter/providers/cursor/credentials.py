"""Cursor's sign-in, read only: the editor's `state.vscdb` SQLite store.

The table `ItemTable(key, value)` holds `cursorAuth/accessToken` (a JWT with
`exp`), `cursorAuth/refreshToken`, `cursorAuth/cachedEmail` and
`cursorAuth/stripeMembershipType` (`free`, `pro`, `enterprise`, ...). The store is
opened read only (`mode=ro`; `immutable` when no `-wal`/`-shm` sidecar exists, so
that SQLite creates nothing in Cursor's folder) and never written.

Whether Cursor's refresh tokens rotate is not known, so the exporter never
refreshes: an expired access token is an auth error that says to open Cursor,
which renews it, and the store is re-read when it changes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from exporter.auth.cli_owned import CliOwnedFile, FixedToken
from exporter.auth.credfile import CredentialFile, jwt_claims, number, text
from exporter.auth.tokens import TokenSource
from exporter.config import Credentials
from exporter.snapshot import FetchError, Reason

TOOL = "cursor"
PREFIX = "cursorAuth/"
KEYS = ("accessToken", "refreshToken", "cachedEmail", "stripeMembershipType")
RENEW = ("open Cursor (signed in) so it renews its token in state.vscdb; the exporter "
         "never refreshes Cursor tokens")


def _value(raw: object) -> str | None:
    """An ItemTable value: text or a blob, sometimes JSON-quoted."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    value = text(raw)
    if value is not None and value.startswith('"'):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return text(decoded)
    return value.strip() if value is not None else None


def _uri(path: Path) -> str:
    # Without sidecars the main file is all there is: `immutable` keeps SQLite from
    # creating a -shm or -wal beside it. With them, Cursor is running: read through them.
    sidecars = any(os.path.exists(f"{path}{s}") for s in ("-wal", "-shm"))
    return f"file:{quote(str(path))}?mode=ro" + ("" if sidecars else "&immutable=1")


def read_items(path: Path) -> dict[str, str]:
    """The `cursorAuth/*` values of the store; an AUTH FetchError naming the file, never
    its contents."""
    if not path.is_file():
        raise FetchError(Reason.AUTH, f"cannot read credentials {path}: no such file")
    names = tuple(PREFIX + k for k in KEYS)
    try:
        conn = sqlite3.connect(_uri(path), uri=True, timeout=2.0)
        try:
            rows = conn.execute(
                f"SELECT key, value FROM ItemTable WHERE key IN ({','.join('?' * len(names))})",
                names).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise FetchError(Reason.AUTH, f"credentials file {path} is not a Cursor state "
                                      f"database Cursor could read ({type(exc).__name__})"
                         ) from None
    found: dict[str, str] = {}
    for key, raw in rows:
        value = _value(raw)
        if isinstance(key, str) and value is not None:
            found[key.removeprefix(PREFIX)] = value
    return found


def user_id(access_token: str | None) -> str | None:
    """The user id of the token: its `sub` after the `|` (`google-oauth2|user_abc`).

    >>> import base64; body = base64.urlsafe_b64encode(b'{"sub":"auth0|user_1"}').decode()
    >>> user_id("h." + body.rstrip("=") + ".s")
    'user_1'
    """
    sub = text(jwt_claims(access_token).get("sub"))
    return sub.rsplit("|", 1)[-1] if sub else None


def parse_state_db(path: Path) -> CredentialFile:
    """The one Cursor sign-in the store holds."""
    items = read_items(path)
    token = items.get("accessToken")
    exp = number(jwt_claims(token).get("exp"))
    return CredentialFile(
        tool=TOOL, provider="cursor", access_token=token,
        refresh_token=items.get("refreshToken"),  # read for discovery only; never sent
        expires_at=exp if exp and exp > 0 else None,
        email=items.get("cachedEmail"), account_id=user_id(token),
        plan=(items.get("stripeMembershipType") or "").lower() or None,
    )


def _stamp(path: Path) -> tuple[int, ...]:
    """What says the store changed: the main file and its write-ahead log."""
    stamp: list[int] = []
    for name in (str(path), f"{path}-wal"):
        try:
            st = os.stat(name)
        except FileNotFoundError:
            if name == str(path):
                raise
            stamp.extend((0, 0, 0))
            continue
        stamp.extend((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(stamp)


class StateDbToken(CliOwnedFile):
    """`credentials.file` pointing at `state.vscdb`: re-read when Cursor changes it,
    never refreshed, never written."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(path, lambda _text, p: parse_state_db(p), RENEW, clock)

    def _current(self) -> CredentialFile:
        path = self.path
        try:
            stamp = _stamp(path)
        except OSError as exc:
            raise FetchError(Reason.AUTH,
                             f"cannot read credentials {path}: {exc.strerror}") from None
        if self._creds is None or stamp != self._parsed_stamp:
            self._creds = parse_state_db(path)
            self._parsed_stamp = stamp
        return self._creds


def cursor_token_source(creds: Credentials) -> TokenSource:
    """`file` (state.vscdb), `access_token` or `access_token_file`; never refreshed."""
    if creds.kind == "file":
        assert creds.path is not None
        return StateDbToken(creds.path)
    advice = ("put a fresh one in " + ("access_token_file" if creds.kind == "access_token_file"
                                       else "access_token")
              + " (Cursor keeps its current token in state.vscdb: point credentials.file "
                "at it, and open Cursor so it renews it)")
    if creds.kind == "access_token":
        return FixedToken(advice, secret=creds.secret)
    if creds.kind == "access_token_file":
        return FixedToken(advice, path=creds.path)
    raise ValueError(f"Cursor cannot use {creds.kind} credentials")
