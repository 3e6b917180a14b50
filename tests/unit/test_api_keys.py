"""API keys as credentials (`api_key`, `api_key_file`, `api_key_env`), for providers
that take a static key (z.ai, MiniMax): read from the config, a file or the
environment, never refreshed, never shown."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from exporter.auth import ApiKey
from exporter.config import ConfigError, parse_config
from exporter.providers.antigravity import SPEC as ANTIGRAVITY
from exporter.snapshot import FetchError, Reason

KEY = "sk-test-0123456789abcdef"
# A provider that takes API keys: any spec with those credential kinds.
KEYED = replace(ANTIGRAVITY, name="keyed",
                credential_kinds=("api_key", "api_key_file", "api_key_env"))


def parse(credentials: dict[str, object], env: dict[str, str] | None = None,
          base_dir: Path | None = None) -> object:
    data = {"accounts": [{"name": "a", "provider": "keyed", "credentials": credentials}]}
    return parse_config(data, {"keyed": KEYED}, env=env or {}, base_dir=base_dir)


def test_api_key_api_key_file_and_api_key_env_are_credentials(tmp_path: Path) -> None:
    (tmp_path / "key").write_text(KEY + "\n")
    by_value = parse({"api_key": KEY}).accounts[0].credentials  # type: ignore[attr-defined]
    assert (by_value.kind, by_value.secret.reveal()) == ("api_key", KEY)
    by_file = parse({"api_key_file": "key"}, base_dir=tmp_path).accounts[0]  # type: ignore[attr-defined]
    assert (by_file.credentials.kind, by_file.credentials.path) == ("api_key_file",
                                                                    tmp_path / "key")
    by_env = parse({"api_key_env": "ZAI_KEY"}, env={"ZAI_KEY": KEY}).accounts[0]  # type: ignore[attr-defined]
    creds = by_env.credentials
    assert (creds.kind, creds.env, creds.secret.reveal()) == ("api_key_env", "ZAI_KEY", KEY)


def test_a_missing_environment_variable_names_the_key_and_the_variable() -> None:
    with pytest.raises(ConfigError) as exc:
        parse({"api_key_env": "ZAI_KEY"}, env={"ZAI_KEY": "  "})
    assert exc.value.problems == [("accounts[0].credentials.api_key_env",
                                   "environment variable ZAI_KEY is not set or empty")]
    with pytest.raises(ConfigError) as bad:
        parse({"api_key_env": "not a name"})
    assert "is not an environment variable name" in str(bad.value)


def test_a_provider_without_api_keys_refuses_them() -> None:
    data = {"accounts": [{"name": "a", "provider": "antigravity",
                          "credentials": {"api_key": KEY}}]}
    with pytest.raises(ConfigError) as exc:
        parse_config(data, {"antigravity": ANTIGRAVITY}, env={})
    assert "accounts[0].credentials" in str(exc.value) and KEY not in str(exc.value)


def test_the_key_is_sent_as_is_never_refreshed_and_never_shown(tmp_path: Path) -> None:
    key = ApiKey(secret=parse({"api_key": KEY}).accounts[0].credentials.secret)  # type: ignore[attr-defined]
    assert key.token(0.0) == KEY and not key.can_refresh
    with pytest.raises(FetchError) as exc:
        key.refresh(0.0, KEY)
    assert exc.value.reason is Reason.AUTH and KEY not in exc.value.message
    assert "was refused (401)" in exc.value.message
    path = tmp_path / "key"
    path.write_text(KEY)
    from_file = ApiKey(path=path, where=f"api_key_file {path}")
    assert from_file.token(0.0) == KEY
    path.write_text("sk-new")  # the owner rotates it: read again
    assert from_file.token(0.0) == "sk-new"
    path.write_text("")
    with pytest.raises(FetchError, match="is empty"):
        from_file.token(0.0)


# -- where users already keep keys ----------------------------------------------------------


def test_claude_code_settings_give_a_key_only_to_the_provider_of_their_base_url() -> None:
    from exporter.providers.keyfiles import claude_settings_keys

    body = ('{"env": {"ANTHROPIC_BASE_URL": "https://api.kimi.com/coding/",'
            ' "ANTHROPIC_API_KEY": "sk-kimi-1"}, "model": "opus"}')
    (found,) = claude_settings_keys(body, Path("settings.json"), "kimi", ("api.kimi.com",))
    assert (found.provider, found.access_token, found.tool) == (
        "kimi", "sk-kimi-1", "claude-code-settings")
    assert claude_settings_keys(body, Path("settings.json"), "zai", ("api.z.ai",)) == []
    assert claude_settings_keys('{"env": {}}', Path("s"), "kimi", ("api.kimi.com",)) == []
    # A lookalike host is not the vendor's.
    evil = '{"env": {"ANTHROPIC_BASE_URL": "https://api.kimi.com.evil.example/", ' \
           '"ANTHROPIC_API_KEY": "x"}}'
    assert claude_settings_keys(evil, Path("s"), "kimi", ("api.kimi.com",)) == []


def test_opencode_auth_gives_the_keys_of_the_named_entries() -> None:
    from exporter.providers.keyfiles import opencode_keys

    body = ('{"zai-coding-plan": {"type": "api", "key": "k-zai"}, '
            '"github-copilot": {"type": "oauth", "refresh": "r"}}')
    (found,) = opencode_keys(body, Path("auth.json"), "zai", ("zai-coding-plan",))
    assert (found.access_token, found.account_id) == ("k-zai", "zai-coding-plan")
    assert opencode_keys(body, Path("auth.json"), "x", ("github-copilot",)) == []
    with pytest.raises(FetchError) as exc:
        opencode_keys("[1]", Path("auth.json"), "zai", ("zai-coding-plan",))
    assert exc.value.reason is Reason.AUTH and "not a JSON object" in exc.value.message
