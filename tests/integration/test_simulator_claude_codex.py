"""The simulated Claude Code and Codex upstreams, over real HTTP on loopback: reply
shapes like the example bodies, credential files in the CLIs' own formats that the
exporter's parsers read, expiring and renewing those files, errors in each
upstream's style, call counting and the request log."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from exporter.providers.claude.credentials import parse_claude
from exporter.providers.codex.credentials import parse_codex
from exporter.providers.codex.simulated import account_id, weekly_first
from exporter.simulator import SimAccount, Simulator, demo_accounts
from exporter.timefmt import parse_rfc3339

START = 1_795_891_200.0  # 2026-11-28T16:00:00Z
FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


ACCOUNTS = [
    SimAccount("c-max", provider="claude", tier="max", drain_per_hour=0.0,
               pool_fractions={"opus/weekly": 0.0, "all/5h": 0.625}),
    SimAccount("c-pro", provider="claude", tier="pro", credential_style="cliproxyapi"),
    SimAccount("c-token", provider="claude", credential_style="access_token_file"),
    SimAccount("c-ent", provider="claude", tier="enterprise", drain_per_hour=0.0,
               pool_fractions={"extra-usage/monthly": 0.75}),
    SimAccount("x-plus", provider="codex", tier="plus", drain_per_hour=0.0,
               pool_fractions={"codex/5h": None}),
    SimAccount("x-pro", provider="codex", tier="pro", credential_style="cliproxyapi"),
    SimAccount("x-token", provider="codex", tier="pro", credential_style="access_token"),
    SimAccount("ag", credential_style="access_token"),
]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[Simulator]:
    with Simulator(ACCOUNTS, clock=clock) as s:
        yield s


@pytest.fixture
def entries(sim: Simulator, tmp_path: Path) -> dict[str, dict[str, Any]]:
    config = sim.exporter_config(tmp_path)
    return {e["name"]: e for e in config["accounts"]}  # type: ignore[attr-defined]


def token_of(entry: dict[str, Any]) -> str:
    creds = entry["credentials"]
    if "access_token" in creds:
        return str(creds["access_token"])
    if "access_token_file" in creds:
        return Path(creds["access_token_file"]).read_text().strip()
    doc = json.loads(Path(creds["file"]).read_text())
    if "claudeAiOauth" in doc:
        return str(doc["claudeAiOauth"]["accessToken"])
    return str((doc.get("tokens") or doc)["access_token"])


def get(entry: dict[str, Any], path: str, token: str | None = None) -> requests.Response:
    token = token_of(entry) if token is None else token
    return requests.get(entry["endpoints"][0] + path, timeout=5,
                        headers={"Authorization": f"Bearer {token}"})


def usage(entry: dict[str, Any], token: str | None = None) -> requests.Response:
    path = "/api/oauth/usage" if entry["provider"] == "claude" else "/wham/usage"
    return get(entry, path, token)


# -- reply shapes --------------------------------------------------------------------------


def test_claude_reply_has_the_example_shape_and_both_forms_of_each_limit(
        sim: Simulator, entries: dict[str, dict[str, Any]]) -> None:
    reply = usage(entries["c-max"])
    assert reply.status_code == 200
    doc = reply.json()
    example = json.loads((FIXTURES / "claude.usage.json").read_text())
    assert set(example) <= set(doc)
    assert doc["five_hour"]["utilization"] == 37.5
    assert doc["seven_day_opus"]["utilization"] == 100.0
    assert doc["five_hour"]["resets_at"].endswith("+00:00")
    assert "." in doc["five_hour"]["resets_at"]  # microseconds, as upstream writes them
    kinds = {(lim["kind"], (lim["scope"] or {}).get("model", {}).get("display_name")):
             lim["percent"] for lim in doc["limits"]}
    assert kinds[("session", None)] == 37.5 and kinds[("weekly_scoped", "Opus")] == 100.0
    assert {"seven_day_oauth_apps", "iguana_necktie", "tangelo"} <= set(doc)
    assert doc["extra_usage"]["is_enabled"] is True
    pro = usage(entries["c-pro"]).json()
    assert pro["seven_day_opus"] is None and pro["extra_usage"]["is_enabled"] is False


def test_claude_enterprise_seat_answers_its_spend_limit_alone(
        sim: Simulator, clock: FakeClock, entries: dict[str, dict[str, Any]]) -> None:
    doc = usage(entries["c-ent"]).json()
    # $125.00 of its $500.00 a month spent, in cents; no window key at all.
    assert doc == {"extra_usage": {"is_enabled": True, "monthly_limit": 50000,
                                   "used_credits": 12500.0, "utilization": 25.0,
                                   "currency": "USD"}}
    creds = json.loads(Path(entries["c-ent"]["credentials"]["file"]).read_text())
    assert creds["claudeAiOauth"]["subscriptionType"] == "enterprise"
    sim.set_pool_fraction("c-ent", "extra-usage", "monthly", 0.5)
    assert usage(entries["c-ent"]).json()["extra_usage"]["used_credits"] == 25000.0
    # The first of the next month the cap is whole again.
    reset = sim.state()["accounts"]["c-ent"]["pools"]["extra-usage/monthly"]["reset_time"]
    assert reset.endswith("-01T00:00:00Z")
    clock.now = parse_rfc3339(reset) + 1
    sim.renew_credentials("c-ent")  # a month on, the CLI has renewed its token
    assert usage(entries["c-ent"]).json()["extra_usage"]["used_credits"] == 0.0


def test_claude_reset_times_are_the_pool_reset_times(
        sim: Simulator, entries: dict[str, dict[str, Any]]) -> None:
    doc = usage(entries["c-max"]).json()
    state = sim.state()["accounts"]["c-max"]["pools"]
    assert parse_rfc3339(doc["seven_day"]["resets_at"]) == pytest.approx(
        parse_rfc3339(state["all/weekly"]["reset_time"]), abs=1)
    assert doc["seven_day"]["resets_at"] == doc["seven_day_opus"]["resets_at"]


def test_codex_reply_has_the_example_shape_windows_by_length_in_either_order(
        entries: dict[str, dict[str, Any]]) -> None:
    example = json.loads((FIXTURES / "codex.usage.json").read_text())
    for name in ("x-plus", "x-pro"):
        doc = usage(entries[name]).json()
        assert set(example) <= set(doc), name
        rate = doc["rate_limit"]
        lengths = [rate["primary_window"]["limit_window_seconds"],
                   rate["secondary_window"]["limit_window_seconds"]]
        assert lengths == ([604800, 18000] if weekly_first(name) else [18000, 604800])
    assert weekly_first("x-plus") != weekly_first("x-pro")
    plus = usage(entries["x-plus"]).json()
    five_hour = next(w for w in (plus["rate_limit"]["primary_window"],
                                 plus["rate_limit"]["secondary_window"])
                     if w["limit_window_seconds"] == 18000)
    # A fraction of None: the limit is reached and used_percent is left out.
    assert "used_percent" not in five_hour
    assert plus["rate_limit"]["limit_reached"] is True and plus["rate_limit"]["allowed"] is False
    assert plus["additional_rate_limits"] == []
    assert plus["credits"] == {"has_credits": False, "unlimited": False, "balance": "0",
                               "approx_local_messages": [0, 0],
                               "approx_cloud_messages": [0, 0]}
    assert plus["spend_control"] == {"reached": False, "individual_limit": None}
    assert plus["rate_limit_reset_credits"] == {"available_count": 0,
                                                "applicable_available_count": 0}
    assert plus["account_id"] == account_id(SimAccount("x-plus", provider="codex"))
    pro = usage(entries["x-pro"]).json()
    assert [a["limit_name"] for a in pro["additional_rate_limits"]] == ["GPT-5.3-Codex-Spark"]


# -- credential files ----------------------------------------------------------------------


def test_claude_files_are_the_real_formats_and_parse(
        sim: Simulator, clock: FakeClock, entries: dict[str, dict[str, Any]]) -> None:
    own = Path(entries["c-max"]["credentials"]["file"])
    assert own.name == ".credentials.json" and own.parent.name == "c-max"
    creds = parse_claude(own.read_text(), own)
    assert (creds.tool, creds.plan, creds.plan_name) == ("claude-code", "max", "Claude Max 20x")
    assert creds.expires_at == START + 8 * 3600
    assert creds.refresh_token and creds.access_token and creds.access_token.startswith(
        "sk-ant-oat01-")
    proxy = Path(entries["c-pro"]["credentials"]["file"])
    assert proxy.name == "claude-c-pro@example.invalid.json"
    assert parse_claude(proxy.read_text(), proxy).tool == "cliproxyapi"
    for path in (own, proxy, Path(entries["c-token"]["credentials"]["access_token_file"])):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_codex_files_are_the_real_formats_and_parse(
        sim: Simulator, entries: dict[str, dict[str, Any]]) -> None:
    own = Path(entries["x-plus"]["credentials"]["file"])
    assert own.name == "auth.json" and own.parent.name == "x-plus"
    creds = parse_codex(own.read_text(), own)
    assert (creds.tool, creds.plan, creds.email) == ("codex-cli", "plus",
                                                     "x-plus@example.invalid")
    assert creds.expires_at == START + 8 * 3600  # the JWT's exp
    assert creds.account_id == account_id(sim.account("x-plus"))
    proxy = Path(entries["x-pro"]["credentials"]["file"])
    assert proxy.name == "codex-x-pro@example.invalid-pro.json"
    assert parse_codex(proxy.read_text(), proxy).tool == "cliproxyapi"


def test_an_expired_file_says_so_and_upstream_refuses_its_token_until_renewed(
        sim: Simulator, clock: FakeClock, entries: dict[str, dict[str, Any]]) -> None:
    for name, parse in (("c-max", parse_claude), ("x-plus", parse_codex)):
        entry = entries[name]
        path = Path(entry["credentials"]["file"])
        old_token = token_of(entry)
        sim.expire_credentials(name)
        expired_inode = path.stat().st_ino
        expired = parse(path.read_text(), path)
        assert expired.expires_at is not None and expired.expires_at < clock.now, name
        assert usage(entry).status_code == 401 and usage(entry, old_token).status_code == 401
        sim.renew_credentials(name)
        renewed = parse(path.read_text(), path)
        assert renewed.expires_at == clock.now + 8 * 3600
        assert renewed.access_token not in (old_token, expired.access_token)
        assert renewed.refresh_token == expired.refresh_token
        assert path.stat().st_ino != expired_inode  # replaced whole, as the CLIs do
        assert usage(entry).status_code == 200, name


def test_access_token_styles_never_expire_and_have_no_file_to_renew(
        sim: Simulator, clock: FakeClock, entries: dict[str, dict[str, Any]]) -> None:
    clock.now += 365 * 86400
    assert usage(entries["x-token"]).status_code == 200
    assert usage(entries["c-token"]).status_code == 200
    with pytest.raises(KeyError, match="no credentials file the simulator renews"):
        sim.renew_credentials("c-token")
    reply = requests.post(f"{sim.base_url}/_sim/accounts/c-token/renew-credentials", timeout=5)
    assert reply.status_code == 404 and "renews" in reply.json()["error"]


def test_credential_controls_over_http(sim: Simulator,
                                       entries: dict[str, dict[str, Any]]) -> None:
    entry = entries["c-max"]
    base = f"{sim.base_url}/_sim/accounts/c-max"
    assert requests.post(f"{base}/expire-credentials", timeout=5).json() == {"ok": True}
    assert usage(entry).status_code == 401
    assert requests.post(f"{base}/renew-credentials", timeout=5).json() == {"ok": True}
    assert usage(entry).status_code == 200


# -- errors, routes and counting ----------------------------------------------------------


def test_errors_are_in_each_upstreams_style(sim: Simulator,
                                            entries: dict[str, dict[str, Any]]) -> None:
    sim.set_fault("c-max", "429", times=1, retry_delay=2.5)
    reply = usage(entries["c-max"])
    assert (reply.status_code, reply.headers["Retry-After"]) == (429, "3")
    assert reply.json()["error"]["type"] == "rate_limit_error"
    sim.set_fault("x-plus", "429", times=1, retry_delay=30)
    reply = usage(entries["x-plus"])
    assert (reply.status_code, reply.headers["Retry-After"]) == (429, "30")
    assert "detail" in reply.json()
    sim.set_fault("c-max", "500", times=1)
    assert usage(entries["c-max"]).json()["error"]["type"] == "api_error"
    bad = usage(entries["c-max"], token="sk-ant-oat01-unknown")
    assert bad.status_code == 401 and bad.json()["error"]["type"] == "authentication_error"
    bad = usage(entries["x-plus"], token="not-a-token")
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "token_expired"


def test_wrong_types_keep_the_envelope(sim: Simulator,
                                       entries: dict[str, dict[str, Any]]) -> None:
    sim.set_fault("*", "wrong_types", method="usage")
    assert usage(entries["c-max"]).json()["five_hour"] == "37%"
    assert usage(entries["x-plus"]).json()["rate_limit"] == "ok"


def test_a_token_is_refused_on_another_providers_path(
        sim: Simulator, entries: dict[str, dict[str, Any]]) -> None:
    claude_token = token_of(entries["c-max"])
    assert usage(entries["x-plus"], token=claude_token).status_code == 401
    assert usage(entries["c-max"], token=token_of(entries["x-plus"])).status_code == 401
    assert get(entries["c-max"], "/api/oauth/profile").status_code == 404


def test_calls_are_counted_per_account_and_host_and_requests_are_logged(
        sim: Simulator, entries: dict[str, dict[str, Any]]) -> None:
    usage(entries["c-max"])
    usage(entries["x-plus"])
    usage(entries["x-plus"])
    calls = sim.calls()
    assert calls["c-max"] == {"usage": 1, "token": 0}
    assert calls["x-plus"] == {"usage": 2, "token": 0}
    hosts = sim.calls_by_host()
    assert hosts["claude"] == {"usage": 1, "token": 0}
    assert hosts["codex"] == {"usage": 2, "token": 0}
    assert "usage" not in hosts["daily"]  # a Google host serves no usage calls
    seen = sim.requests_seen()
    assert [(r.verb, r.path) for r in seen] == [
        ("GET", "/claude/api/oauth/usage"), ("GET", "/codex/wham/usage"),
        ("GET", "/codex/wham/usage")]
    assert token_of(entries["c-max"]) in seen[0].text()
    sim.reset_calls()
    assert sim.requests_seen() == [] and sim.calls()["x-plus"]["usage"] == 0


def test_demo_accounts_include_claude_and_codex(tmp_path: Path) -> None:
    accounts = {a.name: a for a in demo_accounts()}
    assert {a.provider for a in accounts.values()} >= {"claude", "codex"}
    with Simulator() as sim:
        assert sim.pool_fraction("demo-claude-max", "opus", "weekly") == 0.0
        assert sim.pool_fraction("demo-claude-max", "all", "5h") > 0.3
        assert sim.pool_fraction("demo-codex-plus", "codex", "5h") <= 0.15
        config = sim.exporter_config(tmp_path)
        names = [e["name"] for e in config["accounts"]]  # type: ignore[attr-defined]
        assert {"demo-claude-max", "demo-claude-pro", "demo-codex-plus",
                "demo-codex-pro"} <= set(names)
        assert os.path.exists(tmp_path / "demo-claude-max" / ".credentials.json")
