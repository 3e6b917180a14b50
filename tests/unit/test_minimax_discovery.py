"""Discovery of MiniMax keys in a temporary home: Claude Code's settings.json pointed at
MiniMax and opencode's auth.json; another vendor's settings are not MiniMax's."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from exporter.discovery.render import table
from exporter.discovery.scan import Scanner
from exporter.providers.places import Env
from tests.discovery_home import Home

SETTINGS = {"env": {"ANTHROPIC_BASE_URL": "https://api.minimax.io/anthropic",
                    "ANTHROPIC_AUTH_TOKEN": "sk-cp-SECRET-settings",
                    "ANTHROPIC_MODEL": "MiniMax-M2.7"}}
AUTH = {"minimax-coding-plan": {"type": "api", "key": "sk-cp-SECRET-opencode"},
        "zai-coding-plan": {"type": "api", "key": "SECRET-zai"}}


def scan(root: Path, **environ: str) -> Counter[tuple[str, str, str]]:
    env = Env(home=root, environ=environ, root=root.parent / "root")
    report = Scanner(env, providers=("minimax",)).scan()
    text = table(report) + repr(report)
    assert "SECRET" not in text
    return Counter((a.provider, a.tool, a.shown) for a in report.served)


def test_keys_in_claude_code_settings_and_opencode_are_found(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.put(".claude/settings.json", SETTINGS)
    home.put(".local/share/opencode/auth.json", AUTH)
    assert scan(home.root) == Counter({
        ("minimax", "Claude Code settings (MiniMax key)", "~/.claude/settings.json"): 1,
        ("minimax", "opencode (MiniMax key)", "~/.local/share/opencode/auth.json"): 1})


def test_the_tools_own_variables_move_their_files(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.put("cc/settings.json", SETTINGS)
    home.put("data/opencode/auth.json", AUTH)
    found = scan(home.root, CLAUDE_CONFIG_DIR=str(home.root / "cc"),
                 XDG_DATA_HOME=str(home.root / "data"))
    assert sorted(tool for _, tool, _ in found) == [
        "Claude Code settings (MiniMax key)", "opencode (MiniMax key)"]


def test_settings_pointed_at_another_vendor_give_no_minimax_account(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.put(".claude/settings.json", {"env": {
        "ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic", "ANTHROPIC_AUTH_TOKEN": "SECRET"}})
    home.put(".local/share/opencode/auth.json", {"zai-coding-plan": {"type": "api",
                                                                      "key": "SECRET"}})
    assert scan(home.root) == Counter()


def test_one_opencode_file_serves_every_key_based_provider_it_holds(tmp_path: Path) -> None:
    """Discovery reads a file once per provider, not once in all: opencode's auth.json
    with a MiniMax, a z.ai and a Kimi key gives three accounts, and Claude Code's
    settings give the one its base URL names."""
    home = Home(tmp_path / "home")
    home.put(".claude/settings.json", SETTINGS)
    home.put(".local/share/opencode/auth.json", {
        **AUTH, "kimi-for-coding": {"type": "api", "key": "sk-kimi-SECRET"}})
    env = Env(home=home.root, environ={}, root=home.root.parent / "root")
    report = Scanner(env, providers=("minimax", "zai", "kimi")).scan()
    assert "SECRET" not in table(report) + repr(report)
    found = Counter((a.provider, a.shown) for a in report.served)
    assert found == Counter({
        ("minimax", "~/.claude/settings.json"): 1,
        ("minimax", "~/.local/share/opencode/auth.json"): 1,
        ("zai", "~/.local/share/opencode/auth.json"): 1,
        ("kimi", "~/.local/share/opencode/auth.json"): 1})
