"""The token source of CLI-owned credentials (Claude Code, Codex): read only, never
refreshed; an expired or rejected token is never handed out again until the CLI
rewrites the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter.auth.cli_owned import CliOwnedFile, FixedToken
from exporter.config import AccountConfig, Credentials, Secret
from exporter.providers.base import cli_token_source
from exporter.providers.claude.credentials import parse_claude
from exporter.snapshot import FetchError, Reason

NOW = 1_800_000_000.0


def write(path: Path, token: str | None, expires_at: float | None = NOW + 3600) -> None:
    oauth: dict[str, object] = {"refreshToken": "sk-ant-ort01-never-sent",
                                "subscriptionType": "pro"}
    if token is not None:
        oauth["accessToken"] = token
    if expires_at is not None:
        oauth["expiresAt"] = int(expires_at * 1000)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"claudeAiOauth": oauth}))
    tmp.replace(path)  # a new inode, as the CLI writes it


@pytest.fixture
def creds(tmp_path: Path) -> Path:
    path = tmp_path / ".credentials.json"
    write(path, "tok-a")
    return path


def source(path: Path) -> CliOwnedFile:
    renew = "run `claude` once so it renews the file"
    return CliOwnedFile(path, parse_claude, renew, clock=lambda: NOW)


def auth_error(src: CliOwnedFile, rejected: str | None = None) -> str:
    with pytest.raises(FetchError) as err:
        if rejected is None:
            src.token(0.0)
        else:
            src.refresh(0.0, rejected)
    assert err.value.reason is Reason.AUTH
    return err.value.message


def test_the_files_token_is_used_while_it_has_not_expired(creds: Path) -> None:
    src = source(creds)
    assert src.token(0.0) == "tok-a" and src.can_refresh is False
    assert src.hints().plan == "pro"
    write(creds, "tok-a", expires_at=NOW - 1)
    message = auth_error(src)
    assert "expired at" in message and "1s ago" in message
    assert "run `claude` once" in message and str(creds) in message
    write(creds, "tok-b")
    assert src.token(0.0) == "tok-b"


def test_a_file_without_expiry_is_trusted_until_upstream_says_otherwise(creds: Path) -> None:
    write(creds, "tok-a", expires_at=None)
    assert source(creds).token(0.0) == "tok-a"


def test_a_rejected_token_is_refused_until_the_file_holds_another(creds: Path) -> None:
    src = source(creds)
    assert "rejected" in auth_error(src, rejected="tok-a")
    assert "not sent again until the file changes" in auth_error(src)
    write(creds, "tok-a", expires_at=NOW + 7200)  # rewritten, same token: still refused
    assert "rejected" in auth_error(src)
    write(creds, "tok-b")
    assert src.token(0.0) == "tok-b"


def test_refresh_hands_out_a_token_the_cli_wrote_meanwhile(creds: Path) -> None:
    src = source(creds)
    assert src.token(0.0) == "tok-a"
    write(creds, "tok-b")  # the other source's 401 raced with the CLI's renewal
    assert src.refresh(0.0, rejected="tok-a") == "tok-b"


def test_no_token_and_unreadable_files_are_auth_errors_that_recover(creds: Path) -> None:
    src = source(creds)
    write(creds, None)
    assert "holds no access token" in auth_error(src)
    creds.write_text('{"claudeAiOauth": {"accessToken": "tok-')  # mid-rewrite
    assert "is not JSON" in auth_error(src)
    creds.unlink()
    assert "cannot read credentials" in auth_error(src)
    write(creds, "tok-c")
    assert src.token(0.0) == "tok-c"


def test_a_cliproxyapi_file_is_renewed_by_the_proxy_not_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "claude-a@example.com.json"
    path.write_text(json.dumps({"type": "claude", "access_token": "tok",
                                "expired": "2020-01-01T00:00:00Z", "email": "a@example.com"}))
    src = source(path)
    message = auth_error(src)
    assert "CLIProxyAPI renews this file itself" in message and "`claude`" not in message
    assert src.hints().email == "a@example.com"


def test_bare_tokens_cannot_be_refreshed_and_say_so(tmp_path: Path) -> None:
    account = AccountConfig("a", "claude", Credentials("access_token", secret=Secret("t0k")))
    tokens = cli_token_source(account, parse_claude, "claude")
    assert isinstance(tokens, FixedToken) and tokens.token(0.0) == "t0k"
    with pytest.raises(FetchError, match="put a fresh one in access_token") as err:
        tokens.refresh(0.0, "t0k")
    assert "t0k" not in err.value.message
    refresh = AccountConfig("b", "claude", Credentials("refresh_token", secret=Secret("r")))
    with pytest.raises(ValueError, match="not refresh_token"):
        cli_token_source(refresh, parse_claude, "claude")
