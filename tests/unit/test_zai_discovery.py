"""Discovery of z.ai keys where users already keep them, in a temporary home: Claude
Code's settings pointed at z.ai, opencode's auth.json, a proxy's `type: zai` file;
and the credential reader the provider shares with it (region, picking an entry)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from exporter.auth.credfile import CredentialFile
from exporter.discovery import Env, Report, Scanner
from exporter.discovery.render import config_text, report_yaml, table
from exporter.providers import load_config, make_provider
from exporter.providers.zai.client import ZaiProvider
from exporter.providers.zai.credentials import CHINA, ZaiKeyFile, parse_key_file
from exporter.snapshot import FetchError, Reason, Snapshot
from exporter.upstream.transport import HttpClients
from exporter.views.page import render_page
from tests.discovery_home import Home

CLAUDE = {"env": {"ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic",
                  "ANTHROPIC_AUTH_TOKEN": "zai-SECRET-claude", "API_TIMEOUT_MS": "3000000"}}
OPENCODE = {"anthropic": {"type": "oauth", "refresh": "SECRET-rt", "access": "SECRET-at"},
            "zai-coding-plan": {"type": "api", "key": "zai-SECRET-opencode"}}
PROXY = {"type": "zai", "provider": "bigmodel", "access_token": "zai-SECRET-proxy.sk"}


@pytest.fixture
def home(tmp_path: Path) -> Home:
    (tmp_path / "home").mkdir()
    return Home(tmp_path / "home")


def scan(home: Home, **environ: str) -> Report:
    env = Env(home=home.root, environ=environ, root=home.root.parent / "root")
    return Scanner(env, providers=("zai",)).scan()


def zai_home(home: Home) -> Home:
    home.put(".claude/settings.json", CLAUDE)
    home.put(".local/share/opencode/auth.json", OPENCODE)
    home.put(".cli-proxy-api/zai-someone.json", PROXY)
    return home


def test_every_place_a_zai_key_sits_is_found_once_and_nothing_is_written(home: Home) -> None:
    zai_home(home)
    before = home.snapshot()
    report = scan(home)
    served = Counter((a.provider, a.tool, a.shown) for a in report.served)
    assert served == Counter({
        ("zai", "Claude Code settings (z.ai key)", "~/.claude/settings.json"): 1,
        ("zai", "opencode (z.ai key)", "~/.local/share/opencode/auth.json"): 1,
        ("zai", "CLIProxyAPI", "~/.cli-proxy-api/zai-someone.json"): 1,
    })
    page = render_page(Snapshot(accounts=(), taken_at=0.0), now=0.0, discovery=report)
    for text in (table(report), report_yaml(report), page, repr(report)):
        assert "SECRET" not in text
    assert home.snapshot() == before


def test_the_written_config_serves_each_key_from_its_file(home: Home, tmp_path: Path) -> None:
    zai_home(home)
    report = scan(home)
    path = tmp_path / "written.yml"
    path.write_text(config_text(report, {}, date="today", path=str(path)))
    config = load_config(path, env={})
    clients = HttpClients.create(1)
    try:
        tokens = {}
        for account in config.accounts:
            assert account.provider == "zai" and account.credentials.kind == "file"
            provider = make_provider(account, clients)
            assert isinstance(provider, ZaiProvider)
            tokens[Path(str(account.credentials.path)).name] = provider._tokens.token(0.0)
    finally:
        clients.close()
    assert tokens == {"settings.json": "zai-SECRET-claude", "auth.json": "zai-SECRET-opencode",
                      "zai-someone.json": "zai-SECRET-proxy.sk"}


def test_settings_pointed_elsewhere_are_not_a_zai_account(home: Home) -> None:
    home.put(".claude/settings.json", {"env": {
        "ANTHROPIC_BASE_URL": "https://api.kimi.com/coding/", "ANTHROPIC_AUTH_TOKEN": "x"}})
    report = scan(home)
    assert report.served == ()
    looked = {s.shown: s.reason for s in report.skipped}
    assert "ANTHROPIC_BASE_URL elsewhere" in looked["~/.claude/settings.json"]


def test_claude_config_dir_and_xdg_data_home_move_the_files(home: Home) -> None:
    home.put("elsewhere/claude/settings.json", CLAUDE)
    home.put("elsewhere/data/opencode/auth.json", OPENCODE)
    report = scan(home, CLAUDE_CONFIG_DIR=str(home.root / "elsewhere/claude"),
                  XDG_DATA_HOME=str(home.root / "elsewhere/data"))
    assert sorted(a.shown for a in report.served) == [
        "~/elsewhere/claude/settings.json", "~/elsewhere/data/opencode/auth.json"]


def test_region_comes_from_the_file(tmp_path: Path) -> None:
    cn = tmp_path / "settings.json"
    cn.write_text('{"env": {"ANTHROPIC_BASE_URL": "https://open.bigmodel.cn/api/anthropic",'
                  ' "ANTHROPIC_API_KEY": "k-cn"}}')
    assert ZaiKeyFile(cn).origin() == CHINA
    intl = tmp_path / "intl" / "settings.json"
    intl.parent.mkdir()
    intl.write_text('{"env": {"ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic",'
                    ' "ANTHROPIC_AUTH_TOKEN": "k"}}')
    assert ZaiKeyFile(intl).origin() == "https://api.z.ai"
    both = tmp_path / "auth.json"
    both.write_text('{"zai-coding-plan": {"type": "api", "key": "k1"},'
                    ' "zhipuai-coding-plan": {"type": "api", "key": "k2"}}')
    assert ZaiKeyFile(both, "zhipuai-coding-plan").origin() == CHINA
    assert ZaiKeyFile(both, "zai-coding-plan").origin() is None
    with pytest.raises(FetchError) as err:
        parse_key_file(both.read_text(), both)
    assert err.value.reason is Reason.AUTH and "set credentials.user" in err.value.message
    assert "k1" not in err.value.message and "k2" not in err.value.message


def test_a_file_without_a_zai_key_says_where_one_goes(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text('{"openai": {"type": "api", "key": "sk-SECRET"}}')
    with pytest.raises(FetchError) as err:
        parse_key_file(path.read_text(), path)
    assert "zai-coding-plan" in err.value.message and "SECRET" not in err.value.message
    found = parse_key_file('{"type": "zai", "access_token": "a.b"}', tmp_path / "zai-x.json")
    assert isinstance(found.creds, CredentialFile) and found.origin is None
