"""Kimi Code's credential files, read only: kimi-code's file (current and legacy
homes), CLIProxyAPI's `kimi-*.json`, a Kimi key in Claude Code's settings or
opencode's auth.json; never refreshed; found by discovery in a temporary home."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from exporter.discovery import Env, Scanner
from exporter.discovery.render import config_text, report_yaml, table
from exporter.providers import load_config
from exporter.providers.kimi.credentials import KimiFile, parse_kimi
from exporter.providers.kimi.discovery import kimi_cli_places, kimi_code_places
from exporter.snapshot import FetchError, Reason
from tests.discovery_home import FUTURE, Home, write_json

NOW = 1_790_000_000.0


def write(path: Path, doc: Any) -> Path:
    return write_json(path, doc)


def kimi_code(expires_at: float = NOW + 600) -> dict[str, Any]:
    return {"access_token": "SECRET-kimi-access", "refresh_token": "SECRET-kimi-refresh",
            "expires_at": expires_at, "expires_in": 900.0, "scope": "kimi-code",
            "token_type": "Bearer"}


def proxy(expired: str = "2026-09-22T10:00:00Z") -> dict[str, Any]:
    return {"type": "kimi", "access_token": "SECRET-proxy-access",
            "refresh_token": "SECRET-proxy-refresh", "token_type": "Bearer",
            "scope": "kimi-code", "timestamp": 1790000000000, "expired": expired,
            "device_id": "dev-1"}


SETTINGS = {"env": {"ANTHROPIC_BASE_URL": "https://api.kimi.com/coding/",
                    "ANTHROPIC_AUTH_TOKEN": "sk-kimi-SECRET"}}
OPENCODE = {"kimi-for-coding": {"type": "api", "key": "sk-kimi-SECRET-oc"},
            "moonshotai": {"type": "api", "key": "sk-SECRET-platform"}}


def test_kimi_code_file_reads_the_token_and_its_expiry_in_seconds_or_ms(tmp_path: Path) -> None:
    creds = parse_kimi(json.dumps(kimi_code()), tmp_path / "kimi-code.json")
    assert (creds.tool, creds.provider, creds.access_token, creds.expires_at) == (
        "kimi-code", "kimi", "SECRET-kimi-access", NOW + 600)
    ms = parse_kimi(json.dumps(kimi_code((NOW + 600) * 1000)), tmp_path / "k.json")
    assert ms.expires_at == NOW + 600
    assert "SECRET" not in repr(creds)


def test_cliproxyapi_file_reads_its_rfc3339_expiry(tmp_path: Path) -> None:
    creds = parse_kimi(json.dumps(proxy()), tmp_path / "kimi-1.json")
    assert (creds.tool, creds.access_token) == ("cliproxyapi", "SECRET-proxy-access")
    assert creds.expires_at == 1790071200.0


def test_a_key_in_claude_code_settings_or_opencode_is_read(tmp_path: Path) -> None:
    settings = parse_kimi(json.dumps(SETTINGS), tmp_path / "settings.json")
    assert (settings.tool, settings.access_token, settings.expires_at) == (
        "claude-code-settings", "sk-kimi-SECRET", None)
    opencode = parse_kimi(json.dumps(OPENCODE), tmp_path / "auth.json")
    assert (opencode.tool, opencode.access_token) == ("opencode", "sk-kimi-SECRET-oc")


@pytest.mark.parametrize(("doc", "says"), [
    ({"env": {"ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic",
              "ANTHROPIC_AUTH_TOKEN": "SECRET"}}, "no Kimi Code key"),
    ({"type": "codex", "access_token": "SECRET"}, "not a Kimi file"),
    ({"hello": "world"}, "not a kimi-code credentials file"),
])
def test_another_file_is_an_auth_error_naming_it(tmp_path: Path, doc: Any, says: str) -> None:
    with pytest.raises(FetchError) as caught:
        parse_kimi(json.dumps(doc), tmp_path / "x.json")
    assert caught.value.reason is Reason.AUTH and says in caught.value.message
    assert "SECRET" not in caught.value.message


def test_an_expired_token_is_an_auth_error_saying_to_keep_the_cli_running(
        tmp_path: Path) -> None:
    path = write(tmp_path / "credentials" / "kimi-code.json", kimi_code(NOW - 60))
    before = path.read_bytes()
    tokens = KimiFile(path, clock=lambda: NOW)
    with pytest.raises(FetchError) as caught:
        tokens.token(time.monotonic() + 5)
    message = caught.value.message
    assert caught.value.reason is Reason.AUTH and "expired" in message
    assert "keep `kimi`" in message and "API key" in message and "SECRET" not in message
    # Never refreshed: a 401 is an auth error, and the file is untouched.
    write(path, kimi_code(NOW + 600))
    assert tokens.token(time.monotonic() + 5) == "SECRET-kimi-access"
    with pytest.raises(FetchError) as refused:
        tokens.refresh(time.monotonic() + 5, "SECRET-kimi-access")
    assert refused.value.reason is Reason.AUTH and "not sent again" in refused.value.message
    assert not tokens.can_refresh
    assert before != path.read_bytes()  # only the test wrote it


def test_a_refused_settings_key_says_to_put_a_kimi_code_key_there(tmp_path: Path) -> None:
    path = write(tmp_path / "settings.json", SETTINGS)
    tokens = KimiFile(path, clock=lambda: NOW)
    with pytest.raises(FetchError) as caught:
        tokens.refresh(time.monotonic() + 5, "sk-kimi-SECRET")
    assert "Moonshot platform keys" in caught.value.message


def test_places_follow_kimi_code_home_and_kimi_share_dir() -> None:
    env = Env(home=Path("/h"), environ={"KIMI_CODE_HOME": "~/kc", "KIMI_SHARE_DIR": "/s"})
    assert [p.path for p in kimi_code_places(env)] == [Path("/h/kc/credentials/kimi-code.json")]
    assert [p.path for p in kimi_cli_places(env)] == [Path("/s/credentials/kimi-code.json")]
    plain = Env(home=Path("/h"))
    assert [p.path for p in kimi_code_places(plain)] == [
        Path("/h/.kimi-code/credentials/kimi-code.json")]


def test_discovery_finds_kimi_accounts_in_every_tools_files(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.put(".kimi-code/credentials/kimi-code.json", kimi_code(FUTURE))
    home.put(".kimi/credentials/kimi-code.json",
             {**kimi_code(FUTURE), "access_token": "SECRET-legacy"})
    home.put(".cli-proxy-api/kimi-1790000000000.json", proxy())
    home.put(".claude/settings.json", SETTINGS)
    home.put(".local/share/opencode/auth.json", OPENCODE)
    before = {p: p.read_bytes() for p in home.files}
    env = Env(home=home.root, environ={}, root=tmp_path / "root")
    report = Scanner(env, providers=("kimi",)).scan()
    got = sorted((a.provider, a.tool, a.shown) for a in report.served)
    assert got == [
        ("kimi", "CLIProxyAPI", "~/.cli-proxy-api/kimi-1790000000000.json"),
        ("kimi", "Claude Code settings (Kimi key)", "~/.claude/settings.json"),
        ("kimi", "Kimi CLI (legacy)", "~/.kimi/credentials/kimi-code.json"),
        ("kimi", "Kimi Code CLI", "~/.kimi-code/credentials/kimi-code.json"),
        ("kimi", "opencode (Kimi key)", "~/.local/share/opencode/auth.json"),
    ]
    assert all(a.name.startswith("kimi-") for a in report.served)
    text = "\n".join([table(report), report_yaml(report), repr(report)])
    assert "SECRET" not in text
    # The written config is accepted as it is.
    config = tmp_path / "found.yml"
    config.write_text(config_text(report, {}, date="today", path=str(config)),
                      encoding="utf-8")
    loaded = load_config(config, env={})
    assert sorted(a.provider for a in loaded.accounts) == ["kimi"] * 5
    assert {p: p.read_bytes() for p in home.files} == before
