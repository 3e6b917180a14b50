"""examples/llm-quota-exporter.yml is a config `check-config` accepts once the files it
names exist, and it holds no secret itself."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.procs import REPO

EXAMPLE = REPO / "examples" / "llm-quota-exporter.yml"
SECRET_KEYS = {"access_token", "refresh_token", "client_secret"}


def check_config(
    config: Path, home: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`check-config` with only `env`'s variables of the example's own."""
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("ANTIGRAVITY_OAUTH_CLIENT_ID", "GEMINI_CLI_OAUTH_CLIENT_ID")}
    full_env.update(HOME=str(home), **env)
    return subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", "--config.file", str(config)],
        capture_output=True, text=True, cwd=str(REPO), env=full_env, timeout=60, check=False)


def test_example_config_passes_check_config_once_its_files_exist(tmp_path: Path) -> None:
    config = tmp_path / "llm-quota-exporter.yml"
    shutil.copy(EXAMPLE, config)
    home = tmp_path / "home"
    (home / ".cli-proxy-api").mkdir(parents=True)
    (home / ".cli-proxy-api" / "antigravity-someone@example.com.json").write_text(
        '{"type": "antigravity", "access_token": "x", "refresh_token": "y"}')
    (home / ".claude").mkdir()
    (home / ".claude" / ".credentials.json").write_text('{"claudeAiOauth": {}}')
    (home / ".codex").mkdir()
    (home / ".codex" / "auth.json").write_text('{"tokens": {}}')
    (home / ".config" / "github-copilot").mkdir(parents=True)
    (home / ".config" / "github-copilot" / "apps.json").write_text("{}")
    (home / ".gemini").mkdir()
    (home / ".gemini" / "oauth_creds.json").write_text('{"refresh_token": "r"}')
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "personal.refresh_token").write_text("a-refresh-token\n")
    (tmp_path / "secrets" / "antigravity-client-secret").write_text("a-client-secret\n")
    (tmp_path / "secrets" / "gemini-cli-client-secret").write_text("another-secret\n")
    result = check_config(config, home, {"ANTIGRAVITY_OAUTH_CLIENT_ID": "an-id",
                                         "GEMINI_CLI_OAUTH_CLIENT_ID": "another-id"})
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (f"{config}: OK, 6 account(s): work, personal, claude-max, "
                             "codex-plus, copilot, gemini-cli\n")


def test_example_config_without_its_files_names_each_one(tmp_path: Path) -> None:
    config = tmp_path / "llm-quota-exporter.yml"
    shutil.copy(EXAMPLE, config)
    result = check_config(config, tmp_path, {})
    assert result.returncode == 2
    for path in ("accounts[0].credentials.file", "accounts[1].credentials.refresh_token_file",
                 "accounts[1].oauth_client.client_id", "ANTIGRAVITY_OAUTH_CLIENT_ID",
                 "accounts[1].oauth_client.client_secret_file",
                 "accounts[2].credentials.file", "accounts[3].credentials.file",
                 "accounts[4].credentials.file", "accounts[5].credentials.file",
                 "GEMINI_CLI_OAUTH_CLIENT_ID"):
        assert path in result.stderr, (path, result.stderr)


def test_example_config_holds_no_secret_inline() -> None:
    def keys(node: object) -> set[str]:
        if isinstance(node, dict):
            return set(map(str, node)) | set().union(*(keys(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(keys(v) for v in node))
        return set()

    assert not keys(yaml.safe_load(EXAMPLE.read_text())) & SECRET_KEYS
