"""The HTTP client layer: base URL fall-through, 401 refresh, 429 back-off, size cap.

A scripted loopback server stands in for the two upstream hosts (path prefixes
/daily and /prod); the end-to-end behaviour is proven against the simulator in
tests/integration/test_exporter_process.py and test_fault_matrix.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.in_series import call_in_series
from exporter.auth import CredentialHints
from exporter.config import AccountConfig, Credentials, Secret
from exporter.providers.antigravity.client import AntigravityProvider
from exporter.providers.google.errors import parse_error
from exporter.snapshot import FetchError, Reason
from exporter.upstream.client import (
    DEFAULT_429_BACKOFF,
    Call,
    UpstreamClient,
    UpstreamError,
    plain_error,
)
from exporter.upstream.loop import FetchLoop
from exporter.upstream.transport import (
    MAX_BODY_BYTES,
    HostGate,
    HttpClients,
    host_of,
)
from tests.procs import fetch_once
from tests.scripted_http import ScriptedServer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"


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

    def refresh(self, deadline: float, rejected: str) -> str:
        if rejected != self.current:
            return self.current
        if not self.refreshable:
            raise FetchError(Reason.AUTH, "cannot refresh")
        self.refreshes += 1
        self.current = f"tok-{self.refreshes}"
        return self.current

    def hints(self) -> CredentialHints:
        return CredentialHints()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sync:
    """An UpstreamClient's coroutines run on the fetch loop and waited for here."""

    def __init__(self, client: UpstreamClient, loop: FetchLoop) -> None:
        self.client = client
        self.gate = client.gate
        self.loop = loop

    def call(self, *args: Any, **kw: Any) -> Any:
        return self.loop.run(self.client.call(*args, **kw))

    def call_many(self, calls: list[Call], deadline: float) -> list[Any]:
        return self.loop.run(self.client.call_many(calls, deadline))


class GoogleCalls(Sync):
    """`POST /v1internal:<method>` through the neutral client, as the Google providers call."""

    def call(self, method: str, body: dict[str, Any], deadline: float) -> Any:  # type: ignore[override]
        return super().call(method, f"/v1internal:{method}", deadline, body=body)


class Upstream:
    """Two fake hosts on one loopback server, and a client wired to them."""

    def __init__(self) -> None:
        self.script = ScriptedServer()
        self.server, base = self.script.start()
        self.daily, self.prod = f"{base}/daily", f"{base}/prod"
        self.clients = HttpClients.create(4)
        self.transport = self.clients.transport
        self.loop = self.clients.loop

    def add(self, host: str, method: str, **kw: Any) -> None:
        self.script.add(f"/{host}/v1internal:{method}", **kw)

    def replace(self, host: str, method: str, **kw: Any) -> None:
        self.script.replace(f"/{host}/v1internal:{method}", **kw)

    @property
    def calls(self) -> list[Any]:
        return self.script.calls

    def paths(self) -> list[str]:
        return [c.path for c in self.calls]

    def connections(self) -> int:
        """Connections the calls so far came on (the server sees each one's port)."""
        return len({c.peer for c in self.calls})

    def client(self, tokens: FakeTokens | None = None, gate: HostGate | None = None,
               endpoints: tuple[str, ...] | None = None) -> GoogleCalls:
        return GoogleCalls(UpstreamClient(
            self.transport, endpoints or (self.daily, self.prod), tokens or FakeTokens(),
            headers={"User-Agent": "test-agent/1"}, decode_error=parse_error, gate=gate),
            self.loop)

    def close(self) -> None:
        self.clients.close()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def up() -> Iterator[Upstream]:
    u = Upstream()
    yield u
    u.close()


def deadline(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def test_headers_and_body_are_sent(up: Upstream) -> None:
    up.add("daily", "fetchAvailableModels", json_body={"models": {}})
    assert up.client().call("fetchAvailableModels", {"project": "p"}, deadline()) == {"models": {}}
    call = up.calls[0]
    assert call.path == "/daily/v1internal:fetchAvailableModels"
    assert call.headers["Authorization"] == "Bearer tok-0"
    assert call.headers["User-Agent"] == "test-agent/1"
    assert call.headers["Content-Type"] == "application/json"
    assert call.json() == {"project": "p"}


@pytest.mark.parametrize("status", [429, 500, 503])
def test_429_and_5xx_move_on_to_the_next_base_url(up: Upstream, status: int) -> None:
    up.add("daily", "m", status=status, json_body={"error": {"code": status}})
    up.add("prod", "m", json_body={"ok": 1})
    assert up.client().call("m", {}, deadline()) == {"ok": 1}
    assert up.paths() == ["/daily/v1internal:m", "/prod/v1internal:m"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_network_error_moves_on_to_the_next_base_url(up: Upstream) -> None:
    up.add("prod", "m", json_body={"ok": 2})
    dead = f"http://127.0.0.1:{closed_port()}/daily"
    assert up.client(endpoints=(dead, up.prod)).call("m", {}, deadline()) == {"ok": 2}


def test_connection_refused_everywhere_is_a_network_error(up: Upstream) -> None:
    dead = f"http://127.0.0.1:{closed_port()}/daily"
    with pytest.raises(FetchError) as err:
        up.client(endpoints=(dead,)).call("m", {}, deadline())
    assert err.value.reason is Reason.NETWORK
    assert "connection refused" in err.value.message


def test_403_does_not_move_on_and_is_forbidden(up: Upstream) -> None:
    up.add("daily", "m", status=403, json_body=fixture("error.403.json"))
    with pytest.raises(FetchError) as err:
        up.client().call("m", {}, deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert "valid license" in err.value.message
    assert len(up.calls) == 1


def test_all_hosts_429_is_rate_limited_and_closes_hosts_for_retry_delay(up: Upstream) -> None:
    monotonic = Clock()
    body = fixture("error.429.json")
    up.add("daily", "m", status=429, json_body=body)
    up.add("prod", "m", status=429, json_body=body)
    c = up.client(gate=HostGate(monotonic))
    with pytest.raises(FetchError) as err:
        c.call("m", {}, deadline())
    assert err.value.reason is Reason.RATE_LIMITED
    assert "retry in 3.2s" in err.value.message
    assert len(up.calls) == 2
    # Within retryDelay neither host is called again.
    with pytest.raises(FetchError) as again:
        c.call("m", {}, deadline())
    assert again.value.reason is Reason.RATE_LIMITED
    assert len(up.calls) == 2
    monotonic.now += 3.3
    up.replace("daily", "m", json_body={"ok": 3})
    assert c.call("m", {}, deadline()) == {"ok": 3}


def test_a_429_with_retry_after_0_names_no_wait_yet_still_closes_the_host(up: Upstream) -> None:
    monotonic = Clock()
    body = {"error": {"message": "Rate limited. Please try again later.",
                      "type": "rate_limit_error"}}
    up.add("daily", "m", status=429, json_body=body, headers={"Retry-After": "0"})
    c = up.client(endpoints=(up.daily,), gate=HostGate(monotonic))
    with pytest.raises(FetchError) as err:
        c.call("m", {}, deadline())
    assert err.value.reason is Reason.RATE_LIMITED and err.value.retry_after == 0.0
    assert err.value.message.endswith("answered 429: Rate limited. Please try again later.")
    with pytest.raises(FetchError, match="asked us to wait"):
        c.call("m", {}, deadline())  # no hot loop: the host stays closed a few seconds
    assert len(up.calls) == 1
    monotonic.now += DEFAULT_429_BACKOFF + 0.1
    up.replace("daily", "m", json_body={"ok": 5})
    assert c.call("m", {}, deadline()) == {"ok": 5}


def test_401_refreshes_once_and_retries(up: Upstream) -> None:
    tokens = FakeTokens()
    up.add("daily", "m", status=401, json_body={"error": {"code": 401}})
    up.add("daily", "m", json_body={"ok": 4})
    assert up.client(tokens).call("m", {}, deadline()) == {"ok": 4}
    assert tokens.refreshes == 1
    assert [c.headers["Authorization"] for c in up.calls] == ["Bearer tok-0", "Bearer tok-1"]


def test_401_twice_is_auth_error_without_a_loop(up: Upstream) -> None:
    tokens = FakeTokens()
    up.add("daily", "m", status=401, json_body={"error": {"code": 401}})
    with pytest.raises(FetchError) as err:
        up.client(tokens).call("m", {}, deadline())
    assert err.value.reason is Reason.AUTH
    assert tokens.refreshes == 1
    assert len(up.calls) == 2


def test_401_without_refresh_is_auth_error(up: Upstream) -> None:
    up.add("daily", "m", status=401, json_body={"error": {"code": 401}})
    with pytest.raises(FetchError) as err:
        up.client(FakeTokens(refreshable=False)).call("m", {}, deadline())
    assert err.value.reason is Reason.AUTH
    assert len(up.calls) == 1


def test_a_401_says_in_its_own_words_why_even_as_text_plain(up: Upstream) -> None:
    up.add("daily", "m", status=401, content_type="text/plain",
           body=b'{"error": {"message": "token expired", "code": "token_expired"}}')
    with pytest.raises(UpstreamError) as err:
        up.client(FakeTokens(refreshable=False)).call("m", {}, deadline())
    assert err.value.reason is Reason.AUTH and err.value.http_status == 401
    host = up.daily.split("://")[1]
    assert err.value.message == f"m: {host} answered 401: token expired; cannot refresh"


def test_non_json_200_is_a_parse_error(up: Upstream) -> None:
    up.add("daily", "m", body=b"<html>login</html>", content_type="text/html")
    with pytest.raises(FetchError) as err:
        up.client().call("m", {}, deadline())
    assert err.value.reason is Reason.PARSE


def test_oversized_body_is_refused_and_the_connection_stays_usable(up: Upstream) -> None:
    up.add("daily", "m", body=b"[" + b"1," * (MAX_BODY_BYTES // 2) + b"1]")
    up.add("daily", "m", json_body={"ok": 5})
    c = up.client()
    with pytest.raises(FetchError) as err:
        c.call("m", {}, deadline())
    assert err.value.reason is Reason.PARSE
    assert "MiB" in err.value.message
    # The unread rest of the big body must not be read as the next reply.
    assert c.call("m", {}, deadline()) == {"ok": 5}


def test_slow_answer_is_a_timeout_at_the_deadline(up: Upstream) -> None:
    up.add("daily", "m", json_body={"ok": 6}, delay=3.0)
    started = time.monotonic()
    with pytest.raises(FetchError) as err:
        up.client().call("m", {}, deadline(0.5))
    assert err.value.reason is Reason.TIMEOUT
    assert time.monotonic() - started < 1.5


def test_past_deadline_makes_no_call(up: Upstream) -> None:
    with pytest.raises(FetchError) as err:
        up.client().call("m", {}, time.monotonic() - 1)
    assert err.value.reason is Reason.TIMEOUT
    assert up.calls == []


def test_connections_are_reused_across_calls(up: Upstream) -> None:
    up.add("daily", "m", json_body={"ok": 7})
    c = up.client()
    for _ in range(5):
        c.call("m", {}, deadline())
    assert len(up.calls) == 5
    assert up.connections() == 1


def account(endpoints: tuple[str, ...], **kw: Any) -> AccountConfig:
    base: dict[str, Any] = dict(
        name="acc", provider="antigravity",
        credentials=Credentials(kind="access_token", secret=Secret("at")),
        endpoints=endpoints,
    )
    base.update(kw)
    return AccountConfig(**base)


def provider(up: Upstream, **kw: Any) -> AntigravityProvider:
    return AntigravityProvider(account((up.daily, up.prod), **kw), up.clients, FakeTokens())


def test_provider_builds_account_data_and_caches_load_code_assist(up: Upstream) -> None:
    up.add("daily", "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    up.add("daily", "fetchAvailableModels", json_body=fixture("fetchAvailableModels.paid.json"))
    up.add("daily", "retrieveUserQuotaSummary",
           json_body=fixture("retrieveUserQuotaSummary.json"))
    p = provider(up)
    data = fetch_once(p, deadline())
    assert (data.info.tier, data.info.tier_name) == ("g1-pro-tier", "Google AI Pro")
    assert data.info.project == "bright-harbor-x4k2p"
    assert len(data.models) == 5 and len(data.pools) == 4
    fetch_once(p, deadline())
    methods = [path.rsplit(":", 1)[-1] for path in up.paths()]
    assert methods.count("loadCodeAssist") == 1
    assert methods.count("fetchAvailableModels") == 2
    # The project goes into every quota call's body.
    for call in up.calls:
        if not call.path.endswith("loadCodeAssist"):
            assert call.json() == {"project": "bright-harbor-x4k2p"}


def test_provider_no_licence_on_summary_means_no_pools(up: Upstream) -> None:
    up.add("daily", "loadCodeAssist", json_body=fixture("loadCodeAssist.free.json"))
    up.add("daily", "fetchAvailableModels", json_body={"models": {}})
    up.add("daily", "retrieveUserQuotaSummary", status=403, json_body=fixture("error.403.json"))
    data = fetch_once(provider(up), deadline())
    assert data.pools == () and data.pools_available is False
    assert data.info.tier == "free-tier"


def test_provider_not_onboarded_is_an_account_error_with_advice(up: Upstream) -> None:
    up.add("daily", "loadCodeAssist", json_body=fixture("loadCodeAssist.not-onboarded.json"))
    with pytest.raises(FetchError) as err:
        fetch_once(provider(up), deadline())
    assert err.value.reason is Reason.FORBIDDEN
    assert "VALIDATION_REQUIRED: Verify your account to continue." in err.value.message
    assert "sign in to Antigravity" in err.value.message
    assert all("onboardUser" not in path for path in up.paths())


def test_provider_configured_project_wins_and_sources_are_honoured(up: Upstream) -> None:
    up.add("daily", "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    up.add("daily", "retrieveUserQuotaSummary",
           json_body=fixture("retrieveUserQuotaSummary.json"))
    data = fetch_once(provider(up, project="my-own", sources=frozenset({"summary"})), deadline())
    assert data.models == () and len(data.pools) == 4
    assert up.calls[1].json() == {"project": "my-own"}


def test_provider_parse_error_fails_only_that_source(up: Upstream) -> None:
    up.add("daily", "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    up.add("daily", "fetchAvailableModels", json_body={"models": ["not", "a", "map"]})
    up.add("daily", "retrieveUserQuotaSummary",
           json_body=fixture("retrieveUserQuotaSummary.json"))
    data = fetch_once(provider(up), deadline())
    by = {r.source: r for r in data.sources}
    assert by["models"].error is not None and by["models"].error.reason is Reason.PARSE
    assert "fetchAvailableModels" in by["models"].error.message
    assert by["summary"].up and len(data.pools) == 4 and data.models == ()


def test_provider_summary_failure_keeps_the_models(up: Upstream) -> None:
    up.add("daily", "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    up.add("daily", "fetchAvailableModels", json_body=fixture("fetchAvailableModels.paid.json"))
    up.add("daily", "retrieveUserQuotaSummary", status=500, json_body={"error": {"code": 500}})
    up.add("prod", "retrieveUserQuotaSummary", status=503, json_body={"error": {"code": 503}})
    data = fetch_once(provider(up), deadline())
    by = {r.source: r for r in data.sources}
    assert by["models"].up and len(data.models) == 5
    assert by["summary"].error is not None and by["summary"].error.reason is Reason.UPSTREAM
    assert data.pools == () and data.pools_known is False and data.pools_available is True


def test_provider_maps_models_to_pools_and_keeps_credits(up: Upstream) -> None:
    up.add("daily", "loadCodeAssist", json_body=fixture("loadCodeAssist.paid-credits.json"))
    up.add("daily", "fetchAvailableModels", json_body=fixture("fetchAvailableModels.paid.json"))
    up.add("daily", "retrieveUserQuotaSummary",
           json_body=fixture("retrieveUserQuotaSummary.json"))
    data = fetch_once(provider(up), deadline())
    pools = {m.model: m.pools for m in data.models}
    assert pools["claude-sonnet-4-5"] == ("claude-gpt",)
    assert pools["gemini-3-flash"] == ("gemini",)
    assert [(c.credit_type, c.remaining) for c in data.credits] == [("GOOGLE_ONE_AI", 25000.0)]


def test_provider_sources_run_side_by_side(up: Upstream) -> None:
    """Two slow sources cost one round trip, not two."""
    up.add("daily", "loadCodeAssist", json_body=fixture("loadCodeAssist.paid.json"))
    up.add("daily", "fetchAvailableModels", json_body=fixture("fetchAvailableModels.paid.json"),
           delay=0.4)
    up.add("daily", "retrieveUserQuotaSummary",
           json_body=fixture("retrieveUserQuotaSummary.json"), delay=0.4)
    p = provider(up)
    fetch_once(p, deadline())  # warms the loadCodeAssist cache and the connections
    started = time.monotonic()
    fetch_once(p, deadline())
    assert time.monotonic() - started < 0.7


# --- call_many: an account's calls written together, answers read after ----------------


def many(up: Upstream, tokens: FakeTokens | None = None) -> Sync:
    return Sync(up.client(tokens).client, up.loop)


def two_calls() -> list[Call]:
    return [Call("a", "/v1internal:a", {"project": "p"}), Call("b", "/v1internal:b", {"x": 1})]


def answered_a_having_seen(up: Upstream) -> int:
    """How many requests the server had received when it answered `a`."""
    (a,) = [c for c in up.calls if c.path.endswith(":a")]
    return int(a.seen_when_answered)


def test_call_many_writes_both_requests_before_reading_either(up: Upstream) -> None:
    """Both requests reach the server while the first answer is still pending:
    one round trip for the pair, on two kept-alive connections."""
    up.add("daily", "a", json_body={"a": 1}, delay=5.0, wait_for_calls=2)
    up.add("daily", "b", json_body={"b": 2}, delay=0.3)
    assert many(up).call_many(two_calls(), deadline(10)) == [{"a": 1}, {"b": 2}]
    assert answered_a_having_seen(up) == 2
    # On two connections either may be read first.
    assert {c.path: c.json() for c in up.calls} == {
        "/daily/v1internal:a": {"project": "p"}, "/daily/v1internal:b": {"x": 1}}
    assert up.connections() == 2


def test_the_benchmarks_in_series_way_asks_one_after_the_other(up: Upstream) -> None:
    """The benchmark's comparison (benchmarks/in_series.py), with the same answers."""
    # a waits up to 0.3 s for b, which comes only after a's answer here; the test above
    # is the control: there the same wait sees b, sent early.
    up.add("daily", "a", json_body={"a": 1}, delay=0.3, wait_for_calls=2)
    up.add("daily", "b", json_body={"b": 2})
    client = many(up)
    got = up.loop.run(call_in_series(client.client, two_calls(), deadline()))
    assert got == [{"a": 1}, {"b": 2}]
    assert answered_a_having_seen(up) == 1


def test_call_many_one_call_failing_over_leaves_the_other_alone(up: Upstream) -> None:
    """A 429 on one call closes the host and sends that call on to the next base URL;
    the other call's answer from the first host stands."""
    up.add("daily", "a", json_body={"a": 1})
    up.add("daily", "b", status=429, json_body={"error": {"message": "slow"}})
    up.add("prod", "b", json_body={"b": "from prod"})
    client = many(up)
    assert client.call_many(two_calls(), deadline()) == [{"a": 1}, {"b": "from prod"}]
    # The two first requests go out together, so the server may read either first.
    assert sorted(up.paths()[:2]) == ["/daily/v1internal:a", "/daily/v1internal:b"]
    assert up.paths()[2:] == ["/prod/v1internal:b"]
    assert client.gate.wait_left(host_of(up.daily)) > 0
    # The next round starts on the host that is still open.
    up.add("prod", "a", json_body={"a": "from prod"})
    assert client.call_many(two_calls(), deadline()) == [{"a": "from prod"}, {"b": "from prod"}]
    assert sorted(up.paths()[3:]) == ["/prod/v1internal:a", "/prod/v1internal:b"]


def test_call_many_refreshes_a_rejected_token_once_for_both(up: Upstream) -> None:
    up.add("daily", "a", status=401, json_body={"error": {"message": "expired"}})
    up.add("daily", "a", json_body={"a": 1})
    up.add("daily", "b", status=401, json_body={"error": {"message": "expired"}})
    up.add("daily", "b", json_body={"b": 2})
    tokens = FakeTokens()
    assert many(up, tokens).call_many(two_calls(), deadline()) == [{"a": 1}, {"b": 2}]
    assert tokens.refreshes == 1
    # Each call went first with the old token, then once with the new one; the server
    # may see a retry before the other call's first request.
    auth = {(c.path.rsplit(":", 1)[1], c.headers["Authorization"]) for c in up.calls}
    assert len(up.calls) == 4
    assert auth == {(m, f"Bearer {t}") for m in "ab" for t in ("tok-0", "tok-1")}


def test_call_many_returns_each_error_in_its_place(up: Upstream) -> None:
    up.add("daily", "a", status=403, json_body={"error": {"message": "no licence"}})
    up.add("daily", "b", json_body={"b": 2})
    got = many(up).call_many(two_calls(), deadline())
    assert isinstance(got[0], FetchError) and got[0].reason is Reason.FORBIDDEN
    assert "no licence" in got[0].message
    assert got[1] == {"b": 2}


def test_call_many_without_a_token_fails_every_call_without_a_request(up: Upstream) -> None:
    class NoToken(FakeTokens):
        def token(self, deadline: float) -> str:
            raise FetchError(Reason.AUTH, "no token in the file")

    got = many(up, NoToken()).call_many(two_calls(), deadline())
    assert [(e.reason, e.message) for e in got] == [(Reason.AUTH, "no token in the file")] * 2
    assert up.calls == []


def test_call_many_turns_a_bug_into_an_internal_error_for_that_call(
    up: Upstream, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    up.add("daily", "a", json_body={"a": 1})
    up.add("daily", "b", json_body={"b": 2})
    real = up.transport.request
    calls = iter([True, False])

    async def flaky(*args: Any, **kw: Any) -> Any:
        if next(calls):
            await real(*args, **kw)  # read the answer, so the connection stays clean
            raise KeyError("bug")
        return await real(*args, **kw)

    monkeypatch.setattr(up.transport, "request", flaky)
    got = many(up).call_many(two_calls(), deadline())
    assert isinstance(got[0], FetchError) and got[0].reason is Reason.INTERNAL
    assert got[0].message == "a: unexpected error (KeyError)"
    assert got[1] == {"b": 2}
    assert "unexpected error in an upstream call" in caplog.text


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    """A server that closes each connection after its answer, without saying
    `Connection: close` (as one does at its idle timeout): every call still succeeds,
    each on a new connection, and no dead connection is kept."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []
    body = b'{"ok": 1}'
    answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    closed = threading.Semaphore(0)

    def serve() -> None:
        for _ in range(3):
            conn, _addr = listener.accept()
            accepted.append(1)
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length")), b"0"))
                while len(rest) < length:
                    rest += conn.recv(65536)
                conn.sendall(answer)
            closed.release()

    threading.Thread(target=serve, daemon=True).start()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    clients = HttpClients.create(4)
    client = Sync(UpstreamClient(clients.transport, (base,), FakeTokens(), headers={}),
                  clients.loop)
    try:
        for _ in range(3):
            assert client.call("m", "/m", deadline()) == {"ok": 1}
            # The next call starts once the server has closed this connection.
            assert closed.acquire(timeout=5)
        assert len(accepted) == 3
    finally:
        clients.close()
        listener.close()


def test_an_https_upstream_with_an_untrusted_certificate_gets_no_token(pki: Any) -> None:
    """TLS is verified against the public CAs: a host whose certificate they do not
    sign fails the handshake, so the request with the token is never written."""
    script = ScriptedServer()
    script.add("/m", json_body={"ok": 1})
    server, base = script.start()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server.crt"], pki["server.key"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    clients = HttpClients.create(4)
    client = Sync(UpstreamClient(clients.transport, (base.replace("http://", "https://"),),
                                 FakeTokens(), headers={}), clients.loop)
    try:
        with pytest.raises(FetchError) as err:
            client.call("m", "/m", deadline())
        assert err.value.reason is Reason.NETWORK
        assert err.value.message.startswith(f"m: cannot reach {host_of(base)} (TLS certificate "
                                            "not trusted: ")
        assert script.calls == []
    finally:
        clients.close()
        server.shutdown()
        server.server_close()


# --- the provider-neutral client: GET, other auth schemes, Retry-After, plain errors ----


def neutral(up: Upstream, **kw: Any) -> Sync:
    return Sync(UpstreamClient(up.transport, (up.daily, up.prod), FakeTokens(),
                               headers={"User-Agent": "test/1", "X-Extra": "yes"}, **kw),
                up.loop)


def test_get_without_a_body_and_another_auth_scheme(up: Upstream) -> None:
    up.script.add("/daily/copilot_internal/user", json_body={"ok": True})
    client = neutral(up, auth_scheme="token")
    assert client.call("user", "/copilot_internal/user", deadline(), method="GET") == {"ok": True}
    call = up.calls[0]
    assert call.headers["Authorization"] == "token tok-0"
    assert call.headers["X-Extra"] == "yes" and "Content-Type" not in call.headers
    assert call.body == b""


def test_retry_after_header_closes_the_host(up: Upstream) -> None:
    up.script.add("/daily/usage", status=429, json_body={"error": {"message": "slow down"}},
                  headers={"Retry-After": "42"})
    up.script.add("/prod/usage", status=429, json_body={"error": {"message": "slow down"}})
    client = neutral(up)
    with pytest.raises(FetchError) as err:
        client.call("usage", "/usage", deadline(), method="GET")
    assert err.value.reason is Reason.RATE_LIMITED
    assert client.gate.wait_left(host_of(up.daily)) > 40
    assert "slow down" in err.value.message


@pytest.mark.parametrize(
    ("doc", "message", "status"),
    [
        ({"error": {"type": "rate_limit_error", "message": "Too many"}}, "Too many",
         "rate_limit_error"),
        ({"error": "invalid_grant", "error_description": "expired"}, "expired", "invalid_grant"),
        ({"message": "Not Found", "documentation_url": "x"}, "Not Found", ""),
        ({"detail": "Unauthorized"}, "Unauthorized", ""),
        ([1, 2], "", ""),
    ],
)
def test_plain_error_reads_the_common_shapes(doc: Any, message: str, status: str) -> None:
    info = plain_error(doc)
    assert (info.message, info.status) == (message, status)


def test_a_trickling_body_cannot_hold_a_call_past_the_deadline() -> None:
    """One byte every 0.3 s keeps every single read alive; the deadline still holds."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def trickle() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n")
            for _ in range(100):
                if stop.wait(0.3):
                    return
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    clients = HttpClients.create(2)
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as err:
            clients.run(clients.transport.request(
                "GET", f"http://127.0.0.1:{server.getsockname()[1]}", "/x", None, {},
                started + 1.0, name="usage", host="slow"))
        assert time.monotonic() - started < 1.5
        assert err.value.reason is Reason.TIMEOUT
    finally:
        stop.set()
        clients.close()
        server.close()
        thread.join(5)


# --- unchanged bodies: parsed once ------------------------------------------------------


def test_an_unchanged_body_gets_the_same_parsed_object_without_parsing_again(
    up: Upstream,
) -> None:
    seen: list[Any] = []

    def parse(body: Any) -> tuple[int, ...]:
        seen.append(body)
        return tuple(body["n"])

    up.add("daily", "m", json_body={"n": [1, 2]})
    up.add("daily", "m", json_body={"n": [1, 2]})
    up.add("daily", "m", status=500, json_body={"error": {"code": 500}})
    up.add("prod", "m", json_body={"n": [1, 2]})
    up.add("daily", "m", json_body={"n": [3]})
    c = neutral(up)
    first = c.call("m", "/v1internal:m", deadline(), parse=parse)
    second = c.call("m", "/v1internal:m", deadline(), parse=parse)
    third = c.call("m", "/v1internal:m", deadline(), parse=parse)  # from the other host
    assert first == (1, 2) and second is first and third is first
    assert len(seen) == 1
    changed = c.call("m", "/v1internal:m", deadline(), parse=parse)
    assert changed == (3,) and len(seen) == 2


def test_a_body_parse_refuses_is_a_parse_error_and_is_not_kept(up: Upstream) -> None:
    def parse(body: Any) -> Any:
        if "n" not in body:
            raise FetchError(Reason.PARSE, "m: unexpected reply: no n")
        return body["n"]

    up.add("daily", "m", json_body={"x": 1})
    up.add("daily", "m", json_body={"n": 1})
    c = neutral(up)
    with pytest.raises(FetchError) as err:
        c.call("m", "/v1internal:m", deadline(), parse=parse)
    assert err.value.reason is Reason.PARSE
    assert c.call("m", "/v1internal:m", deadline(), parse=parse) == 1


# --- token refreshes never block the loop ------------------------------------------------


def test_a_token_refresh_runs_on_a_blocking_thread_not_the_loop(up: Upstream) -> None:
    """The OAuth exchange (requests) is refused on the loop's thread and runs again on
    a blocking one; the loop keeps serving other calls meanwhile."""
    from exporter.auth.tokens import OAuthRefresher, RefreshingToken
    from exporter.secret import OAuthClient

    threads: list[str] = []
    release = threading.Event()  # the token endpoint answers once the test says so

    class Reply:
        status_code = 200

        def json(self) -> Any:
            return {"access_token": "fresh", "expires_in": 3600}

    class Session:
        def post(self, *args: Any, **kw: Any) -> Reply:
            threads.append(threading.current_thread().name)
            release.wait(5)
            return Reply()

    refresher = OAuthRefresher(Session(), OAuthClient("id"), "https://oauth.invalid/token")  # type: ignore[arg-type]
    tokens = RefreshingToken(refresher, secret=Secret("rt"))
    up.add("daily", "m", json_body={"ok": 1})
    up.add("daily", "other", json_body={"ok": 2})
    slow = UpstreamClient(up.transport, (up.daily,), tokens, headers={})
    other = UpstreamClient(up.transport, (up.daily,), FakeTokens(), headers={})

    async def both() -> tuple[Any, Any, bool]:
        task = asyncio.ensure_future(slow.call("m", "/v1internal:m", deadline()))
        await asyncio.sleep(0)  # the refresh has started
        quick = await other.call("other", "/v1internal:other", deadline())
        refresh_still_waiting = not task.done()
        release.set()
        return await task, quick, refresh_still_waiting

    got, quick, refresh_still_waiting = up.loop.run(both())
    assert (got, quick) == ({"ok": 1}, {"ok": 2})
    assert threads and all(name.startswith("blocking") for name in threads)
    # The other call was answered while the token endpoint still held the refresh.
    assert refresh_still_waiting
    assert [c.path.rsplit(":", 1)[1] for c in up.calls] == ["other", "m"]
    assert [c.headers["Authorization"] for c in up.calls] == ["Bearer tok-0", "Bearer fresh"]


def test_a_call_past_the_deadline_times_out_alone_and_says_where(up: Upstream) -> None:
    """One timer holds an account's deadline for all its calls: the slow call says
    which host did not answer; the other keeps its answer."""
    up.add("daily", "a", json_body={"a": 1}, delay=3.0)
    up.add("daily", "b", json_body={"b": 2})
    started = time.monotonic()
    got = many(up).call_many(two_calls(), deadline(0.5))
    assert time.monotonic() - started < 1.5
    assert isinstance(got[0], FetchError) and got[0].reason is Reason.TIMEOUT
    assert got[0].message == f"a: {host_of(up.daily)} did not answer in time"
    assert got[1] == {"b": 2}


def test_the_fetch_loop_refuses_to_wait_on_itself_and_closes_once() -> None:
    from exporter.upstream.loop import FetchLoop

    loop = FetchLoop()
    # uvloop is a dependency wherever it has wheels (this machine included).
    assert type(loop.loop).__module__.startswith("uvloop")

    async def inner() -> str:
        async def noop() -> None:
            return None

        try:
            loop.run(noop())
        except RuntimeError as exc:
            return str(exc)
        return "waited"

    assert "await instead" in loop.run(inner())
    assert loop.run(asyncio.sleep(0, result=7)) == 7
    loop.close()
    loop.close()  # idempotent
    assert loop.loop.is_closed()


def test_closing_the_loop_cancels_what_is_still_in_flight() -> None:
    from exporter.upstream.loop import FetchLoop

    loop = FetchLoop()
    ended: list[str] = []
    started = threading.Event()

    async def stuck() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    loop.submit(stuck())
    assert started.wait(5)
    loop.close()
    assert ended == ["cancelled"] and loop.loop.is_closed()
