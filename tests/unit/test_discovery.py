"""Discovery in process: a temporary home holding every supported tool's file, and the
odd ones (empty folders, unreadable and close-but-wrong files, one account in two
tools). What is found, the names, the dedupe, the places each tool's environment
variables point to, and that no token or email reaches any output and no file changes.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from exporter.discovery import LOCATIONS, Env, Location, Report, Scanner
from exporter.discovery.locations import cliproxyapi_places, llm_mux_places
from exporter.discovery.render import config_text, report_yaml, table
from exporter.discovery.scan import NAME_HASH_LENGTH, with_readable_names
from exporter.discovery.source import ConfigSource
from exporter.providers import load_config
from exporter.providers.antigravity.discovery import antigravity_manager_places, opencode_places
from exporter.providers.claude.discovery import claude_places
from exporter.providers.codex.discovery import codex_places
from exporter.providers.copilot.discovery import copilot_places
from exporter.providers.gemini_cli.discovery import gemini_cli_places
from exporter.redact import EMAIL_RE
from exporter.snapshot import AccountSnapshot, Snapshot
from exporter.views.page import render_page
from tests.discovery_home import FUTURE, PAST, PEOPLE, Home, every_tool, write_json

ALL_PROVIDERS = ("antigravity", "gemini-cli", "claude", "codex", "copilot", "cursor", "kiro",
                 "kimi", "minimax", "zai")
NAME_RE = re.compile(
    rf"(antigravity|gemini-cli|claude|codex|copilot|cursor|kiro|kimi|minimax|zai)"
    rf"-[0-9a-f]{{{NAME_HASH_LENGTH}}}")


@pytest.fixture
def home(tmp_path: Path) -> Home:
    (tmp_path / "home").mkdir()
    return Home(tmp_path / "home")


def env_for(home: Home, **environ: str) -> Env:
    # System-wide places (Homebrew, packages) under an empty root of their own.
    return Env(home=home.root, environ=environ, root=home.root.parent / "root")


def scan(home: Home, providers: tuple[str, ...] = ALL_PROVIDERS, **environ: str) -> Report:
    return Scanner(env_for(home, **environ), providers=providers).scan()


def served(report: Report) -> Counter[tuple[str, str, str]]:
    return Counter((a.provider, a.tool, a.shown) for a in report.served)


def assert_no_secret(text: str) -> None:
    """No token, no email, no local part or login, no account id in `text`."""
    assert "SECRET" not in text
    assert not EMAIL_RE.search(text) and "@example" not in text
    for person in PEOPLE:
        assert person not in text, person


def outputs(report: Report) -> str:
    page = render_page(Snapshot(accounts=(), taken_at=0.0), now=0.0, discovery=report)
    return "\n".join([table(report), report_yaml(report), page, repr(report)])


# -- what is found --------------------------------------------------------------------


def test_every_supported_format_is_found_once(home: Home) -> None:
    report = scan(every_tool(home))
    assert served(report) == Counter({
        ("antigravity", "CLIProxyAPI", "~/.cli-proxy-api/antigravity-<email>.json"): 2,
        ("antigravity", "llm-mux", "~/.config/llm-mux/auth/antigravity-<email>.json"): 1,
        ("antigravity", "agy", "~/.gemini/antigravity-cli/antigravity-oauth-token"): 1,
        ("antigravity", "opencode-antigravity-auth",
         "~/.config/opencode/antigravity-accounts.json #1"): 1,
        ("antigravity", "opencode-antigravity-auth",
         "~/.config/opencode/antigravity-accounts.json #2"): 1,
        ("gemini-cli", "CLIProxyAPI", "~/.cli-proxy-api/<email>-proj-g.json"): 1,
        ("gemini-cli", "Gemini CLI", "~/.gemini/oauth_creds.json"): 1,
        ("claude", "CLIProxyAPI", "~/.cli-proxy-api/claude-<email>.json"): 1,
        ("claude", "Claude Code", "~/.claude/.credentials.json"): 1,
        ("codex", "CLIProxyAPI", "~/.cli-proxy-api/codex-<email>-plus.json"): 1,
        ("codex", "Codex CLI", "~/.codex/auth.json"): 1,
        ("copilot", "GitHub Copilot", "~/.config/github-copilot/apps.json #1"): 1,
        ("copilot", "GitHub Copilot", "~/.config/github-copilot/apps.json #2"): 1,
    })
    by_shown = {a.shown: a for a in report.served}
    assert by_shown["~/.config/opencode/antigravity-accounts.json #2"].user == "kenji@example.com"
    assert by_shown["~/.config/github-copilot/apps.json #2"].user == "octo-two"
    # The token state: current, or refresh-only, and who renews what.
    assert {a.token for a in report.served} == {
        "current", "refresh token only: needs an oauth_client"}
    # The only other files: a disabled account, two copies, another provider's file.
    disabled = [a for a in report.accounts if not a.served]
    assert [(a.shown, a.why_not) for a in disabled] == [
        (disabled[0].shown, "disabled in Antigravity-Manager")]
    assert disabled[0].shown.startswith("~/.antigravity_tools/accounts/")
    assert [(s.shown, s.reason) for s in report.skipped] == [
        ("~/.cli-proxy-api/qwen-<email>.json",
         "type qwen: no provider of this exporter reads it")]


def test_same_account_in_two_tools_is_one_account(home: Home) -> None:
    report = scan(every_tool(home))
    alice = [a for a in report.accounts if a.also and a.provider == "antigravity"]
    assert len(alice) == 1
    assert alice[0].tool == "CLIProxyAPI"  # current, and it renews the token itself
    assert alice[0].also[0].startswith("~/.antigravity_tools/accounts/")
    copilot = [a for a in report.accounts if a.provider == "copilot" and a.also]
    assert [a.also for a in copilot] == [("~/.config/github-copilot/hosts.json",)]
    lines = table(report)
    assert re.search(r"~/\.antigravity_tools/accounts/\S+\.json: same account as "
                     rf"{alice[0].name} \(~/\.cli-proxy-api/antigravity-<email>\.json\)", lines)


def test_the_file_with_a_current_token_wins_and_the_name_stays(home: Home) -> None:
    cliproxy = home.cliproxy_antigravity("alice@example.com", expires=PAST)
    home.manager("alice@example.com", expires=FUTURE)
    scanner = Scanner(env_for(home), providers=ALL_PROVIDERS)
    (first,) = scanner.scan().served
    assert first.tool == "Antigravity-Manager" and first.token == "current"
    assert first.also == ("~/.cli-proxy-api/antigravity-<email>.json",)
    home.cliproxy_antigravity("alice@example.com", expires=FUTURE)  # CLIProxyAPI renewed it
    (second,) = scanner.scan().served
    # Both current now: the file used before stays, so the account does not flip.
    assert (second.tool, second.name) == ("Antigravity-Manager", first.name)
    os.utime(cliproxy)
    (fresh,) = Scanner(env_for(home), providers=ALL_PROVIDERS).scan().served
    # A new process has no "before": the tool that renews its tokens wins the tie.
    assert (fresh.tool, fresh.name) == ("CLIProxyAPI", first.name)


def test_names_are_stable_unique_and_never_hold_an_email(home: Home) -> None:
    every_tool(home)
    first, again = scan(home), scan(home)
    names = [a.name for a in first.accounts]
    assert names == [a.name for a in again.accounts]
    assert len(set(names)) == len(names)
    for name in names:
        assert NAME_RE.fullmatch(name), name
    # A name depends on the account, not on the file or tool it was read from.
    (alice,) = [a for a in first.accounts if a.also and a.provider == "antigravity"]
    moved = Home(home.root.parent / "other")
    moved.root.mkdir()
    moved.manager("alice@example.com")
    (same,) = Scanner(env_for(moved), providers=ALL_PROVIDERS).scan().served
    assert same.name == alice.name and same.tool == "Antigravity-Manager"


def test_a_name_clash_lengthens_the_hash(home: Home) -> None:
    home.claude_code()
    (plain,) = scan(home).served
    (longer,) = Scanner(env_for(home), providers=ALL_PROVIDERS).scan(taken={plain.name}).served
    assert longer.name.startswith(plain.name) and len(longer.name) == len(plain.name) + 4


def test_readable_names_are_an_opt_in(home: Home) -> None:
    every_tool(home)
    names = {a.shown: a.name for a in with_readable_names(scan(home)).served}
    assert names["~/.config/github-copilot/apps.json #1"] == "copilot-octo-one"
    assert names["~/.config/llm-mux/auth/antigravity-<email>.json"] == (
        "antigravity-grazia@example.com")
    # Claude Code's own file names no account: it keeps its hash.
    assert NAME_RE.fullmatch(names["~/.claude/.credentials.json"])


def test_token_states_say_who_renews_an_expired_token(home: Home) -> None:
    home.claude_code(expires=PAST)
    home.agy("ivan@example.com", expires=PAST)
    home.cliproxy_gemini("dave@example.com")
    path = home.root / ".cli-proxy-api" / "dave@example.com-proj-g.json"
    doc = json.loads(path.read_text())
    doc["token"]["expiry"] = "2020-01-01T00:00:00Z"
    write_json(path, doc)
    states = {a.tool: a.token for a in scan(home).served}
    assert states == {
        "Claude Code": "expired: Claude Code renews it when it runs",
        "agy": "expired: agy renews it when it runs, or give an oauth_client",
        "CLIProxyAPI": "expired: refreshed in memory with the file's OAuth client",
    }


# -- odd files --------------------------------------------------------------------------


def test_odd_files_are_skipped_with_a_reason_and_the_rest_still_found(home: Home) -> None:
    home.cliproxy_antigravity("alice@example.com")
    auth = home.root / ".cli-proxy-api"
    (auth / "antigravity-folder.json").mkdir()
    (auth / "antigravity-gone.json").symlink_to(auth / "nowhere.json")
    (auth / "antigravity-latin1.json").write_bytes(b'{"type": "antigravity", "e": "\xe9"}')
    (auth / "antigravity-broken.json").write_text('{"type": "antigravity", "access_token": "SE')
    (auth / "antigravity-huge.json").write_bytes(b" " * (1024 * 1024 + 1))
    write_json(auth / "notype.json", {"access_token": "SECRET-x"})
    write_json(auth / "antigravity-empty.json", {"type": "antigravity"})
    (auth / "README.txt").write_text("not a json file")
    (home.root / ".config" / "llm-mux" / "auth").mkdir(parents=True)
    # Close but wrong: another tool's format where this one keeps its own.
    write_json(home.root / ".antigravity_tools" / "accounts" / "x.json",
               {"token": {"access_token": "ya29.SECRET", "expiry": "2030-01-01T00:00:00Z"}})
    write_json(home.root / ".claude" / ".credentials.json", {"claudeAiOauth": "SECRET"})
    write_json(home.root / ".codex" / "auth.json", {"OPENAI_API_KEY": "sk-SECRET"})
    write_json(home.root / ".gemini" / "oauth_creds.json", {"installed": {"x": 1}})
    report = scan(home)
    assert [a.shown for a in report.served] == ["~/.cli-proxy-api/antigravity-<email>.json"]
    assert {s.shown: s.reason for s in report.skipped} == {
        "~/.cli-proxy-api/antigravity-broken.json": "the file is not JSON (line 1)",
        "~/.cli-proxy-api/antigravity-empty.json": "no token in it",
        "~/.cli-proxy-api/antigravity-folder.json": "not a file",
        "~/.cli-proxy-api/antigravity-gone.json": "cannot read: No such file or directory",
        "~/.cli-proxy-api/antigravity-huge.json": "too large for a credentials file",
        "~/.cli-proxy-api/antigravity-latin1.json": "not UTF-8 text",
        "~/.cli-proxy-api/notype.json":
            "the file has no `type`: not a CLIProxyAPI auth file",
        "~/.antigravity_tools/accounts/x.json":
            "not Antigravity-Manager's format (it reads as agy's)",
        "~/.claude/.credentials.json":
            "the file is not a Claude Code credentials file (no claudeAiOauth object, and "
            "not a CLIProxyAPI file of type claude)",
        "~/.codex/auth.json": "the file holds only an API key: plan quotas need a ChatGPT "
                              "sign-in (run `codex login` and choose ChatGPT)",
        "~/.gemini/oauth_creds.json": "no token in it",
    }
    looked = {lk.shown: lk.result for lk in report.looked}
    assert looked["~/.config/llm-mux/auth"] == "empty folder"
    assert looked["~/.cli-proxy-api"] == "1 account in 8 files"  # *.json only
    assert looked["~/.config/github-copilot/apps.json"] == "not found"
    assert_no_secret(outputs(report))


def test_a_file_of_several_accounts_that_cannot_be_told_apart_is_named(home: Home) -> None:
    home.opencode({"email": "judy@example.com", "refreshToken": "1//SECRET-j"},
                  {"refreshToken": "1//SECRET-nameless"})
    report = scan(home)
    assert [a.user for a in report.served] == ["judy@example.com"]
    assert [(s.shown, s.reason) for s in report.skipped] == [
        ("~/.config/opencode/antigravity-accounts.json",
         "account #2 has no email or login to pick it by")]


def test_an_unreadable_folder_is_reported_where_it_was_looked_at(home: Home) -> None:
    (home.root / ".cli-proxy-api").write_text("a file where a folder should be")
    looked = {lk.shown: lk.result for lk in scan(home).looked}
    assert looked["~/.cli-proxy-api"] == "not found"


# -- where each tool keeps its files ------------------------------------------------------


def test_environment_variables_move_each_tools_files(home: Home, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    environ = {
        "CODEX_HOME": str(elsewhere / "codex"),
        "CLAUDE_CONFIG_DIR": str(elsewhere / "claude"),
        "GEMINI_CLI_HOME": str(elsewhere / "gemini-home"),
        "XDG_CONFIG_HOME": str(elsewhere / "xdg"),
        "ABV_DATA_DIR": str(elsewhere / "abv"),
    }
    env = env_for(home, **environ)

    def paths(places: Any) -> list[str]:
        return [str(p.path.relative_to(tmp_path)) for p in places(env)]

    assert paths(codex_places) == ["elsewhere/codex/auth.json"]
    assert paths(claude_places) == ["elsewhere/claude/.credentials.json"]
    assert paths(gemini_cli_places) == ["elsewhere/gemini-home/.gemini/oauth_creds.json"]
    assert paths(copilot_places) == ["elsewhere/xdg/github-copilot/apps.json",
                                     "elsewhere/xdg/github-copilot/hosts.json"]
    assert paths(opencode_places) == ["elsewhere/xdg/opencode/antigravity-accounts.json"]
    assert paths(llm_mux_places) == ["elsewhere/xdg/llm-mux/auth"]
    assert paths(antigravity_manager_places) == ["elsewhere/abv/accounts"]
    # Claude Code's secure-storage folder comes before its config folder.
    secure = env_for(home, CLAUDE_SECURESTORAGE_CONFIG_DIR="~/secure", CLAUDE_CONFIG_DIR="/x")
    assert [p.path for p in claude_places(secure)] == [home.root / "secure/.credentials.json"]
    # Files put there are found; the defaults are not looked at any more.
    home.codex_cli("leopold@example.com", folder="../elsewhere/codex")
    home.claude_code(folder="../elsewhere/claude")
    home.gemini_cli("mallory@example.com", folder="../elsewhere/gemini-home/.gemini")
    home.copilot("apps.json", {"octo-one": "gho_SECRET1"}, base="../elsewhere/xdg")
    home.opencode({"email": "judy@example.com", "refreshToken": "1//SECRET"},
                  base="../elsewhere/xdg")
    home.cliproxy_antigravity("grazia@example.com", folder="../elsewhere/xdg/llm-mux/auth")
    home.manager("heidi@example.com", data_dir="../elsewhere/abv")
    home.claude_code()  # in the default folder, which CLAUDE_CONFIG_DIR replaced
    report = scan(home, **environ)
    assert sorted((a.provider, a.tool) for a in report.served) == [
        ("antigravity", "Antigravity-Manager"), ("antigravity", "llm-mux"),
        ("antigravity", "opencode-antigravity-auth"), ("claude", "Claude Code"),
        ("codex", "Codex CLI"), ("copilot", "GitHub Copilot"), ("gemini-cli", "Gemini CLI")]
    hows = {lk.tool: lk.how for lk in report.looked}
    assert hows["Codex CLI"] == "$CODEX_HOME" and hows["Claude Code"] == "$CLAUDE_CONFIG_DIR"
    assert hows["Antigravity-Manager"] == "$ABV_DATA_DIR"


def test_antigravity_manager_follows_its_location_pointer(home: Home) -> None:
    (home.root / ".antigravity_tools_location").write_text('"~/moved/data"\n')
    assert [p.path for p in antigravity_manager_places(env_for(home))] == [
        home.root / "moved/data/accounts"]
    home.manager("heidi@example.com", data_dir="moved/data")
    assert [a.tool for a in scan(home).served] == ["Antigravity-Manager"]


def test_cliproxyapi_auth_dir_comes_from_its_config(home: Home, tmp_path: Path) -> None:
    (home.root / ".cli-proxy-api").mkdir()
    (home.root / ".cli-proxy-api" / "config.yaml").write_text(
        "port: 8317\nauth-dir: ~/auths-flat\napi-keys: [SECRET-key]\n")
    cliproxy_conf = tmp_path / "root" / "usr/local/etc/cliproxyapi.conf"
    cliproxy_conf.parent.mkdir(parents=True)
    cliproxy_conf.write_text("config-version: 8\noauth:\n  auth-dir: /srv/auths-v8\n")
    env_conf = tmp_path / "cpa.yaml"
    env_conf.write_text("auth-dir: relative-auths\n")
    env = env_for(home, CLIPROXY_CONFIG=str(env_conf))
    assert [(str(p.path), p.how) for p in cliproxyapi_places(env)] == [
        (str(home.root / ".cli-proxy-api"), "default"),
        (str(tmp_path / "relative-auths"), "auth-dir in $CLIPROXY_CONFIG"),
        (str(home.root / "auths-flat"), "auth-dir in ~/.cli-proxy-api/config.yaml"),
        ("/srv/auths-v8", "auth-dir in Homebrew's cliproxyapi.conf"),
        (str(tmp_path / "root/var/lib/cli-proxy-api/auths"), "distribution package"),
    ]


def test_llm_mux_auth_dir_may_name_xdg_config_home(home: Home) -> None:
    config = home.root / ".config" / "llm-mux" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text('auth-dir: "$XDG_CONFIG_HOME/llm-mux/tokens"\n')
    assert [p.path for p in llm_mux_places(env_for(home))] == [
        home.root / ".config/llm-mux/auth", home.root / ".config/llm-mux/tokens"]


def test_windows_places(home: Home) -> None:
    env = replace(env_for(home, APPDATA="C:/Users/u/AppData/Roaming"), windows=True)
    assert [str(p.path) for p in opencode_places(env)] == [
        "C:/Users/u/AppData/Roaming/opencode/antigravity-accounts.json"]
    assert [p.path for p in copilot_places(env)] == [
        home.root / "AppData/Local/github-copilot/apps.json",
        home.root / "AppData/Local/github-copilot/hosts.json"]


def test_every_location_names_its_tool_formats_and_a_way_to_sign_in() -> None:
    assert [loc.tool for loc in LOCATIONS] == [
        "CLIProxyAPI", "llm-mux", "Antigravity-Manager", "agy", "opencode-antigravity-auth",
        "Gemini CLI", "Claude Code", "Codex CLI", "GitHub Copilot", "Cursor", "Kiro IDE",
        "kiro-cli", "Kimi Code CLI", "Kimi CLI (legacy)", "Claude Code settings (Kimi key)",
        "opencode (Kimi key)", "Claude Code settings (MiniMax key)", "opencode (MiniMax key)",
        "Claude Code settings (z.ai key)", "opencode (z.ai key)"]
    assert {p for loc in LOCATIONS for p in loc.providers} == set(ALL_PROVIDERS)
    assert all(loc.formats and loc.sign_in for loc in LOCATIONS)
    # The configuration guide's table of where discovery looks has a row per tool.
    guide = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text(
        encoding="utf-8")
    section = guide.split("## Zero configuration")[1].split("\n## ")[0]
    rows = {line.split("|")[1].strip() for line in section.splitlines()
            if line.startswith("| ") and not line.startswith("| tool")}
    for loc in LOCATIONS:
        assert any(row.startswith(loc.tool) for row in rows), loc.tool


# -- cost and safety ----------------------------------------------------------------------


def test_a_rescan_parses_only_the_files_that_changed(home: Home) -> None:
    every_tool(home)
    parsed: list[str] = []

    def counting(loc: Location) -> Location:
        def read(text: str, path: Path) -> Any:
            parsed.append(path.name)
            return loc.read(text, path)
        return replace(loc, read=read)

    scanner = Scanner(env_for(home), providers=ALL_PROVIDERS,
                      locations=tuple(counting(loc) for loc in LOCATIONS))
    first = scanner.scan()
    assert len(parsed) == 16  # every file of every_tool()
    parsed.clear()
    assert scanner.scan() == first and parsed == []
    home.claude_code(expires=FUTURE + 60)  # Claude Code renewed its token
    scanner.scan()
    assert parsed == [".credentials.json"]


def test_files_are_only_read(home: Home) -> None:
    every_tool(home)
    before = home.snapshot()
    report = scan(home)
    outputs(report)
    config_text(report, {}, date="today", path="x.yml")
    assert home.snapshot() == before
    assert sorted(p.name for p in home.root.rglob("*") if p.is_file()) == sorted(
        p.name for p in home.files)


def test_no_token_email_or_login_in_any_output(home: Home) -> None:
    report = scan(every_tool(home))
    assert_no_secret(outputs(report))


# -- the config it writes, and the accounts it serves ---------------------------------


def test_written_config_is_accepted_as_is_and_names_each_file(home: Home) -> None:
    report = scan(every_tool(home))
    served_here = scan(home, providers=("antigravity",))
    assert {a.provider for a in served_here.served} == {"antigravity"}
    path = home.root.parent / "written.yml"
    path.write_text(config_text(served_here, {}, date="today", path=str(path)))
    config = load_config(path, env={})
    assert [a.name for a in config.accounts] == [a.name for a in served_here.served]
    by_name = {a.name: a for a in served_here.served}
    for account in config.accounts:
        found = by_name[account.name]
        assert account.credentials.path == found.path
        assert account.credentials.user == found.user
        assert account.oauth_client is None and not account.expose_email
    text = path.read_text()
    assert "# oauth_client:" in text and "${ANTIGRAVITY_OAUTH_CLIENT_ID}" in text
    assert "keeps only a refresh token here" in text  # the opencode accounts
    # The accounts of providers this version lacks are named in comments, with why.
    assert "this version has no claude provider" in text
    assert len(report.served) > len(served_here.served)


def test_written_config_of_every_registered_provider_is_accepted(home: Home) -> None:
    """With the providers this build registers: each served account loads as written."""
    report = Scanner(env_for(every_tool(home))).scan()
    assert "antigravity" in {a.provider for a in report.served}
    path = home.root.parent / "written.yml"
    path.write_text(config_text(report, {}, date="today", path=str(path)))
    config = load_config(path, env={})
    assert sorted((a.name, a.provider) for a in config.accounts) == sorted(
        (a.name, a.provider) for a in report.served)


def test_written_config_takes_the_oauth_client_from_the_environment(home: Home) -> None:
    home.agy("ivan@example.com")
    report = Scanner(env_for(home)).scan()
    text = config_text(report, {"ANTIGRAVITY_OAUTH_CLIENT_ID": "id-1"}, date="d", path="p")
    path = home.root.parent / "written.yml"
    path.write_text(text)
    (account,) = load_config(path, env={"ANTIGRAVITY_OAUTH_CLIENT_ID": "id-1"}).accounts
    assert account.oauth_client is not None and account.oauth_client.client_id == "id-1"
    assert "id-1" not in text  # the variable is named, not its value


def test_readable_names_expose_the_email_they_show(home: Home) -> None:
    home.agy("ivan@example.com")
    report = with_readable_names(Scanner(env_for(home)).scan())
    path = home.root.parent / "written.yml"
    path.write_text(config_text(report, {}, date="d", path="p"))
    (account,) = load_config(path, env={}).accounts
    assert account.name == "antigravity-ivan@example.com" and account.expose_email


def test_config_source_serves_discovered_accounts_beside_configured_ones(
    home: Home,
) -> None:
    kept = home.cliproxy_antigravity("alice@example.com")
    home.manager("alice@example.com")  # the same account as the configured file
    home.agy("ivan@example.com")
    config = home.root.parent / "config.yml"
    config.write_text(
        "discover: true\n"
        "defaults:\n  timeout: 7s\n  oauth_client: {client_id: from-defaults}\n"
        f"accounts:\n  - name: work\n    provider: antigravity\n"
        f"    credentials: {{file: {json.dumps(str(kept))}}}\n")
    source = ConfigSource(config, env=env_for(home, ANTIGRAVITY_OAUTH_CLIENT_ID="from-env"))
    loaded = source.load()
    # work, and agy's; alice's Antigravity-Manager file is the same account as work.
    work, agy = loaded.accounts
    assert work.name == "work"
    assert NAME_RE.fullmatch(agy.name) and agy.timeout == 7.0
    assert agy.oauth_client is not None and agy.oauth_client.client_id == "from-defaults"
    assert source.report is not None
    (alice,) = [a for a in source.report.accounts if a.why_not]
    assert alice.why_not == "configured by hand as work"
    assert source.rescan() is None  # nothing changed
    home.opencode({"email": "judy@example.com", "refreshToken": "1//SECRET-j"})
    again = source.rescan()
    assert again is not None and len(again.accounts) == 3
    assert again.accounts[2].credentials.user == "judy@example.com"


def test_without_a_config_the_environment_gives_google_accounts_a_client(home: Home) -> None:
    home.agy("ivan@example.com")
    home.claude_code()
    source = ConfigSource(None, env=env_for(
        home, ANTIGRAVITY_OAUTH_CLIENT_ID="cid", ANTIGRAVITY_OAUTH_CLIENT_SECRET="cs"))
    config = source.load()
    (google,) = [a for a in config.accounts if a.provider == "antigravity"]
    assert config.discover and google.oauth_client is not None
    assert google.oauth_client.client_id == "cid"
    assert google.oauth_client.client_secret is not None
    assert google.oauth_client.client_secret.reveal() == "cs"
    # Claude's tokens are never refreshed: no client, where this build serves Claude.
    assert all(a.oauth_client is None for a in config.accounts if a is not google)


def test_nothing_found_is_an_empty_config_not_an_error(home: Home) -> None:
    source = ConfigSource(None, env=env_for(home))
    assert source.load().accounts == ()
    assert source.report is not None and not source.report.served
    assert "No accounts found on this machine" in table(source.report)


def test_landing_page_shows_files_used_and_places_looked(home: Home) -> None:
    home.cliproxy_antigravity("alice@example.com")
    home.manager("alice@example.com")
    report = scan(home)
    (found,) = report.served
    snapshot = Snapshot(accounts=(AccountSnapshot(
        provider="antigravity", account=found.name, up=False, data=None, error=None,
        duration_seconds=0.0, fetched_at=0.0, last_success=None),), taken_at=0.0)
    page = render_page(snapshot, now=0.0, discovery=report)
    assert "<h2>Discovered accounts</h2>" in page
    assert "~/.cli-proxy-api/antigravity-&lt;email&gt;.json" in page
    assert "same account as " + found.name in page
    # One per place of every tool (12 before the key-based providers, two each after).
    assert f"<details><summary>Places looked ({len(report.looked)})</summary>" in page
    assert len(report.looked) >= 12
    empty = render_page(Snapshot(accounts=(), taken_at=0.0), now=0.0,
                        discovery=scan(Home(home.root / "nobody")))
    assert "No accounts found yet" in empty and "<details open>" in empty
    assert "codex login" in empty
