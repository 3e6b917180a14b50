"""Cursor's `state.vscdb`, built here as Cursor writes it: read with SQLite read only
(nothing written, no sidecar created), re-read when Cursor renews the token, never
refreshed; and discovery finds it where Cursor keeps it."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from exporter.discovery import Env, Scanner
from exporter.discovery.render import config_text, report_yaml, table
from exporter.providers import load_config
from exporter.providers.cursor.credentials import StateDbToken, parse_state_db
from exporter.providers.cursor.discovery import cursor_places
from exporter.snapshot import FetchError, Reason
from tests.unit.test_credfiles import jwt

TOKEN_MARK = "SECRETcursor"
EMAIL = "quentin@example.com"


def make_db(path: Path, *, exp: float, plan: str = "pro", wal: bool = False,
            token_extra: str = "") -> str:
    """Cursor's ItemTable with its sign-in; returns the access token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = jwt({"sub": "auth0|user_abc123", "exp": int(exp), "x": TOKEN_MARK + token_extra})
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS ItemTable "
                 "(key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    conn.executemany("INSERT INTO ItemTable VALUES (?, ?)", [
        ("cursorAuth/accessToken", token),
        ("cursorAuth/refreshToken", f"{TOKEN_MARK}-refresh"),
        ("cursorAuth/cachedEmail", EMAIL),
        ("cursorAuth/stripeMembershipType", plan),
        ("cursorAuth/cachedSignUpType", "Auth_0"),
        ("workbench.view", b"\x00\xff binary value"),
    ])
    conn.commit()
    conn.close()
    return token


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


def test_the_store_is_read_read_only_and_nothing_is_created(tmp_path: Path) -> None:
    db = tmp_path / "state.vscdb"
    token = make_db(db, exp=time.time() + 3600)
    before = digest(tmp_path)
    creds = parse_state_db(db)
    assert creds.access_token == token and creds.plan == "pro" and creds.email == EMAIL
    assert creds.account_id == "user_abc123" and creds.expires_at is not None
    assert TOKEN_MARK not in repr(creds)
    assert digest(tmp_path) == before  # byte for byte, and no -wal or -shm beside it


def test_a_store_cursor_has_open_in_wal_mode_is_read_through_its_log(tmp_path: Path) -> None:
    db = tmp_path / "state.vscdb"
    writer = sqlite3.connect(db)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    writer.commit()
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT INTO ItemTable VALUES ('cursorAuth/accessToken', 'tok-in-wal')")
    writer.commit()  # still only in the -wal file: Cursor is running
    assert (tmp_path / "state.vscdb-wal").exists()
    main_before = hashlib.sha256(db.read_bytes()).hexdigest()
    assert parse_state_db(db).access_token == "tok-in-wal"
    assert hashlib.sha256(db.read_bytes()).hexdigest() == main_before
    writer.close()


def test_expired_token_says_to_open_cursor_and_a_renewed_store_is_picked_up(
        tmp_path: Path) -> None:
    db = tmp_path / "state.vscdb"
    make_db(db, exp=time.time() - 60)
    source = StateDbToken(db)
    assert not source.can_refresh
    with pytest.raises(FetchError) as err:
        source.token(time.monotonic() + 5)
    assert err.value.reason == Reason.AUTH and "open Cursor" in err.value.message
    assert TOKEN_MARK not in err.value.message
    # Cursor renews it (a new token written into the same store).
    fresh = make_db(db, exp=time.time() + 3600, token_extra="-2")
    assert source.token(time.monotonic() + 5) == fresh


def test_a_rejected_token_is_not_sent_again_and_never_refreshed(tmp_path: Path) -> None:
    db = tmp_path / "state.vscdb"
    token = make_db(db, exp=time.time() + 3600)
    source = StateDbToken(db)
    with pytest.raises(FetchError, match="open Cursor") as err:
        source.refresh(time.monotonic() + 5, token)
    assert TOKEN_MARK not in err.value.message
    with pytest.raises(FetchError, match="not sent again"):
        source.token(time.monotonic() + 5)


@pytest.mark.parametrize("content", [b"", b"not a database at all", b"SQLite format 3\x00junk"])
def test_a_file_that_is_not_cursors_store_is_an_auth_error(tmp_path: Path,
                                                           content: bytes) -> None:
    db = tmp_path / "state.vscdb"
    db.write_bytes(content)
    with pytest.raises(FetchError) as err:
        StateDbToken(db).token(time.monotonic() + 5)
    assert err.value.reason == Reason.AUTH and str(db) in err.value.message


def test_a_missing_store_is_an_auth_error(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as err:
        StateDbToken(tmp_path / "nope.vscdb").token(time.monotonic() + 5)
    assert err.value.reason == Reason.AUTH


def test_places_per_system(tmp_path: Path) -> None:
    linux = Env(home=Path("/home/u"), environ={"XDG_CONFIG_HOME": "/x"})
    assert [str(p.path) for p in cursor_places(linux)] == [
        "/x/Cursor/User/globalStorage/state.vscdb",
        "/home/u/Library/Application Support/Cursor/User/globalStorage/state.vscdb"]
    windows = replace(Env(home=Path("C:/Users/u"), environ={"APPDATA": "D:/Roaming"}),
                      windows=True)
    assert [str(p.path) for p in cursor_places(windows)] == [
        "D:/Roaming/Cursor/User/globalStorage/state.vscdb"]


def test_discovery_finds_cursor_in_a_home_and_writes_a_config_that_loads(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    linux_db = home / ".config/Cursor/User/globalStorage/state.vscdb"
    make_db(linux_db, exp=time.time() + 3600, plan="ultra")
    before = digest(linux_db.parent)
    env = Env(home=home, environ={}, root=tmp_path / "root")
    report = Scanner(env, providers=("cursor",)).scan()
    (found,) = report.served
    assert (found.provider, found.tool, found.path) == ("cursor", "Cursor", linux_db)
    text = "\n".join([table(report), report_yaml(report), repr(report)])
    assert TOKEN_MARK not in text and EMAIL not in text and "quentin" not in text
    written = tmp_path / "written.yml"
    written.write_text(config_text(report, {}, date="today", path=str(written)))
    (account,) = load_config(written, env={}).accounts
    assert (account.provider, account.credentials.kind, account.credentials.path) == (
        "cursor", "file", linux_db)
    assert digest(linux_db.parent) == before


def test_the_same_sign_in_on_two_systems_is_one_account(tmp_path: Path) -> None:
    home = tmp_path / "home"
    make_db(home / ".config/Cursor/User/globalStorage/state.vscdb", exp=time.time() + 3600)
    make_db(home / "Library/Application Support/Cursor/User/globalStorage/state.vscdb",
            exp=time.time() + 3600)
    report = Scanner(Env(home=home, environ={}, root=tmp_path / "root"),
                     providers=("cursor",)).scan()
    assert len(report.served) == 1
