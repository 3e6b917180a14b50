"""The HTTP client layer: base URL fall-through, 401 refresh, 429 back-off, size cap.

These use `responses`; the end-to-end behaviour is proven against the simulator in
test_integration.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from exporter.config import AccountConfig, Credentials, Secret
from exporter.providers.antigravity import AntigravityProvider
from exporter.snapshot import FetchError, Reason
from exporter.upstream import MAX_BODY_BYTES, HostGate, UpstreamClient

DAILY = "https://daily.test.invalid"
PROD = "https://prod.test.invalid"
FIXTURES = Path(__file__).parent / "fixtures" / "upstream"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class FakeTokens:
    """A token source that hands out numbered tokens and counts refreshes."""

    def __init__(self, refreshable: bool = True) -> None:
        self.current = "tok-0"
        self.refreshes = 0
        self.refreshable = refreshable

    @property
    def can_refresh(self) -> bool:
        return self.refreshable

    def token(self, deadline: float) -> str:
        return self.current

    def refresh(self, deadline: float) -> str:
        if not self.refreshable:
            raise FetchError(Reason.AUTH, "cannot refresh")
        self.refreshes += 1
        self.current = f"tok-{self.refreshes}"
        return self.current

    def hints(self) -> Any:
        from exporter.auth import CredentialHints

        return CredentialHints()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def client(tokens: FakeTokens | None = None, gate: HostGate | None = None) -> UpstreamClient:
    return UpstreamClient(
        requests.Session(), (DAILY, PROD), "test-agent/1", tokens or FakeTokens(), gate
    )


def deadline() -> float:
    return time.monotonic() + 5


def url(base: str, method: str) -> str:
    return f"{base}/v1internal:{method}"


@responses.activate
def test_headers_and_body_are_sent() -> None:
    responses.post(url(DAILY, "fetchAvailableModels"), json={"models": {}})
    assert client().call("fetchAvailableModels", {"project": "p"}, deadline()) == {"models": {}}
    req = responses.calls[0].request
    assert req.headers["Authorization"] == "Bearer tok-0"
    assert req.headers["User-Agent"] == "test-agent/1"
    assert req.headers["Content-Type"] == "application/json"
    assert json.loads(req.body) == {"project": "p"}


@pytest.mark.parametrize("status", [429, 500, 503])
@responses.activate
def test_429_and_5xx_move_on_to_the_next_base_url(status: int) -> None:
    responses.post(url(DAILY, "m"), status=status, json={"error": {"code": status}})
    responses.post(url(PROD, "m"), json={"ok": 1})
    assert client().call("m", {}, deadline()) == {"ok": 1}
    assert [c.request.url for c in responses.calls] == [url(DAILY, "m"), url(PROD, "m")]


@responses.activate
def test_network_error_moves_on_to_the_next_base_url() -> None:
    responses.post(url(DAILY, "m"), body=requests.ConnectionError("Connection refused"))
    responses.post(url(PROD, "m"), json={"ok": 2})
    assert client().call("m", {}, deadline()) == {"ok": 2}


@responses.activate
def test_403_does_not_move_on_and_is_forbidden() -> None:
    responses.post(url(DAILY, "m"), status=403, json=fixture("error.403.json"))
    with pytest.raises(FetchError) as err:
        client().call("m", {}, deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert "valid license" in err.value.message
    assert len(responses.calls) == 1


@responses.activate
def test_all_hosts_429_is_rate_limited_and_closes_hosts_for_retry_delay() -> None:
    monotonic = Clock()
    gate = HostGate(monotonic)
    body = fixture("error.429.json")
    responses.post(url(DAILY, "m"), status=429, json=body)
    responses.post(url(PROD, "m"), status=429, json=body)
    c = client(gate=gate)
    with pytest.raises(FetchError) as err:
        c.call("m", {}, deadline())
    assert err.value.reason is Reason.RATE_LIMITED
    assert "retry in 3.2s" in err.value.message
    assert len(responses.calls) == 2
    # Within retryDelay neither host is called again.
    with pytest.raises(FetchError) as again:
        c.call("m", {}, deadline())
    assert again.value.reason is Reason.RATE_LIMITED
    assert len(responses.calls) == 2
    monotonic.now += 3.3
    responses.replace(responses.POST, url(DAILY, "m"), json={"ok": 3})
    assert c.call("m", {}, deadline()) == {"ok": 3}


@responses.activate
def test_401_refreshes_once_and_retries() -> None:
    tokens = FakeTokens()
    responses.post(url(DAILY, "m"), status=401, json={"error": {"code": 401}})
    responses.post(url(DAILY, "m"), json={"ok": 4})
    assert client(tokens).call("m", {}, deadline()) == {"ok": 4}
    assert tokens.refreshes == 1
    assert [c.request.headers["Authorization"] for c in responses.calls] == [
        "Bearer tok-0", "Bearer tok-1"]


@responses.activate
def test_401_twice_is_auth_error_without_a_loop() -> None:
    tokens = FakeTokens()
    responses.post(url(DAILY, "m"), status=401, json={"error": {"code": 401}})
    with pytest.raises(FetchError) as err:
        client(tokens).call("m", {}, deadline())
    assert err.value.reason is Reason.AUTH
    assert tokens.refreshes == 1
    assert len(responses.calls) == 2


@responses.activate
def test_401_without_refresh_is_auth_error() -> None:
    responses.post(url(DAILY, "m"), status=401, json={"error": {"code": 401}})
    with pytest.raises(FetchError) as err:
        client(FakeTokens(refreshable=False)).call("m", {}, deadline())
    assert err.value.reason is Reason.AUTH
    assert len(responses.calls) == 1


@responses.activate
def test_non_json_200_is_a_parse_error() -> None:
    responses.post(url(DAILY, "m"), body="<html>login</html>", content_type="text/html")
    with pytest.raises(FetchError) as err:
        client().call("m", {}, deadline())
    assert err.value.reason is Reason.PARSE


@responses.activate
def test_oversized_body_is_refused() -> None:
    responses.post(url(DAILY, "m"), body=b"[" + b"1," * (MAX_BODY_BYTES // 2) + b"1]")
    with pytest.raises(FetchError) as err:
        client().call("m", {}, deadline())
    assert err.value.reason is Reason.PARSE
    assert "MiB" in err.value.message


@responses.activate
def test_timeout_is_timeout() -> None:
    responses.post(url(DAILY, "m"), body=requests.ReadTimeout("slow"))
    with pytest.raises(FetchError) as err:
        client().call("m", {}, deadline())
    assert err.value.reason is Reason.TIMEOUT


def test_past_deadline_makes_no_call() -> None:
    with responses.RequestsMock() as rsps, pytest.raises(FetchError) as err:
        client().call("m", {}, time.monotonic() - 1)
    assert err.value.reason is Reason.TIMEOUT
    assert len(rsps.calls) == 0


def account(**kw: Any) -> AccountConfig:
    base: dict[str, Any] = dict(
        name="acc", provider="antigravity",
        credentials=Credentials(kind="access_token", secret=Secret("at")),
        endpoints=(DAILY, PROD),
    )
    base.update(kw)
    return AccountConfig(**base)


@responses.activate
def test_provider_builds_account_data_and_caches_load_code_assist() -> None:
    responses.post(url(DAILY, "loadCodeAssist"), json=fixture("loadCodeAssist.paid.json"))
    responses.post(url(DAILY, "fetchAvailableModels"),
                   json=fixture("fetchAvailableModels.paid.json"))
    responses.post(url(DAILY, "retrieveUserQuotaSummary"),
                   json=fixture("retrieveUserQuotaSummary.json"))
    provider = AntigravityProvider(account(), requests.Session(), FakeTokens())
    data = provider.fetch(deadline())
    assert (data.info.tier, data.info.tier_name) == ("g1-pro-tier", "Google AI Pro")
    assert data.info.project == "bright-harbor-x4k2p"
    assert len(data.models) == 5 and len(data.pools) == 4
    provider.fetch(deadline())
    methods = [c.request.url.rsplit(":", 1)[-1] for c in responses.calls]
    assert methods.count("loadCodeAssist") == 1
    assert methods.count("fetchAvailableModels") == 2
    # The project goes into every quota call's body.
    for c in responses.calls:
        if not c.request.url.endswith("loadCodeAssist"):
            assert json.loads(c.request.body) == {"project": "bright-harbor-x4k2p"}


@responses.activate
def test_provider_no_licence_on_summary_means_no_pools() -> None:
    responses.post(url(DAILY, "loadCodeAssist"), json=fixture("loadCodeAssist.free.json"))
    responses.post(url(DAILY, "fetchAvailableModels"), json={"models": {}})
    responses.post(url(DAILY, "retrieveUserQuotaSummary"), status=403,
                   json=fixture("error.403.json"))
    data = AntigravityProvider(account(), requests.Session(), FakeTokens()).fetch(deadline())
    assert data.pools == () and data.pools_available is False
    assert data.info.tier == "free-tier"


@responses.activate
def test_provider_not_onboarded_is_an_account_error_with_advice() -> None:
    responses.post(url(DAILY, "loadCodeAssist"),
                   json=fixture("loadCodeAssist.not-onboarded.json"))
    with pytest.raises(FetchError) as err:
        AntigravityProvider(account(), requests.Session(), FakeTokens()).fetch(deadline())
    assert "sign in to Antigravity once" in err.value.message
    assert "Verify your account" in err.value.message
    assert all("onboardUser" not in c.request.url for c in responses.calls)


@responses.activate
def test_provider_configured_project_wins_and_sources_are_honoured() -> None:
    responses.post(url(DAILY, "loadCodeAssist"), json=fixture("loadCodeAssist.paid.json"))
    responses.post(url(DAILY, "retrieveUserQuotaSummary"),
                   json=fixture("retrieveUserQuotaSummary.json"))
    acc = account(project="my-own", sources=frozenset({"summary"}))
    data = AntigravityProvider(acc, requests.Session(), FakeTokens()).fetch(deadline())
    assert data.models == () and len(data.pools) == 4
    assert json.loads(responses.calls[1].request.body) == {"project": "my-own"}


@responses.activate
def test_provider_parse_error_is_reason_parse() -> None:
    responses.post(url(DAILY, "loadCodeAssist"), json=fixture("loadCodeAssist.paid.json"))
    responses.post(url(DAILY, "fetchAvailableModels"), json={"models": ["not", "a", "map"]})
    acc = account(sources=frozenset({"models"}))
    with pytest.raises(FetchError) as err:
        AntigravityProvider(acc, requests.Session(), FakeTokens()).fetch(deadline())
    assert err.value.reason is Reason.PARSE
    assert "fetchAvailableModels" in err.value.message
