"""The MiniMax provider against a scripted loopback server: the request it makes, the
China platform's path, and how each answer (HTTP 200 with a base_resp error, 401,
a CDN's 403 page) becomes data or an account error that says what to do."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from exporter.config import AccountConfig, Credentials, Secret
from exporter.providers import make_provider
from exporter.providers.minimax.client import MiniMaxProvider
from exporter.snapshot import FetchError, Reason
from exporter.upstream.transport import HttpClients
from tests.procs import fetch_once
from tests.scripted_http import ScriptedServer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"
GLOBAL = "/mm/v1/api/openplatform/coding_plan/remains"
CHINA = "/mm/v1/token_plan/remains"
KEY = "sk-cp-SECRET-0123456789"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def minimax(base: str, clients: HttpClients, creds: Credentials | None = None,
            endpoint: str = "/mm") -> MiniMaxProvider:
    account = AccountConfig(
        name="mm", provider="minimax",
        credentials=creds or Credentials(kind="api_key", secret=Secret(KEY)),
        endpoints=(f"{base}{endpoint}",))
    provider = make_provider(account, clients)
    assert isinstance(provider, MiniMaxProvider)
    return provider


def failure(provider: MiniMaxProvider) -> FetchError:
    with pytest.raises(FetchError) as exc:
        fetch_once(provider, time.monotonic() + 5)
    assert KEY not in exc.value.message
    return exc.value


def test_one_get_with_the_key_as_bearer(script: tuple[ScriptedServer, str],
                                        clients: HttpClients) -> None:
    server, base = script
    server.add(GLOBAL, json_body=fixture("minimax.percent-interval-exhausted.json"))
    data = fetch_once(minimax(base, clients), time.monotonic() + 5)
    (call,) = server.calls
    assert (call.path, call.body) == (GLOBAL, b"")
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    assert call.headers["Accept"] == "application/json"
    assert [(p.pool, p.window, p.remaining_fraction) for p in data.pools] == [
        ("general", "5h", 0.0), ("general", "weekly", 0.61)]
    assert data.sources[0].source == "usage" and data.sources[0].up


def test_the_region_comes_from_the_configured_endpoints_host(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    _, base = script
    # China: token_plan/remains (its coding_plan path answers auth errors), and counts
    # whose meaning peers dispute there are not read as what is left.
    china = make_provider(AccountConfig(
        name="cn", provider="minimax",
        credentials=Credentials(kind="api_key", secret=Secret(KEY)),
        endpoints=("https://api.minimaxi.com",)), clients)
    assert isinstance(china, MiniMaxProvider)
    assert (china._path, china._china) == ("/v1/token_plan/remains", True)
    worldwide = minimax(base, clients)
    assert (worldwide._path, worldwide._china) == ("/v1/api/openplatform/coding_plan/remains",
                                                   False)


def test_base_resp_errors_in_a_200_are_account_errors(script: tuple[ScriptedServer, str],
                                                      clients: HttpClients) -> None:
    server, base = script
    server.add(GLOBAL, json_body=fixture("peers/minimax.error-2049-invalid-key.json"))
    err = failure(minimax(base, clients))
    assert err.reason is Reason.AUTH
    assert err.message.startswith("MiniMax answered 2049 (invalid api key)")
    assert "Coding / Token Plan" in err.message
    assert "set endpoints: [https://api.minimaxi.com]" in err.message
    server.replace(GLOBAL, json_body={"base_resp": {"status_code": 1002,
                                                    "status_msg": "rate limit exceeded"}})
    assert failure(minimax(base, clients)).reason is Reason.RATE_LIMITED
    server.replace(GLOBAL, json_body={"base_resp": {"status_code": 1013,
                                                    "status_msg": "internal error"}})
    err = failure(minimax(base, clients))
    assert (err.reason, err.message) == (Reason.UPSTREAM, "MiniMax answered 1013 (internal error)")


def test_a_401_says_which_host_a_key_of_the_other_platform_needs(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(GLOBAL, status=401, json_body=fixture("peers/minimax.error-1004-login-fail.json"))
    err = failure(minimax(base, clients))
    assert err.reason is Reason.AUTH and "login fail" in err.message
    assert "China platform key" in err.message and "https://api.minimaxi.com" in err.message
    assert len(server.calls) == 1  # an API key is never refreshed


def test_a_cdn_block_page_is_forbidden_with_advice(script: tuple[ScriptedServer, str],
                                                   clients: HttpClients) -> None:
    server, base = script
    server.add(GLOBAL, status=403, body=b"<!DOCTYPE html><title>Attention Required!</title>",
               content_type="text/html")
    err = failure(minimax(base, clients))
    assert err.reason is Reason.FORBIDDEN and "CDN" in err.message


def test_a_reply_of_the_wrong_shape_is_a_parse_error(script: tuple[ScriptedServer, str],
                                                     clients: HttpClients) -> None:
    server, base = script
    server.add(GLOBAL, json_body={"base_resp": {"status_code": 0}, "model_remains": {"a": 1}})
    err = failure(minimax(base, clients))
    assert err.reason is Reason.PARSE and "model_remains" in err.message


def test_a_settings_file_without_a_minimax_key_says_what_to_put_there(
        script: tuple[ScriptedServer, str], clients: HttpClients, tmp_path: Path) -> None:
    server, base = script
    server.add(GLOBAL, json_body=fixture("minimax.token-plan-weekly-boost.json"))
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"env": {"ANTHROPIC_BASE_URL": "https://api.z.ai/api",
                                            "ANTHROPIC_AUTH_TOKEN": "SECRET-zai"}}))
    provider = minimax(base, clients, Credentials(kind="file", path=settings))
    err = failure(provider)
    assert err.reason is Reason.AUTH and "SECRET" not in err.message
    assert "ANTHROPIC_BASE_URL" in err.message and not server.calls
    assert "China platform key" not in err.message  # not MiniMax's answer: no region advice
    # The owner points it at MiniMax: read again, no restart.
    settings.write_text(json.dumps({"env": {"ANTHROPIC_BASE_URL":
                                            "https://api.minimax.io/anthropic",
                                            "ANTHROPIC_API_KEY": KEY}}))
    data = fetch_once(provider, time.monotonic() + 5)
    assert [p.window for p in data.pools] == ["4h", "weekly"]
    assert server.calls[0].headers["Authorization"] == f"Bearer {KEY}"
