"""Other tools' credential files: every format read (read only), what each yields, and
clear errors that name the file but never its contents."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from exporter.auth.credfile import CredentialFile, jwt_claims
from exporter.providers.claude.credentials import parse_claude
from exporter.providers.codex.credentials import parse_codex
from exporter.providers.copilot.credentials import copilot_accounts, parse_copilot
from exporter.providers.google.credentials import parse_borrowed
from exporter.snapshot import FetchError, Reason
from exporter.timefmt import parse_rfc3339

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"
P = Path("/h/creds.json")


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_claude_code_file() -> None:
    creds = parse_claude(fixture("claude.credentials.json"), P)
    assert (creds.tool, creds.provider) == ("claude-code", "claude")
    assert creds.access_token == "sk-ant-oat01-EXAMPLE"
    assert creds.expires_at == 1796000000.0 and creds.plan == "max"
    assert creds.identity is None  # the file names no account


def test_cliproxyapi_claude_file() -> None:
    doc = {"type": "claude", "access_token": "sk-ant-oat01-x", "refresh_token": "r",
           "email": "Alice@Example.com", "expired": "2026-12-01T10:00:00Z",
           "account_uuid": "0f0e", "last_refresh": "2026-11-30T10:00:00Z"}
    creds = parse_claude(json.dumps(doc), P)
    assert (creds.tool, creds.access_token) == ("cliproxyapi", "sk-ant-oat01-x")
    assert creds.expires_at == parse_rfc3339("2026-12-01T10:00:00Z")
    assert creds.identity == "alice@example.com|0f0e"


def test_codex_file_reads_account_expiry_and_plan_from_the_tokens() -> None:
    access = jwt({"exp": 1800000000, "https://api.openai.com/auth": {
        "chatgpt_account_id": "acc-from-claim", "chatgpt_plan_type": "pro"}})
    id_token = jwt({"email": "bob@example.com"})
    doc = {"tokens": {"id_token": id_token, "access_token": access, "refresh_token": "rt",
                      "account_id": "acc-1"}, "last_refresh": "2026-11-28T10:00:00Z"}
    creds = parse_codex(json.dumps(doc), P)
    assert (creds.tool, creds.provider) == ("codex-cli", "codex")
    assert (creds.account_id, creds.expires_at, creds.plan) == ("acc-1", 1.8e9, "pro")
    assert creds.email == "bob@example.com"


def test_codex_shared_example_file() -> None:
    creds = parse_codex(fixture("codex.auth.json"), P)
    assert creds.account_id == "00000000-0000-4000-8000-000000000000"
    assert creds.access_token == "eyJEXAMPLE.access.token" and creds.expires_at is None


def test_one_email_in_two_chatgpt_workspaces_is_two_accounts() -> None:
    def codex(account: str) -> CredentialFile:
        return parse_codex(json.dumps({"type": "codex", "access_token": "at",
                                       "email": "Bob@example.com", "account_id": account}), P)

    assert codex("team-1").identity == "bob@example.com|team-1"
    assert codex("team-1").identity != codex("personal").identity
    assert parse_copilot(fixture("copilot.apps.json"), P).identity == "example-user"


def test_codex_account_id_falls_back_to_the_token_claim() -> None:
    access = jwt({"https://api.openai.com/auth": {"chatgpt_account_id": "from-claim"}})
    creds = parse_codex(json.dumps({"tokens": {"access_token": access}}), P)
    assert creds.account_id == "from-claim"


def test_cliproxyapi_codex_file() -> None:
    doc = {"type": "codex", "access_token": "at", "account_id": "acc", "email": "c@x.io",
           "refresh_token": "rt", "disabled": True}
    creds = parse_codex(json.dumps(doc), P)
    assert (creds.tool, creds.account_id, creds.disabled) == ("cliproxyapi", "acc", True)


def test_codex_api_key_only_says_plan_quotas_need_a_chatgpt_sign_in() -> None:
    with pytest.raises(FetchError) as err:
        parse_codex(json.dumps({"OPENAI_API_KEY": "sk-SECRET"}), P)
    assert err.value.reason is Reason.AUTH and "ChatGPT" in err.value.message
    assert "sk-SECRET" not in err.value.message


def test_copilot_apps_and_hosts_files() -> None:
    creds = parse_copilot(fixture("copilot.apps.json"), P)
    assert (creds.provider, creds.access_token, creds.account_id) == (
        "copilot", "gho_EXAMPLE", "example-user")
    hosts = parse_copilot(json.dumps({"github.com": {"user": "u", "oauth_token": "gho_h"}}), P)
    assert hosts.access_token == "gho_h"


def test_copilot_file_with_several_users_needs_user() -> None:
    doc = {"github.com:Iv1.a": {"user": "one", "oauth_token": "gho_1"},
           "github.com:Iv1.b": {"user": "two", "oauth_token": "gho_2"},
           "ghe.example.com:Iv1.c": {"user": "three", "oauth_token": "gho_3"}}
    text = json.dumps(doc)
    assert [a.account_id for a in copilot_accounts(text, P)] == ["one", "two"]
    with pytest.raises(FetchError, match=r"holds 2 GitHub sign-ins; set credentials\.user"):
        parse_copilot(text, P)
    assert parse_copilot(text, P, user="TWO").access_token == "gho_2"
    with pytest.raises(FetchError, match="no sign-in of the GitHub login") as err:
        parse_copilot(text, P, user="nobody")
    assert "nobody" not in err.value.message


def test_google_formats_name_their_tool_and_provider() -> None:
    cliproxy = parse_borrowed(fixture("credentials.cliproxyapi.json"), P)
    assert (cliproxy.tool, cliproxy.provider) == ("cliproxyapi", "antigravity")
    gemini_cli = parse_borrowed(json.dumps({
        "access_token": "g", "refresh_token": "r", "expiry_date": 1800000000000,
        "id_token": jwt({"email": "g@example.com"})}), P)
    assert (gemini_cli.tool, gemini_cli.provider) == ("gemini-cli", "gemini-cli")
    assert gemini_cli.email == "g@example.com"
    cliproxy_gemini = parse_borrowed(json.dumps({
        "type": "gemini", "email": "p@example.com", "project_id": "p-1",
        "token": {"access_token": "a", "refresh_token": "r",
                  "expiry": "2026-12-01T10:00:00Z"}}), P)
    assert (cliproxy_gemini.provider, cliproxy_gemini.project) == ("gemini-cli", "p-1")
    assert cliproxy_gemini.expires_at == parse_rfc3339("2026-12-01T10:00:00Z")
    agy = parse_borrowed(json.dumps({
        "token": {"access_token": "a", "refresh_token": "r",
                  "expiry": "2026-10-05T23:32:38.7412345+08:00"},
        "auth_method": "consumer", "id_token": jwt({"email": "agy@example.com"})}), P)
    assert (agy.tool, agy.provider, agy.email) == ("agy", "antigravity", "agy@example.com")
    assert agy.expires_at == pytest.approx(parse_rfc3339("2026-10-05T15:32:38.741234Z"), abs=1e-3)
    manager = parse_borrowed(json.dumps({"email": "m@example.com", "disabled": True, "token": {
        "access_token": "a", "refresh_token": "r", "expiry_timestamp": 1.8e9}}), P)
    assert (manager.tool, manager.disabled, manager.email) == (
        "antigravity-manager", True, "m@example.com")


def test_opencode_file_with_several_accounts_picks_one_by_user() -> None:
    doc = {"version": 3, "accounts": [
        {"email": "a@example.com", "refreshToken": "1//a", "projectId": "p-a"},
        {"email": "b@example.com", "refreshToken": "1//b", "enabled": False}]}
    text = json.dumps(doc)
    with pytest.raises(FetchError, match=r"holds 2 accounts; set credentials\.user"):
        parse_borrowed(text, P)
    b = parse_borrowed(text, P, user="B@example.com")
    assert (b.tool, b.refresh_token, b.disabled) == ("opencode", "1//b", True)


@pytest.mark.parametrize("parse", [parse_claude, parse_codex, parse_copilot, parse_borrowed])
def test_unreadable_json_names_the_file_never_its_contents(parse: Any) -> None:
    with pytest.raises(FetchError) as err:
        parse('{"token": "SECRET-ish', P)
    assert str(P) in err.value.message and "SECRET" not in err.value.message


@pytest.mark.parametrize("parse", [parse_claude, parse_codex])
def test_a_close_but_wrong_format_is_named(parse: Any) -> None:
    with pytest.raises(FetchError, match="is not a"):
        parse(json.dumps({"type": "gemini", "access_token": "x"}), P)


def test_no_repr_shows_a_secret() -> None:
    creds = CredentialFile("t", "p", access_token="tok-SECRET", email="e@x.io", account_id="id")
    assert "SECRET" not in repr(creds) and "e@x.io" not in repr(creds)


def test_jwt_claims_of_junk_is_empty() -> None:
    assert jwt_claims("not.a.jwt!") == {} and jwt_claims(None) == {} and jwt_claims("a.b") == {}
