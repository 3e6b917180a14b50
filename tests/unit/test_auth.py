"""Token sources: caching, refresh, invalid_grant, borrowed files (HTTP mocked with responses)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
import responses

from exporter.auth import (
    EXPIRY_MARGIN,
    OAuthRefresher,
    RefreshingToken,
    StaticToken,
)
from exporter.config import OAuthClient, Secret
from exporter.providers.google.credentials import BorrowedFile, parse_borrowed
from exporter.snapshot import FetchError, Reason

TOKEN_URL = "https://oauth.test.invalid/token"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"
FILE_EXPIRY = 1795891200.0  # "expired" in credentials.cliproxyapi.json
CLIENT = OAuthClient(client_id="cid", client_secret=Secret("client-secret-XYZ"))


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def far() -> float:
    return time.monotonic() + 10


def refreshing(clock: Clock, token: str = "rt-secret-1") -> RefreshingToken:
    refresher = OAuthRefresher(requests.Session(), CLIENT, TOKEN_URL, clock)
    return RefreshingToken(refresher, secret=Secret(token), clock=clock)


def token_reply(access: str, expires_in: int = 3600) -> dict[str, object]:
    return {"access_token": access, "expires_in": expires_in, "token_type": "Bearer"}


@responses.activate
def test_access_token_is_cached_until_shortly_before_expiry() -> None:
    clock = Clock()
    responses.post(TOKEN_URL, json=token_reply("at-1"))
    responses.post(TOKEN_URL, json=token_reply("at-2"))
    source = refreshing(clock)
    assert source.token(far()) == "at-1"
    clock.now += 3600 - EXPIRY_MARGIN - 1
    assert source.token(far()) == "at-1"
    assert len(responses.calls) == 1
    clock.now += 2
    assert source.token(far()) == "at-2"
    assert len(responses.calls) == 2


@responses.activate
def test_refresh_posts_the_form_the_oauth_server_expects() -> None:
    responses.post(TOKEN_URL, json=token_reply("at-1"))
    refreshing(Clock()).token(far())
    form = parse_qs(responses.calls[0].request.body)
    assert form == {
        "grant_type": ["refresh_token"],
        "refresh_token": ["rt-secret-1"],
        "client_id": ["cid"],
        "client_secret": ["client-secret-XYZ"],
    }


@responses.activate
def test_invalid_grant_is_an_auth_error_and_is_not_retried() -> None:
    responses.post(TOKEN_URL, status=400, json=json.loads(
        (FIXTURES / "token.invalid_grant.json").read_text()))
    source = refreshing(Clock())
    for _ in range(3):
        with pytest.raises(FetchError) as err:
            source.token(far())
        assert err.value.reason is Reason.AUTH
        assert "refresh token is dead" in err.value.message
    assert len(responses.calls) == 1  # remembered as dead: no loop


@responses.activate
def test_new_refresh_token_file_revives_a_dead_account(tmp_path: Path) -> None:
    path = tmp_path / "rt"
    path.write_text("rt-old\n")
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_grant"})
    responses.post(TOKEN_URL, json=token_reply("at-new"))
    clock = Clock()
    source = RefreshingToken(
        OAuthRefresher(requests.Session(), CLIENT, TOKEN_URL, clock), path=path, clock=clock
    )
    with pytest.raises(FetchError):
        source.token(far())
    path.write_text("rt-new-and-longer\n")
    assert source.token(far()) == "at-new"


@responses.activate
def test_invalid_client_names_the_config_keys() -> None:
    responses.post(TOKEN_URL, status=401, json={"error": "invalid_client"})
    with pytest.raises(FetchError) as err:
        refreshing(Clock()).token(far())
    assert err.value.reason is Reason.AUTH
    assert "oauth_client.client_id" in err.value.message


@responses.activate
def test_token_endpoint_5xx_is_upstream_and_network_error_is_network() -> None:
    responses.post(TOKEN_URL, status=503, body="busy")
    with pytest.raises(FetchError) as err:
        refreshing(Clock()).token(far())
    assert err.value.reason is Reason.UPSTREAM
    responses.replace(responses.POST, TOKEN_URL, body=requests.ConnectionError("refused"))
    with pytest.raises(FetchError) as err2:
        refreshing(Clock()).token(far())
    assert err2.value.reason is Reason.NETWORK


@responses.activate
def test_secrets_never_appear_in_refresh_errors() -> None:
    responses.post(TOKEN_URL, status=400, json={"error": "weird", "error_description": "x"})
    with pytest.raises(FetchError) as err:
        refreshing(Clock(), token="rt-PLANTED-SECRET").token(far())
    text = f"{err.value} {err.value!r} {err.value.message}"
    assert "PLANTED" not in text and "client-secret-XYZ" not in text


def test_static_token_cannot_refresh_and_says_why() -> None:
    source = StaticToken(secret=Secret("at-static"))
    assert source.token(far()) == "at-static"
    with pytest.raises(FetchError) as err:
        source.refresh(far(), "at-static")
    assert err.value.reason is Reason.AUTH
    assert "cannot be refreshed" in err.value.message


def test_access_token_file_is_reread_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "at"
    path.write_text("at-one\n")
    source = StaticToken(path=path)
    assert source.token(far()) == "at-one"
    path.write_text("at-two-changed\n")
    assert source.token(far()) == "at-two-changed"


def test_parse_cliproxyapi_file() -> None:
    text = (FIXTURES / "credentials.cliproxyapi.json").read_text()
    creds = parse_borrowed(text, Path("x.json"))
    assert creds.access_token == "ya29.example-borrowed-token"
    assert creds.refresh_token == "1//example-refresh-token"
    assert creds.email == "someone@example.com"
    assert creds.project == "bright-harbor-x4k2p"
    assert creds.expires_at == pytest.approx(FILE_EXPIRY)  # 2026-11-28T18:40:00Z
    assert "ya29" not in repr(creds)


def test_parse_antigravity_manager_and_gemini_cli_files() -> None:
    manager = parse_borrowed(json.dumps({"token": {
        "access_token": "a", "refresh_token": "r", "expiry_timestamp": 1800000000,
        "email": "m@example.com", "project_id": "p-1"}}), Path("m.json"))
    assert (manager.access_token, manager.expires_at, manager.project) == ("a", 1.8e9, "p-1")
    gemini = parse_borrowed(json.dumps({
        "access_token": "g", "refresh_token": "r", "expiry_date": 1800000000000}), Path("g.json"))
    assert gemini.expires_at == 1.8e9


def test_parse_expiry_from_timestamp_and_expires_in() -> None:
    creds = parse_borrowed(json.dumps(
        {"access_token": "a", "timestamp": 1800000000000, "expires_in": 3599}), Path("t.json"))
    assert creds.expires_at == 1800003599.0


def test_opencode_file_with_several_accounts_is_refused_clearly() -> None:
    text = json.dumps({"version": 1, "accounts": [{"refreshToken": "a"}, {"refreshToken": "b"}]})
    with pytest.raises(FetchError, match="holds 2 accounts"):
        parse_borrowed(text, Path("o.json"))


def test_unparseable_file_error_names_file_not_contents(tmp_path: Path) -> None:
    with pytest.raises(FetchError) as err:
        parse_borrowed("{not json SECRET-ish", Path("/x/creds.json"))
    assert "/x/creds.json" in err.value.message and "SECRET" not in err.value.message


def digest(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns


@responses.activate
def test_borrowed_file_uses_its_token_then_refreshes_in_memory_never_writing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "antigravity-someone.json"
    shutil.copy(FIXTURES / "credentials.cliproxyapi.json", path)
    before = digest(path)
    clock = Clock(FILE_EXPIRY - 1000)  # file token valid for 1000 s more
    source = BorrowedFile(path, requests.Session(), CLIENT, TOKEN_URL, clock)
    assert source.token(far()) == "ya29.example-borrowed-token"
    assert source.hints().project == "bright-harbor-x4k2p"
    responses.post(TOKEN_URL, json=token_reply("at-ours"))
    clock.now += 1000  # expired now
    assert source.token(far()) == "at-ours"
    assert source.token(far()) == "at-ours"
    assert len(responses.calls) == 1
    assert digest(path) == before


@responses.activate
def test_borrowed_file_rewritten_by_its_owner_is_picked_up(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    doc = json.loads((FIXTURES / "credentials.cliproxyapi.json").read_text())
    path.write_text(json.dumps(doc))
    clock = Clock(FILE_EXPIRY + 10)  # expired
    responses.post(TOKEN_URL, json=token_reply("at-ours"))
    source = BorrowedFile(path, requests.Session(), CLIENT, TOKEN_URL, clock)
    assert source.token(far()) == "at-ours"
    doc.update(access_token="ya29.rewritten-by-owner", expired="2026-11-28T20:00:00Z")
    path.write_text(json.dumps(doc, indent=1))
    assert source.token(far()) == "ya29.rewritten-by-owner"


def test_borrowed_file_without_refresh_means_auth_error(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps({"access_token": "a", "expired": "2020-01-01T00:00:00Z"}))
    source = BorrowedFile(path, requests.Session(), None, TOKEN_URL, Clock())
    with pytest.raises(FetchError) as err:
        source.token(far())
    assert err.value.reason is Reason.AUTH
    assert "expired or rejected" in err.value.message


@responses.activate
def test_borrowed_file_401_refreshes_once_even_if_file_says_valid(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    shutil.copy(FIXTURES / "credentials.cliproxyapi.json", path)
    source = BorrowedFile(path, requests.Session(), CLIENT, TOKEN_URL, Clock(FILE_EXPIRY - 3000))
    responses.post(TOKEN_URL, json=token_reply("at-after-401"))
    rejected = source.token(far())
    assert source.refresh(far(), rejected) == "at-after-401"
    assert source.token(far()) == "at-after-401"
    # A second source whose call was rejected with the same token gets the new one.
    assert source.refresh(far(), rejected) == "at-after-401"
    assert len(responses.calls) == 1


@responses.activate
def test_two_401s_for_one_token_refresh_once(tmp_path: Path) -> None:
    responses.post(TOKEN_URL, json=token_reply("at-1"))
    responses.post(TOKEN_URL, json=token_reply("at-2"))
    source = refreshing(Clock())
    first = source.token(far())
    assert source.refresh(far(), first) == "at-2"
    assert source.refresh(far(), first) == "at-2"  # the other source's 401 for `first`
    assert len(responses.calls) == 2


@responses.activate
def test_token_endpoint_html_200_is_a_parse_error() -> None:
    responses.post(TOKEN_URL, body="<html>captive portal</html>", content_type="text/html")
    with pytest.raises(FetchError) as err:
        refreshing(Clock()).token(far())
    assert err.value.reason is Reason.PARSE


def test_a_file_replaced_in_place_with_same_size_and_mtime_is_reread(tmp_path: Path) -> None:
    path = tmp_path / "at"
    path.write_text("at-one\n")
    source = StaticToken(path=path)
    assert source.token(far()) == "at-one"
    stamp = os.stat(path)
    replacement = tmp_path / "at.new"
    replacement.write_text("at-two\n")  # same size
    os.utime(replacement, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    os.replace(replacement, path)  # new inode, same size and mtime
    assert os.stat(path).st_mtime_ns == stamp.st_mtime_ns
    assert source.token(far()) == "at-two"
