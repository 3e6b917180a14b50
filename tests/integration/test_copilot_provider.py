"""The Copilot provider against a scripted loopback server: the requests it makes
(paths, headers), its token sources, and how each upstream answer becomes data or an
account error. End to end against the simulator: test_exporter_copilot_gemini_cli.py."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from exporter.auth.cli_owned import CliOwnedFile
from exporter.auth.credfile import CredentialFile
from exporter.config import AccountConfig, Credentials, Secret
from exporter.providers import load_config, make_provider
from exporter.providers.copilot.client import CopilotProvider
from exporter.providers.copilot.credentials import copilot_token_source, parse_copilot
from exporter.snapshot import FetchError, Reason
from exporter.upstream.transport import HttpClients
from tests.procs import fetch_once
from tests.scripted_http import ScriptedServer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"
USER = "/gh/copilot_internal/user"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def deadline(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def write_apps(path: Path, *logins: tuple[str, str]) -> Path:
    path.write_text(json.dumps({
        f"github.com:Iv1.app{i}": {"user": user, "oauth_token": token, "githubAppId": f"Iv1.app{i}"}
        for i, (user, token) in enumerate(logins)}), encoding="utf-8")
    return path


def copilot(base: str, clients: HttpClients, creds: Credentials | None = None,
            **kw: Any) -> CopilotProvider:
    account = AccountConfig(
        name="gh", provider="copilot",
        credentials=creds or Credentials(kind="access_token", secret=Secret("gho_static")),
        endpoints=(f"{base}/gh",), **kw)
    provider = make_provider(account, clients)
    assert isinstance(provider, CopilotProvider)
    return provider


# -- Copilot ---------------------------------------------------------------------------


def test_copilot_sends_the_editor_headers_and_the_token_scheme(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, json_body=fixture("copilot.user.json"))
    data = fetch_once(copilot(base, clients), deadline())
    call = server.calls[0]
    assert call.path == USER and call.body == b""
    assert call.headers["Authorization"] == "token gho_static"
    assert call.headers["Editor-Version"] == "vscode/1.107.0"
    assert call.headers["Editor-Plugin-Version"] == "copilot-chat/0.35.0"
    assert call.headers["User-Agent"] == "GitHubCopilotChat/0.35.0"
    assert call.headers["X-Github-Api-Version"] == "2025-04-01"
    assert (data.info.tier, data.info.tier_name) == ("individual_pro", "Copilot Pro")
    premium = data.pool_windows("premium-interactions")[0]
    assert (premium.remaining_requests, premium.limit_requests) == (42.0, 300.0)
    assert [r.source for r in data.sources] == ["usage"] and data.sources[0].up
    assert data.models == () and data.info.email is None


def test_copilot_header_versions_come_from_the_config(
        script: tuple[ScriptedServer, str], clients: HttpClients, tmp_path: Path) -> None:
    server, base = script
    server.add(USER, json_body=fixture("copilot.user.json"))
    config = tmp_path / "c.yml"
    config.write_text(
        "accounts:\n  - name: gh\n    provider: copilot\n"
        "    credentials: {access_token: gho_x}\n"
        f"    endpoints: ['{base}/gh']\n"
        "    user_agent: GitHubCopilotChat/0.99.0\n"
        "    headers: {editor-version: vscode/1.200.0,\n"
        "              Editor-Plugin-Version: copilot-chat/0.99.0}\n",
        encoding="utf-8")
    account = load_config(config, env={}).accounts[0]
    fetch_once(make_provider(account, clients), deadline())
    headers = {k.lower(): v for k, v in server.calls[0].headers.items()}
    assert headers["editor-version"] == "vscode/1.200.0"
    assert headers["editor-plugin-version"] == "copilot-chat/0.99.0"
    assert headers["user-agent"] == "GitHubCopilotChat/0.99.0"
    assert headers["x-github-api-version"] == "2025-04-01"
    assert list(server.calls[0].headers).count("Editor-Version") == 0  # replaced, not doubled


@pytest.mark.parametrize(("status", "body", "says"), [
    (200, fixture("peers/copilot.no-access.json"), "(access_type_sku no_access)"),
])
def test_copilot_an_account_without_copilot_is_forbidden_and_says_so(
        script: tuple[ScriptedServer, str], clients: HttpClients, status: int,
        body: Any, says: str) -> None:
    server, base = script
    server.add(USER, status=status, json_body=body)
    with pytest.raises(FetchError) as err:
        fetch_once(copilot(base, clients), deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert says in err.value.message and "no Copilot access" in err.value.message


def test_copilot_404_says_the_tokens_app_cannot_read_copilot_internal_and_what_works(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, status=404, json_body=fixture("peers/copilot.not-found.json"))
    with pytest.raises(FetchError) as err:
        fetch_once(copilot(base, clients), deadline())
    assert err.value.reason is Reason.FORBIDDEN
    message = err.value.message
    assert "404" in message and "OAuth app" in message and "copilot_internal" in message
    assert "VS Code or JetBrains Copilot plugin" in message
    assert "~/.config/github-copilot/apps.json" in message
    assert "gho_static" not in message  # never the token


def test_copilot_subscription_ended_is_an_account_error_that_says_so(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, json_body=fixture("peers/copilot.subscription-ended.json"))
    with pytest.raises(FetchError) as err:
        fetch_once(copilot(base, clients), deadline())
    # The token works; the account is refused Copilot: forbidden, not auth.
    assert err.value.reason is Reason.FORBIDDEN
    assert "subscription of this GitHub account has ended" in err.value.message
    assert "renew it" in err.value.message and "gho_static" not in err.value.message


def test_copilot_overage_reaches_the_snapshot_as_a_pool_at_zero_flagged_overage(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, json_body=fixture("peers/copilot.overage.json"))
    data = fetch_once(copilot(base, clients), deadline())
    premium = next(p for p in data.pools if p.pool == "premium-interactions")
    assert (premium.remaining_fraction, premium.remaining_requests, premium.overage) == (
        0.0, 0.0, True)
    assert data.info.tier_name == "Copilot Pro+"


def test_copilot_403_quotes_github_and_names_the_usual_causes(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, status=403, json_body={"message": "Resource not accessible by integration"})
    with pytest.raises(FetchError) as err:
        fetch_once(copilot(base, clients), deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert "Resource not accessible by integration" in err.value.message
    assert "lack Copilot access" in err.value.message


def test_copilot_403_rate_limit_is_rate_limited(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, status=403, json_body={"message": "API rate limit exceeded for user."})
    with pytest.raises(FetchError) as err:
        fetch_once(copilot(base, clients), deadline())
    assert err.value.reason is Reason.RATE_LIMITED


def test_copilot_wrong_shape_is_a_parse_error_naming_the_call(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, json_body={"copilot_plan": ["pro"]})
    with pytest.raises(FetchError) as err:
        fetch_once(copilot(base, clients), deadline())
    assert err.value.reason is Reason.PARSE
    assert err.value.message.startswith("copilot_internal/user: unexpected reply: copilot_plan")


def test_copilot_401_is_never_refreshed_and_says_to_sign_in_again(
        script: tuple[ScriptedServer, str], clients: HttpClients, tmp_path: Path) -> None:
    server, base = script
    server.add(USER, status=401, json_body={"message": "Bad credentials"})
    apps = write_apps(tmp_path / "apps.json", ("octo", "gho_old"))
    provider = copilot(base, clients, Credentials(kind="file", path=apps))
    with pytest.raises(FetchError) as err:
        fetch_once(provider, deadline())
    assert err.value.reason is Reason.AUTH
    assert "rejected the access token" in err.value.message and "(401" in err.value.message
    assert "sign in to GitHub Copilot again in your editor" in err.value.message
    assert "gho_old" not in err.value.message
    assert len(server.calls) == 1  # no second try with the same token
    # The editor signs in again and rewrites the file: the next fetch uses it.
    write_apps(apps, ("octo", "gho_new"))
    server.replace(USER, json_body=fixture("copilot.user.json"))
    assert fetch_once(provider, deadline()).info.tier == "individual_pro"
    assert server.calls[-1].headers["Authorization"] == "token gho_new"


def test_copilot_401_with_a_configured_token_says_to_supply_a_new_one(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, status=401, json_body={"message": "Bad credentials"})
    with pytest.raises(FetchError) as err:
        fetch_once(copilot(base, clients), deadline())
    assert err.value.reason is Reason.AUTH and "revoked" in err.value.message
    assert "refresh_token" not in err.value.message  # Copilot takes none


def test_copilot_user_picks_one_login_of_several(tmp_path: Path) -> None:
    apps = write_apps(tmp_path / "apps.json", ("work-octo", "gho_w"), ("home-octo", "gho_h"))
    picked = copilot_token_source(Credentials(kind="file", path=apps, user="home-octo"))
    assert picked.token(deadline()) == "gho_h" and not picked.can_refresh
    with pytest.raises(FetchError, match=r"holds 2 GitHub sign-ins; set credentials\.user"):
        copilot_token_source(Credentials(kind="file", path=apps)).token(deadline())


def test_file_token_rereads_a_renewed_file_and_refuses_an_expired_token(tmp_path: Path) -> None:
    path = write_apps(tmp_path / "apps.json", ("octo", "gho_1"))
    now = [1000.0]

    def parse(text: str, p: Path) -> CredentialFile:
        creds = parse_copilot(text, p)
        return replace(creds, expires_at=2000.0 if creds.access_token == "gho_1" else 3000.0)

    source = CliOwnedFile(path, parse, "run the tool", clock=lambda: now[0])
    assert source.token(deadline()) == "gho_1"
    now[0] = 2000.0
    with pytest.raises(FetchError, match=r"expired at .*run the tool"):
        source.token(deadline())
    write_apps(path, ("octo", "gho_2"))
    assert source.refresh(deadline(), rejected="gho_1") == "gho_2"
    with pytest.raises(FetchError, match="rejected"):
        source.refresh(deadline(), rejected="gho_2")
