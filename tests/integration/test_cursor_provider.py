"""The Cursor provider against a scripted loopback server: the request it makes, and
how an answer becomes data or an account error. End to end: test_exporter_cursor.py."""

from __future__ import annotations

import time
from typing import Any

import pytest

from exporter.config import AccountConfig, Credentials, Secret
from exporter.providers import make_provider
from exporter.providers.cursor.client import CursorProvider
from exporter.snapshot import FetchError, Reason
from exporter.upstream.transport import HttpClients
from tests.integration.test_copilot_provider import fixture
from tests.procs import fetch_once
from tests.scripted_http import ScriptedServer

PATH = "/cu/aiserver.v1.DashboardService/GetCurrentPeriodUsage"


def cursor(base: str, clients: HttpClients) -> CursorProvider:
    account = AccountConfig(name="cu", provider="cursor",
                            credentials=Credentials(kind="access_token",
                                                    secret=Secret("cursor-static")),
                            endpoints=(f"{base}/cu",))
    provider = make_provider(account, clients)
    assert isinstance(provider, CursorProvider)
    return provider


def test_a_connect_post_with_the_bearer_token_gives_the_pools(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(PATH, json_body=fixture("cursor.current-period-usage-team.json"))
    data = fetch_once(cursor(base, clients), time.monotonic() + 5)
    call = server.calls[0]
    assert call.body == b"{}" and call.headers["Authorization"] == "Bearer cursor-static"
    assert call.headers["Connect-Protocol-Version"] == "1"
    assert [p.pool for p in data.pools] == [
        "auto", "api", "included", "spend-limit", "spend-limit-pooled"]
    assert data.info.tier == "unknown" and data.sources[0].up


@pytest.mark.parametrize(("status", "body", "reason", "says"), [
    (200, {"code": "internal", "message": "usage is being recomputed"}, Reason.UPSTREAM,
     "Cursor answered internal: usage is being recomputed"),
    (403, {"code": "permission_denied", "message": "Team admin only"}, Reason.FORBIDDEN,
     "sign in to Cursor again"),
    (200, {"planUsage": "lots"}, Reason.PARSE, "GetCurrentPeriodUsage: unexpected reply"),
])
def test_errors_say_what_upstream_said_and_what_to_do(
        script: tuple[ScriptedServer, str], clients: HttpClients, status: int, body: Any,
        reason: Reason, says: str) -> None:
    server, base = script
    server.add(PATH, status=status, json_body=body)
    with pytest.raises(FetchError) as err:
        fetch_once(cursor(base, clients), time.monotonic() + 5)
    assert err.value.reason is reason and says in err.value.message
    assert "cursor-static" not in err.value.message


def test_401_is_never_refreshed_and_says_where_a_fresh_token_comes_from(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(PATH, status=401, json_body={"code": "unauthenticated", "message": "Not logged in"})
    with pytest.raises(FetchError) as err:
        fetch_once(cursor(base, clients), time.monotonic() + 5)
    assert err.value.reason is Reason.AUTH and "state.vscdb" in err.value.message
    assert len(server.calls) == 1
