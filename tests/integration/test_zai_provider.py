"""The z.ai provider against a scripted loopback server: the request it makes (the
raw key, the vendor's headers), and how each answer becomes data or an account error.
End to end against the simulator: test_exporter_zai.py."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from exporter.config import AccountConfig, Credentials, Secret
from exporter.providers import make_provider
from exporter.providers.zai.client import ZaiProvider
from exporter.snapshot import FetchError, Reason
from exporter.upstream.transport import HttpClients
from tests.procs import fetch_once
from tests.scripted_http import ScriptedServer

FIXTURES = Path(__file__).parents[1] / "fixtures" / "upstream"
LIMIT = "/z/api/monitor/usage/quota/limit"
KEY = "0123456789abcdef0123456789abcdef.SECRETsecret1234"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def deadline(seconds: float = 5.0) -> float:
    return time.monotonic() + seconds


def zai(base: str, clients: HttpClients, creds: Credentials | None = None) -> ZaiProvider:
    account = AccountConfig(
        name="glm", provider="zai",
        credentials=creds or Credentials(kind="api_key", secret=Secret(KEY)),
        endpoints=(f"{base}/z",))
    provider = make_provider(account, clients)
    assert isinstance(provider, ZaiProvider)
    return provider


def test_sends_the_raw_key_and_the_vendors_headers(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(LIMIT, json_body=fixture("zai.pro-tokens-limit.json"))
    data = fetch_once(zai(base, clients), deadline())
    call = server.calls[0]
    assert call.path == LIMIT and call.body == b""
    assert call.headers["Authorization"] == KEY  # no "Bearer", as z.ai's own plugin sends
    assert call.headers["Accept-Language"] == "en-US,en"
    assert (data.info.tier, data.info.tier_name) == ("pro", "GLM Coding Pro")
    assert [(p.pool, p.window) for p in data.pools] == [
        ("glm", "5h"), ("glm", "weekly"), ("mcp", "monthly")]
    assert [r.source for r in data.sources] == ["usage"] and data.sources[0].up


@pytest.mark.parametrize(("name", "reason", "says"), [
    ("zai.no-coding-plan.json", Reason.FORBIDDEN, "has no GLM Coding Plan"),
    ("zai.unauthorized-http200.json", Reason.AUTH, "z.ai refused the API key (code 401"),
    ("peers/zai.endpoint-disabled.json", Reason.UPSTREAM, "'quota endpoint disabled'"),
])
def test_success_false_on_http_200_is_an_account_error_never_data(
        script: tuple[ScriptedServer, str], clients: HttpClients, name: str, reason: Reason,
        says: str) -> None:
    server, base = script
    server.add(LIMIT, json_body=fixture(name))
    with pytest.raises(FetchError) as err:
        fetch_once(zai(base, clients), deadline())
    assert err.value.reason is reason and says in err.value.message
    assert KEY not in err.value.message


def test_http_401_says_the_key_was_refused_and_which_region_takes_it(
        script: tuple[ScriptedServer, str], clients: HttpClients, tmp_path: Path) -> None:
    server, base = script
    server.add(LIMIT, status=401, json_body={"code": 401, "msg": "token expired or incorrect",
                                             "success": False})
    environ = Credentials(kind="api_key_env", secret=Secret(KEY), env="ZAI_API_KEY")
    with pytest.raises(FetchError) as err:
        fetch_once(zai(base, clients, environ), deadline())
    message = err.value.message
    assert err.value.reason is Reason.AUTH
    assert "api_key_env ZAI_API_KEY" in message and "was refused (401)" in message
    assert "https://open.bigmodel.cn" in message and "endpoints" in message
    assert KEY not in message


def test_rate_limit_and_server_errors_keep_their_reasons(
        script: tuple[ScriptedServer, str], clients: HttpClients) -> None:
    server, base = script
    server.add(LIMIT, status=429, json_body={"code": 429, "msg": "Too many requests"},
               headers={"Retry-After": "30"})
    with pytest.raises(FetchError) as err:
        fetch_once(zai(base, clients), deadline())
    assert err.value.reason is Reason.RATE_LIMITED and err.value.retry_after == 30.0


def test_a_key_file_is_read_as_it_is_now(
        script: tuple[ScriptedServer, str], clients: HttpClients, tmp_path: Path) -> None:
    server, base = script
    server.add(LIMIT, json_body=fixture("zai.lite-credit-limit.json"))
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"env": {"ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic",
                                        "ANTHROPIC_AUTH_TOKEN": "key-one"}}))
    provider = zai(base, clients, Credentials(kind="file", path=path))
    fetch_once(provider, deadline())
    path.write_text(json.dumps({"env": {"ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic",
                                        "ANTHROPIC_AUTH_TOKEN": "key-two"}}))
    data = fetch_once(provider, deadline())
    assert [c.headers["Authorization"] for c in server.calls] == ["key-one", "key-two"]
    week = next(p for p in data.pools if p.window == "weekly")
    assert (week.remaining_credits, week.limit_credits) == (4792.0, 10000.0)
