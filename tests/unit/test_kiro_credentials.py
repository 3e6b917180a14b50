"""Kiro's credential formats, read only: CLIProxyAPIPlus's `kiro-*.json`, the Kiro
IDE's `kiro-auth-token.json` and kiro-cli's SQLite database (built here, opened
read-only, never written); the token source that never refreshes."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from exporter.providers.kiro.client import RENEW, KiroStore, host_for
from exporter.providers.kiro.credentials import parse_kiro, read_kiro_cli
from exporter.providers.kiro.spec import SPEC
from exporter.snapshot import FetchError, Reason

ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/EXAMPLE"
EU_ARN = "arn:aws:codewhisperer:eu-central-1:123456789012:profile/EXAMPLE"
LATER = "2099-01-01T00:00:00Z"


def make_db(path: Path, rows: dict[str, Any], profile: dict[str, Any] | None = None) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE auth_kv (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB)")
    for key, value in rows.items():
        db.execute("INSERT INTO auth_kv VALUES (?, ?)", (key, json.dumps(value)))
    if profile is not None:
        db.execute("INSERT INTO state VALUES (?, ?)",
                   ("api.codewhisperer.profile", json.dumps(profile)))
    db.commit()
    db.close()
    return path


def test_cliproxyapiplus_file() -> None:
    creds = parse_kiro(json.dumps({
        "type": "kiro", "access_token": "aoaSECRET", "refresh_token": "aorSECRET",
        "profile_arn": ARN, "expires_at": "2026-12-06T10:00:00Z", "auth_method": "social",
        "provider": "Github", "email": "alice@example.com"}), Path("kiro-github-a.json"))
    assert (creds.tool, creds.provider, creds.access_token, creds.refresh_token) == (
        "cliproxyapi", "kiro", "aoaSECRET", "aorSECRET")
    assert (creds.account_id, creds.email) == (ARN, "alice@example.com")
    assert creds.expires_at == 1796551200.0
    assert "SECRET" not in repr(creds)


def test_kiro_ide_file_with_camel_case_keys() -> None:
    creds = parse_kiro(json.dumps({
        "accessToken": "aoaSECRET", "refreshToken": "aorSECRET", "profileArn": EU_ARN,
        "expiresAt": "2026-12-06T10:00:00.000Z", "authMethod": "IdC", "provider": "AWS",
        "clientIdHash": "abc", "region": "eu-central-1"}), Path("kiro-auth-token.json"))
    assert (creds.tool, creds.access_token, creds.account_id) == ("kiro-ide", "aoaSECRET", EU_ARN)
    assert creds.expires_at == 1796551200.0


def test_another_tools_file_is_an_auth_error_without_its_contents() -> None:
    with pytest.raises(FetchError) as caught:
        parse_kiro(json.dumps({"type": "codex", "access_token": "SECRET"}), Path("x.json"))
    assert caught.value.reason is Reason.AUTH and "SECRET" not in caught.value.message


def test_kiro_cli_database_is_read_read_only_and_prefers_its_own_newest_row(
        tmp_path: Path) -> None:
    path = make_db(tmp_path / "data.sqlite3", {
        "codewhisperer:odic:token": {"access_token": "OLD-SECRET", "expires_at": LATER},
        "kirocli:social:token": {"access_token": "SOCIAL-SECRET",
                                 "expires_at": "2026-01-01T00:00:00Z"},
        "kirocli:odic:token": {"access_token": "ODIC-SECRET", "refresh_token": "R-SECRET",
                               "expires_at": "2026-06-01T00:00:00Z", "region": "us-east-1"},
    }, profile={"arn": EU_ARN, "profileName": "work"})
    before = path.read_bytes(), path.stat().st_mtime_ns
    creds = read_kiro_cli(path)
    assert (creds.tool, creds.access_token, creds.refresh_token) == (
        "kiro-cli", "ODIC-SECRET", "R-SECRET")
    assert creds.account_id == EU_ARN
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.sqlite3"]


def test_kiro_cli_database_without_a_sign_in_says_to_log_in(tmp_path: Path) -> None:
    path = make_db(tmp_path / "data.sqlite3", {})
    with pytest.raises(FetchError, match="kiro-cli login") as caught:
        read_kiro_cli(path)
    assert caught.value.reason is Reason.AUTH


def test_store_reads_json_or_sqlite_and_rereads_a_renewed_database(tmp_path: Path) -> None:
    path = make_db(tmp_path / "data.sqlite3", {
        "kirocli:odic:token": {"access_token": "FIRST", "expires_at": LATER}})
    store = KiroStore(path, parse_kiro, RENEW)
    assert store.token(time.monotonic() + 5) == "FIRST" and not store.can_refresh
    db = sqlite3.connect(path)  # kiro-cli renews its row
    db.execute("UPDATE auth_kv SET value = ? WHERE key = 'kirocli:odic:token'",
               (json.dumps({"access_token": "SECOND", "expires_at": LATER}),))
    db.commit()
    db.close()
    assert store.token(time.monotonic() + 5) == "SECOND"
    ide = tmp_path / "kiro-auth-token.json"
    ide.write_text(json.dumps({"accessToken": "IDE", "expiresAt": LATER}))
    assert KiroStore(ide, parse_kiro, RENEW).token(time.monotonic() + 5) == "IDE"


def test_an_expired_token_is_an_auth_error_that_says_what_to_run(tmp_path: Path) -> None:
    ide = tmp_path / "kiro-auth-token.json"
    ide.write_text(json.dumps({"accessToken": "aoaSECRET", "refreshToken": "aorSECRET",
                               "expiresAt": "2020-01-01T00:00:00Z"}))
    store = KiroStore(ide, parse_kiro, RENEW)
    with pytest.raises(FetchError) as caught:
        store.token(time.monotonic() + 5)
    assert caught.value.reason is Reason.AUTH
    assert "kiro-cli" in caught.value.message and "open Kiro" in caught.value.message
    assert "SECRET" not in caught.value.message
    # A rejected token is never exchanged: refresh() only re-reads the file.
    with pytest.raises(FetchError):
        store.refresh(time.monotonic() + 5, "aoaSECRET")


def test_the_profile_region_picks_the_host_unless_endpoints_are_configured() -> None:
    assert host_for(SPEC.endpoints, ARN) == SPEC.endpoints
    assert host_for(SPEC.endpoints, None) == SPEC.endpoints
    assert host_for(SPEC.endpoints, EU_ARN) == ("https://q.eu-central-1.amazonaws.com",)
    assert host_for(("http://127.0.0.1:1/kiro",), EU_ARN) == ("http://127.0.0.1:1/kiro",)


def test_an_idle_wal_database_gets_no_sidecar_files(tmp_path: Path) -> None:
    path = tmp_path / "data.sqlite3"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    make_db(path, {"kirocli:odic:token": {"access_token": "T", "expires_at": LATER}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.sqlite3"]
    before = path.read_bytes()
    assert read_kiro_cli(path).access_token == "T"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.sqlite3"]
    assert path.read_bytes() == before
