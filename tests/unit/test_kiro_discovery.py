"""Discovery of Kiro accounts in a temporary home: CLIProxyAPIPlus's `kiro-*.json`
(by its `type`), the Kiro IDE's `kiro-auth-token.json` and kiro-cli's SQLite
database (read by path, read-only); one account in two tools is served once, an
expired one says who renews it, nothing is written and no secret is shown."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from exporter.discovery import Env, Scanner
from exporter.discovery.render import config_text, report_yaml, table
from exporter.providers import load_config
from exporter.providers.kiro.discovery import kiro_cli_places
from tests.discovery_home import FUTURE, PAST, Home, rfc3339

ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/"


def kiro_home(root: Path) -> Home:
    home = Home(root)
    home.put(".cli-proxy-api/kiro-github-alice_example_com.json", {
        "type": "kiro", "access_token": "aoaSECRET-alice", "refresh_token": "aorSECRET-alice",
        "profile_arn": ARN + "ALICE", "expires_at": rfc3339(FUTURE), "email": "alice@example.com",
        "auth_method": "social", "provider": "Github"})
    # The same account in the IDE (the same profile and email): served once.
    home.put(".aws/sso/cache/kiro-auth-token.json", {
        "accessToken": "aoaSECRET-alice2", "refreshToken": "aorSECRET-alice2",
        "profileArn": ARN + "ALICE", "expiresAt": rfc3339(PAST), "authMethod": "social",
        "provider": "Github", "email": "alice@example.com"})
    db_path = root / ".local/share/kiro-cli/data.sqlite3"
    db_path.parent.mkdir(parents=True)
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE auth_kv (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value BLOB)")
    db.execute("INSERT INTO auth_kv VALUES (?, ?)", ("kirocli:odic:token", json.dumps({
        "access_token": "aoaSECRET-bob", "refresh_token": "aorSECRET-bob",
        "expires_at": rfc3339(FUTURE), "region": "us-east-1"})))
    db.execute("INSERT INTO state VALUES (?, ?)", ("api.codewhisperer.profile",
                                                  json.dumps({"arn": ARN + "BOB"})))
    db.commit()
    db.close()
    home.files.append(db_path)
    return home


def scanner(home: Home, **environ: str) -> Scanner:
    return Scanner(Env(home=home.root, environ=environ, root=home.root.parent / "root"),
                   providers=("kiro",))


def test_discovery_finds_kiro_in_each_tool_and_serves_one_account_once(tmp_path: Path) -> None:
    home = kiro_home(tmp_path / "home")
    before = home.snapshot()
    report = scanner(home).scan()
    served = sorted((a.tool, a.shown) for a in report.served)
    assert served == [("CLIProxyAPI", "~/.cli-proxy-api/kiro-github-<email>.json"),
                      ("kiro-cli", "~/.local/share/kiro-cli/data.sqlite3")]
    alice = next(a for a in report.served if a.tool == "CLIProxyAPI")
    assert alice.also == ("~/.aws/sso/cache/kiro-auth-token.json",)
    assert all(a.provider == "kiro" and a.name.startswith("kiro-") for a in report.served)
    looked = {(lk.tool, lk.shown) for lk in report.looked}
    assert ("Kiro IDE", "~/.aws/sso/cache/kiro-auth-token.json") in looked
    outputs = table(report) + report_yaml(report)
    path = tmp_path / "written.yml"
    text = config_text(report, {}, date="today", path=str(path))
    path.write_text(text)
    config = load_config(path, env={})
    assert sorted(str(a.credentials.path) for a in config.accounts) == sorted(
        str(a.path) for a in report.served)
    for secret in ("SECRET", "alice@", "ALICE", "BOB"):
        assert secret not in outputs and secret not in text
    assert home.snapshot() == before
    assert sorted(p.name for p in home.root.rglob("*") if p.is_file()) == sorted(
        p.name for p in home.files)


def test_an_expired_ide_token_says_kiro_renews_it(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.put(".aws/sso/cache/kiro-auth-token.json", {
        "accessToken": "aoaSECRET", "refreshToken": "aorSECRET", "expiresAt": rfc3339(PAST)})
    (found,) = scanner(home).scan().accounts
    assert found.tool == "Kiro IDE" and found.token.startswith("expired")


def test_kiro_cli_places_follow_its_variables(tmp_path: Path) -> None:
    env = Env(home=Path("/home/u"), environ={"KIRO_DATA_DIR": "/srv/kiro"})
    assert [str(p.path) for p in kiro_cli_places(env)] == ["/srv/kiro/data.sqlite3"]
    env = Env(home=Path("/home/u"), environ={"XDG_DATA_HOME": "/x"})
    assert [str(p.path) for p in kiro_cli_places(env)] == [
        "/x/kiro-cli/data.sqlite3",
        "/home/u/Library/Application Support/kiro-cli/data.sqlite3"]


def test_a_file_that_is_not_a_database_is_skipped_with_a_reason(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    bad = home.root / ".local/share/kiro-cli/data.sqlite3"
    bad.parent.mkdir(parents=True)
    bad.write_text("not a database")
    report = scanner(home).scan()
    assert report.served == ()
    (skipped,) = report.skipped
    assert skipped.tool == "kiro-cli" and "kiro-cli" in skipped.reason
