"""The Gemini CLI provider against a scripted loopback server: the requests it makes
(paths, headers, bodies), caching, and how each upstream answer becomes data or an
account error. End to end against the simulator: test_exporter_copilot_gemini_cli.py."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.config import AccountConfig, Credentials, Secret
from exporter.providers.gemini_cli.client import GeminiCliProvider
from exporter.snapshot import FetchError, Reason
from exporter.upstream.transport import HttpClients
from tests.integration.test_copilot_provider import deadline, fixture
from tests.integration.test_upstream_client import FakeTokens
from tests.procs import fetch_once
from tests.scripted_http import ScriptedServer


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
    data = fetch_once(provider, deadline())
    fetch_once(provider, deadline())
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
    data = fetch_once(gemini(base, clients, project="my-gcp-proj"), deadline())
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
        fetch_once(gemini(base, clients), deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert "run `gemini` once" in err.value.message and "set `project:`" in err.value.message
    assert methods(server) == ["loadCodeAssist"]  # no onboardUser, no quota call


def test_gemini_cli_not_onboarded_quotes_upstream(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.not-onboarded.json"))
    with pytest.raises(FetchError) as err:
        fetch_once(gemini(base, clients), deadline())
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
    data = fetch_once(gemini(base, clients, project="corp-proj"), deadline())
    assert (data.info.tier, data.info.project) == ("standard-tier", "corp-proj")
    assert [m.remaining_fraction for m in data.models] == [0.5]


def test_gemini_cli_quota_failure_is_the_source_down_with_its_reason(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    add(server, "retrieveUserQuota", status=429, json_body=fixture("error.429.json"))
    data = fetch_once(gemini(base, clients), deadline())
    (result,) = data.sources
    assert result.source == "quota" and result.error is not None
    assert result.error.reason is Reason.RATE_LIMITED and data.models == ()
    assert data.info.tier == "g1-pro-tier"


def test_gemini_cli_parse_error_names_the_call(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    add(server, "retrieveUserQuota", json_body={"buckets": "none"})
    (result,) = fetch_once(gemini(base, clients), deadline()).sources
    assert result.error is not None and result.error.reason is Reason.PARSE
    assert result.error.message.startswith("retrieveUserQuota: unexpected reply: buckets")


def test_gemini_cli_skipped_buckets_are_counted_on_the_source(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    add(server, "retrieveUserQuota", json_body=fixture("peers/geminicli.mixed-buckets.json"))
    data = fetch_once(gemini(base, clients), deadline())
    assert data.sources[0].skipped == 1 and len(data.models) == 4


def test_gemini_cli_individual_account_refused_in_load_code_assist_says_move_to_antigravity(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist",
        json_body=fixture("peers/loadCodeAssist.individuals-refused.json"))
    with pytest.raises(FetchError) as err:
        fetch_once(gemini(base, clients), deadline())
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
    (result,) = fetch_once(gemini(base, clients), deadline()).sources
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
        fetch_once(gemini(base, clients), deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert "move it to the antigravity provider" in err.value.message


def test_gemini_cli_other_403s_are_not_called_a_refusal_of_individuals(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    add(server, "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    add(server, "retrieveUserQuota", status=403, json_body={"error": {
        "code": 403, "message": "The caller does not have permission",
        "status": "PERMISSION_DENIED"}})
    (result,) = fetch_once(gemini(base, clients), deadline()).sources
    assert result.error is not None and result.error.reason is Reason.FORBIDDEN
    assert "antigravity" not in result.error.message
    assert "The caller does not have permission" in result.error.message
