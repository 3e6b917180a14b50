"""`llm-quota-exporter discover` and `quota` without a config, as real processes with a
temporary home: the report, the config it writes (accepted by check-config as is),
the refusals, an unreadable file, and no token or email in any output."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from exporter.discovery import LOCATIONS, Env, Scanner
from tests.discovery_home import PAST, Home, every_tool
from tests.procs import REPO
from tests.unit.test_discovery import assert_no_secret

# Variables that move other tools' files: the tests set their own, never the machine's.
TOOL_VARS = ("CODEX_HOME", "CLAUDE_CONFIG_DIR", "CLAUDE_SECURESTORAGE_CONFIG_DIR",
             "GEMINI_CLI_HOME", "XDG_CONFIG_HOME", "ABV_DATA_DIR", "CLIPROXY_CONFIG",
             "CLIPROXY_CONFIG_PATH", "APPDATA", "LOCALAPPDATA",
             "ANTIGRAVITY_OAUTH_CLIENT_ID", "ANTIGRAVITY_OAUTH_CLIENT_SECRET",
             "GEMINI_CLI_OAUTH_CLIENT_ID", "GEMINI_CLI_OAUTH_CLIENT_SECRET")


def home_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TOOL_VARS}
    env.update(HOME=str(home), PYTHONPATH=str(REPO), **extra)
    return env


def run(home: Home, *args: str, cwd: Path | None = None, drop_read_override: bool = False,
        **extra: str) -> subprocess.CompletedProcess[str]:
    """The CLI in `cwd` (default: the home's parent, which holds no config file).
    `drop_read_override`: as root, run without the capability to read any file, so a
    mode-000 file is unreadable as it is for everyone else."""
    command = [sys.executable, "-m", "exporter", *args]
    if drop_read_override and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        assert setpriv, "setpriv (util-linux) is needed to test unreadable files as root"
        caps = "-dac_override,-dac_read_search"
        command = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    return subprocess.run(command, cwd=cwd or home.root.parent, env=home_env(home.root, **extra),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    (tmp_path / "home").mkdir()
    return Home(tmp_path / "home")


def test_discover_lists_accounts_and_places_with_nothing_secret(home: Home) -> None:
    every_tool(home)
    before = home.snapshot()
    result = run(home, "discover")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Looked in:" in out and "Not served:" in out
    expected = Scanner(Env(home=home.root), providers=None).scan()
    for account in expected.served:
        assert account.name in out and account.shown in out
    assert "~/.cli-proxy-api/qwen-<email>.json: type qwen" in out
    assert_no_secret(out + result.stderr)
    assert home.snapshot() == before


def test_discover_yaml_is_the_same_report_for_scripts(home: Home) -> None:
    every_tool(home)
    result = run(home, "discover", "--output", "yaml")
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load(result.stdout)
    assert set(doc) == {"accounts", "skipped", "looked"}
    report = Scanner(Env(home=home.root)).scan()
    assert [a["name"] for a in doc["accounts"]] == [a.name for a in report.accounts]
    assert [a["file"] for a in doc["accounts"]] == [a.shown for a in report.accounts]
    assert {lk["place"] for lk in doc["looked"]} >= {"~/.cli-proxy-api", "~/.codex/auth.json"}
    assert_no_secret(result.stdout)


def test_write_config_writes_a_private_file_check_config_accepts(home: Home) -> None:
    every_tool(home)
    target = home.root.parent / "llm-quota-exporter.yml"
    result = run(home, "discover", "--write-config", str(target))
    assert result.returncode == 0, result.stderr
    assert f"Wrote {result.stderr.split('Wrote ')[1].split()[0]} account(s)" in result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    checked = run(home, "check-config", "--config.file", str(target))
    assert checked.returncode == 0, checked.stderr
    report = Scanner(Env(home=home.root)).scan()
    assert checked.stdout.startswith(f"{target}: OK, {len(report.served)} account(s): ")
    # It never replaces a file unless asked to.
    target.write_text("mine\n")
    again = run(home, "discover", "--write-config", str(target))
    assert again.returncode == 2 and "exists; pass --force to replace it" in again.stderr
    assert target.read_text() == "mine\n"
    forced = run(home, "discover", "--write-config", str(target), "--force")
    assert forced.returncode == 0 and target.read_text().startswith("# llm-quota-exporter")


def test_write_config_never_goes_where_a_tool_keeps_credentials(home: Home) -> None:
    every_tool(home)
    before = home.snapshot()
    for target in (home.root / ".cli-proxy-api" / "config-by-mistake.yml",
                   home.root / ".claude" / ".credentials.json"):
        result = run(home, "discover", "--write-config", str(target), "--force")
        assert result.returncode == 2
        assert "keeps its credentials; write the config somewhere else" in result.stderr
    assert home.snapshot() == before


def test_names_email_is_an_opt_in(home: Home) -> None:
    home.agy("ivan@example.com")
    target = home.root.parent / "named.yml"
    result = run(home, "discover", "--names", "email", "--write-config", str(target))
    assert result.returncode == 0, result.stderr
    assert "antigravity-ivan@example.com" in result.stdout
    account = yaml.safe_load(target.read_text())["accounts"][0]
    assert account["name"] == "antigravity-ivan@example.com" and account["expose_email"]


def test_nothing_found_says_where_it_looked_and_how_to_sign_in(home: Home) -> None:
    (home.root / ".cli-proxy-api").mkdir()
    target = home.root.parent / "none.yml"
    result = run(home, "discover", "--write-config", str(target))
    assert result.returncode == 1
    assert "~/.cli-proxy-api" in result.stdout and "empty folder" in result.stdout
    assert "No accounts found on this machine. Sign in with one of these tools:" in result.stdout
    assert "codex login" in result.stdout and "not written" in result.stderr
    assert not target.exists()


def test_an_unreadable_file_is_named_with_why(home: Home) -> None:
    home.agy("ivan@example.com")
    locked = home.cliproxy_antigravity("alice@example.com")
    locked.chmod(0)
    result = run(home, "discover", drop_read_override=True)
    assert result.returncode == 0, result.stderr
    assert ("~/.cli-proxy-api/antigravity-<email>.json: cannot read: Permission denied"
            in result.stdout)
    assert_no_secret(result.stdout)


def test_quota_without_a_config_or_accounts_explains_itself(home: Home) -> None:
    result = run(home, "quota")
    assert result.returncode == 2
    assert result.stderr.startswith("No config file (llm-quota-exporter.yml here, or "
                                    "--config.file). Looked for accounts in:")
    assert "~/.claude/.credentials.json" in result.stderr and "Sign in" in result.stderr


def test_quota_runs_on_discovered_accounts(home: Home) -> None:
    # An expired token and no OAuth client: the account fails before any network call.
    home.agy("ivan@example.com", expires=PAST)
    result = run(home, "quota", "--output", "json")
    assert result.returncode == 1, result.stderr
    (account,) = yaml.safe_load(result.stdout)["accounts"]
    assert account["up"] is False and "no oauth_client to refresh it" in (
        account["error"]["message"])
    table = run(home, "quota")
    assert "No config file: the 1 account(s) found on this machine" in table.stderr
    assert "~/.gemini/antigravity-cli/antigravity-oauth-token" in table.stderr


def test_a_config_in_the_working_directory_wins_over_discovery(home: Home) -> None:
    home.agy("ivan@example.com", expires=PAST)
    (home.root.parent / "llm-quota-exporter.yml").write_text("accounts: []\n")
    result = run(home, "quota")
    assert result.returncode == 2
    assert "invalid config llm-quota-exporter.yml" in result.stderr


def test_compose_override_mounts_every_tools_folder_read_only(tmp_path: Path) -> None:
    """docker-compose.discover.yml is valid on top of docker-compose.yml, and mounts,
    read-only into the image's home, a folder holding each tool's default place."""
    from tests.e2e.test_rules import ok
    from tests.e2e.test_rules import run as run_tool
    from tests.promql_util import binary

    ok(run_tool(binary("docker-compose"), "-f", str(REPO / "docker-compose.yml"),
                "-f", str(REPO / "docker-compose.discover.yml"), "config", "-q"))
    override = yaml.safe_load((REPO / "docker-compose.discover.yml").read_text())
    exporter = override["services"]["exporter"]
    assert exporter["command"] == ["--web.listen-address", "0.0.0.0:10977"]
    assert exporter["environment"]["HOME"] == "/home/exporter"
    mounts = exporter["volumes"]
    assert all(m["type"] == "bind" and m["read_only"] is True for m in mounts)
    assert all(m["target"] == "/home/exporter/" + m["source"].removeprefix("~/")
               for m in mounts)
    mounted = [Path(m["source"].removeprefix("~/")) for m in mounts]
    env = Env(home=Path("/h"))
    for location in LOCATIONS:
        for place in location.places(env):
            if place.how == "default" and place.path.is_relative_to(env.home):
                rel = place.path.relative_to(env.home)
                assert any(rel.is_relative_to(m) for m in mounted), (location.tool, rel)
    # The Dockerfile's home is where the folders go.
    assert "--home-dir /home/exporter" in (REPO / "Dockerfile").read_text()


def test_check_config_of_a_config_that_only_discovers(home: Home) -> None:
    home.agy("ivan@example.com")
    config = home.root.parent / "discover.yml"
    config.write_text("discover: true\ndefaults:\n  timeout: 5s\n")
    result = run(home, "check-config", "--config.file", str(config))
    assert result.returncode == 0, result.stderr
    assert result.stdout == (f"{config}: OK, 0 account(s); discover: true adds the accounts "
                             "found on this machine (llm-quota-exporter discover lists them)\n")
    assert result.stderr == ""  # the file only: nothing was looked for
