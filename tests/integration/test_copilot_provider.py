"""The Copilot and Gemini CLI providers against a scripted loopback server: the
requests they make (paths, headers, bodies), caching, and how each upstream answer
becomes data or an account error. End to end against the simulator:
test_exporter_copilot_gemini_cli.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from exporter.auth.cli_owned import CliOwnedFile
from exporter.auth.credfile import CredentialFile
from exporter.config import AccountConfig, ConfigError, Credentials, Secret, load_config
from exporter.providers import make_provider
from exporter.providers.copilot.client import CopilotProvider
from exporter.providers.copilot.credentials import copilot_token_source, parse_copilot
from exporter.providers.gemini_cli.client import GeminiCliProvider
from exporter.snapshot import FetchError, Reason
from exporter.upstream.transport import HttpClients
from tests.integration.test_upstream_client import FakeTokens
from tests.scripted_http import ScriptedServer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"
USER = "/gh/copilot_internal/user"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def deadline(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


@pytest.fixture
def script() -> Iterator[tuple[ScriptedServer, str]]:
    server = ScriptedServer()
    httpd, base = server.start()
    yield server, base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def clients() -> Iterator[HttpClients]:
    c = HttpClients.create(2)
    yield c
    c.close()


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
    data = copilot(base, clients).fetch(deadline())
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
    make_provider(account, clients).fetch(deadline())
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
        copilot(base, clients).fetch(deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert says in err.value.message and "no Copilot access" in err.value.message


def test_copilot_404_says_the_tokens_app_cannot_read_copilot_internal_and_what_works(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, status=404, json_body=fixture("peers/copilot.not-found.json"))
    with pytest.raises(FetchError) as err:
        copilot(base, clients).fetch(deadline())
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
        copilot(base, clients).fetch(deadline())
    # The token works; the account is refused Copilot: forbidden, not auth.
    assert err.value.reason is Reason.FORBIDDEN
    assert "subscription of this GitHub account has ended" in err.value.message
    assert "renew it" in err.value.message and "gho_static" not in err.value.message


def test_copilot_overage_reaches_the_snapshot_as_a_pool_at_zero_flagged_overage(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, json_body=fixture("peers/copilot.overage.json"))
    data = copilot(base, clients).fetch(deadline())
    premium = next(p for p in data.pools if p.pool == "premium-interactions")
    assert (premium.remaining_fraction, premium.remaining_requests, premium.overage) == (
        0.0, 0.0, True)
    assert data.info.tier_name == "Copilot Pro+"


def test_copilot_403_quotes_github_and_names_the_usual_causes(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, status=403, json_body={"message": "Resource not accessible by integration"})
    with pytest.raises(FetchError) as err:
        copilot(base, clients).fetch(deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert "Resource not accessible by integration" in err.value.message
    assert "lack Copilot access" in err.value.message


def test_copilot_403_rate_limit_is_rate_limited(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, status=403, json_body={"message": "API rate limit exceeded for user."})
    with pytest.raises(FetchError) as err:
        copilot(base, clients).fetch(deadline())
    assert err.value.reason is Reason.RATE_LIMITED


def test_copilot_wrong_shape_is_a_parse_error_naming_the_call(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, json_body={"copilot_plan": ["pro"]})
    with pytest.raises(FetchError) as err:
        copilot(base, clients).fetch(deadline())
    assert err.value.reason is Reason.PARSE
    assert err.value.message.startswith("copilot_internal/user: unexpected reply: copilot_plan")


def test_copilot_401_is_never_refreshed_and_says_to_sign_in_again(
        script: tuple[ScriptedServer, str], clients: HttpClients, tmp_path: Path) -> None:
    server, base = script
    server.add(USER, status=401, json_body={"message": "Bad credentials"})
    apps = write_apps(tmp_path / "apps.json", ("octo", "gho_old"))
    provider = copilot(base, clients, Credentials(kind="file", path=apps))
    with pytest.raises(FetchError) as err:
        provider.fetch(deadline())
    assert err.value.reason is Reason.AUTH
    assert "rejected the access token" in err.value.message and "(401" in err.value.message
    assert "sign in to GitHub Copilot again in your editor" in err.value.message
    assert "gho_old" not in err.value.message
    assert len(server.calls) == 1  # no second try with the same token
    # The editor signs in again and rewrites the file: the next fetch uses it.
    write_apps(apps, ("octo", "gho_new"))
    server.replace(USER, json_body=fixture("copilot.user.json"))
    assert provider.fetch(deadline()).info.tier == "individual_pro"
    assert server.calls[-1].headers["Authorization"] == "token gho_new"


def test_copilot_401_with_a_configured_token_says_to_supply_a_new_one(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(USER, status=401, json_body={"message": "Bad credentials"})
    with pytest.raises(FetchError) as err:
        copilot(base, clients).fetch(deadline())
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


# -- Gemini CLI ------------------------------------------------------------------------


def gemini(base: str, clients: HttpClients, **kw: Any) -> GeminiCliProvider:
    account = AccountConfig(
        name="gcli", provider="gemini-cli",
        credentials=Credentials(kind="access_token", secret=Secret("ya29.x")),
        endpoints=(f"{base}/g",), **kw)
    return GeminiCliProvider(account, clients, FakeTokens())


def add(server: ScriptedServer, method: str, **kw: Any) -> None:
    server.add(f"/g/v1internal:{method}", **kw)


def methods(server: ScriptedServer) -> list[str]:
    return [c.path.rsplit(":", 1)[-1] for c in server.calls]


def test_gemini_cli_asks_like_gemini_cli_and_caches_load_code_assist(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.free.json"))
    add(server, "retrieveUserQuota", json_body=fixture("geminicli.retrieveUserQuota.json"))
    provider = gemini(base, clients)
    data = provider.fetch(deadline())
    provider.fetch(deadline())
    assert methods(server) == ["loadCodeAssist", "retrieveUserQuota", "retrieveUserQuota"]
    load, quota = server.calls[0], server.calls[1]
    assert load.json() == {"metadata": {"ideType": "GEMINI_CLI",
                                        "platform": "PLATFORM_UNSPECIFIED",
                                        "pluginType": "GEMINI"}}
    assert quota.json() == {"project": "quiet-meadow-7b1qz"}
    assert quota.headers["User-Agent"] == "GeminiCLI/0.60.0 (linux; x64)"
    assert quota.headers["Authorization"] == "Bearer tok-0"
    assert (data.info.tier, data.info.project) == ("free-tier", "quiet-meadow-7b1qz")
    assert [m.model for m in data.models] == ["gemini-2.5-flash", "gemini-2.5-flash-lite",
                                              "gemini-2.5-pro"]
    assert data.pools == () and data.pools_available is None
    assert [(r.source, r.up) for r in data.sources] == [("quota", True)]


def test_gemini_cli_configured_project_goes_along_as_gemini_cli_sends_it(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body={"currentTier": {"id": "standard-tier",
                                                             "name": "Gemini Code Assist"}})
    add(server, "retrieveUserQuota", json_body={"buckets": []})
    data = gemini(base, clients, project="my-gcp-proj").fetch(deadline())
    load, quota = server.calls
    assert load.json()["cloudaicompanionProject"] == "my-gcp-proj"
    assert load.json()["metadata"]["duetProject"] == "my-gcp-proj"
    assert quota.json() == {"project": "my-gcp-proj"}
    assert (data.info.tier, data.models) == ("standard-tier", ())


def test_gemini_cli_without_a_project_says_how_to_get_one(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body={"currentTier": {"id": "standard-tier"}})
    with pytest.raises(FetchError) as err:
        gemini(base, clients).fetch(deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert "run `gemini` once" in err.value.message and "set `project:`" in err.value.message
    assert methods(server) == ["loadCodeAssist"]  # no onboardUser, no quota call


def test_gemini_cli_not_onboarded_quotes_upstream(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.not-onboarded.json"))
    with pytest.raises(FetchError) as err:
        gemini(base, clients).fetch(deadline())
    assert "VALIDATION_REQUIRED: Verify your account to continue." in err.value.message


def test_gemini_cli_behind_vpc_service_controls_is_standard_tier_on_its_project(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", status=403, json_body={"error": {
        "code": 403, "message": "Request is prohibited by organization's policy.",
        "status": "PERMISSION_DENIED",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "SECURITY_POLICY_VIOLATED"}]}})
    add(server, "retrieveUserQuota", json_body={"buckets": [
        {"modelId": "gemini-2.5-pro", "remainingFraction": 0.5}]})
    data = gemini(base, clients, project="corp-proj").fetch(deadline())
    assert (data.info.tier, data.info.project) == ("standard-tier", "corp-proj")
    assert [m.remaining_fraction for m in data.models] == [0.5]


def test_gemini_cli_quota_failure_is_the_source_down_with_its_reason(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    add(server, "retrieveUserQuota", status=429, json_body=fixture("error.429.json"))
    data = gemini(base, clients).fetch(deadline())
    (result,) = data.sources
    assert result.source == "quota" and result.error is not None
    assert result.error.reason is Reason.RATE_LIMITED and data.models == ()
    assert data.info.tier == "g1-pro-tier"


def test_gemini_cli_parse_error_names_the_call(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    add(server, "retrieveUserQuota", json_body={"buckets": "none"})
    (result,) = gemini(base, clients).fetch(deadline()).sources
    assert result.error is not None and result.error.reason is Reason.PARSE
    assert result.error.message.startswith("retrieveUserQuota: unexpected reply: buckets")


def test_gemini_cli_skipped_buckets_are_counted_on_the_source(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    add(server, "retrieveUserQuota", json_body=fixture("peers/geminicli.mixed-buckets.json"))
    data = gemini(base, clients).fetch(deadline())
    assert data.sources[0].skipped == 1 and len(data.models) == 4


def test_gemini_cli_individual_account_refused_in_load_code_assist_says_move_to_antigravity(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist",
        json_body=fixture("peers/loadCodeAssist.individuals-refused.json"))
    with pytest.raises(FetchError) as err:
        gemini(base, clients).fetch(deadline())
    assert err.value.reason is Reason.FORBIDDEN
    message = err.value.message
    assert "Google no longer serves this account in Gemini CLI" in message
    assert "`provider: antigravity`" in message
    assert "UNSUPPORTED_CLIENT: This client is no longer supported" in message  # quoted
    assert "user_agent" not in message  # not Antigravity's advice for the same code
    assert methods(server) == ["loadCodeAssist"]


def test_gemini_cli_individual_account_refused_after_the_token_says_move_to_antigravity(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    add(server, "retrieveUserQuota", status=403,
        json_body=fixture("peers/geminicli.unsupported-client-403.json"))
    (result,) = gemini(base, clients).fetch(deadline()).sources
    assert result.error is not None and result.error.reason is Reason.FORBIDDEN
    assert "Google no longer serves this account in Gemini CLI" in result.error.message
    assert "`provider: antigravity`" in result.error.message
    assert "Google says: This client is no longer supported" in result.error.message


@pytest.mark.parametrize("error", [
    # The reason alone, or the words alone, are enough.
    {"code": 403, "status": "PERMISSION_DENIED", "message": "denied", "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IneligibleTierError"}]},
    {"code": 403, "status": "PERMISSION_DENIED", "message": "This client is no longer "
     "supported for Gemini Code Assist for individuals."},
])
def test_gemini_cli_refusal_of_individuals_is_known_by_reason_or_words(
        script: tuple[ScriptedServer, str], clients: HttpClients, error: Any) -> None:
    server, base = script
    add(server, "loadCodeAssist", status=403, json_body={"error": error})
    with pytest.raises(FetchError) as err:
        gemini(base, clients).fetch(deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert "move it to the antigravity provider" in err.value.message


def test_gemini_cli_other_403s_are_not_called_a_refusal_of_individuals(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    add(server, "retrieveUserQuota", status=403, json_body={"error": {
        "code": 403, "message": "The caller does not have permission",
        "status": "PERMISSION_DENIED"}})
    (result,) = gemini(base, clients).fetch(deadline()).sources
    assert result.error is not None and result.error.reason is Reason.FORBIDDEN
    assert "antigravity" not in result.error.message
    assert "The caller does not have permission" in result.error.message


# -- config ----------------------------------------------------------------------------


def test_config_knows_each_providers_sources_credentials_and_defaults(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(
        "accounts:\n"
        "  - {name: a, provider: copilot, credentials: {refresh_token: r},\n"
        "     oauth_client: {client_id: x}}\n"
        "  - {name: b, provider: gemini-cli, credentials: {access_token: t}, sources: [usage]}\n"
        "  - {name: c, provider: copilot, credentials: {access_token: t}, sources: [quota]}\n",
        encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(config, env={})
    lines = err.value.lines()
    assert ("accounts[0].credentials.refresh_token: provider copilot does not accept "
            "refresh_token; use one of file, access_token, access_token_file") in lines
    assert any(line.startswith('accounts[1].sources[0]: unknown source "usage" for provider '
                               "gemini-cli; expected one of quota") for line in lines), lines
    assert any('unknown source "quota" for provider copilot' in line for line in lines)
    config.write_text(
        "accounts:\n"
        "  - {name: a, provider: copilot, credentials: {access_token: t}}\n"
        "  - {name: b, provider: gemini-cli, credentials: {access_token: t}}\n",
        encoding="utf-8")
    a, b = load_config(config, env={}).accounts
    assert (a.endpoints, a.sources, a.user_agent, a.token_url) == (
        ("https://api.github.com",), frozenset({"usage"}), "GitHubCopilotChat/0.35.0", "")
    assert (b.endpoints, b.sources, b.token_url) == (
        ("https://cloudcode-pa.googleapis.com",), frozenset({"quota"}),
        "https://oauth2.googleapis.com/token")
