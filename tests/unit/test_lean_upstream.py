"""The lean upstream of the scale benchmark: its HTTP/1.1 reading, its routes, its counts."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from benchmarks.lean_upstream import (
    BadRequest,
    Connection,
    Upstream,
    build_accounts,
    exporter_config,
    parse_request,
)

BODY = b'{"project": "lean-project-0001"}'
POST = (b"POST /v1internal:fetchAvailableModels HTTP/1.1\r\nHost: x\r\n"
        b"authorization: Bearer ya29.lean-0001\r\nContent-Length: %d\r\n\r\n%s"
        % (len(BODY), BODY))


def test_a_request_is_read_only_once_its_head_and_body_are_complete() -> None:
    assert parse_request(POST[:40]) is None
    assert parse_request(POST[:-5]) is None  # the body is 5 bytes short
    parsed = parse_request(POST + b"GET /_lean/calls HTTP/1.1\r\n\r\n")
    assert parsed is not None
    req, used = parsed
    assert used == len(POST)
    assert (req.verb, req.target) == ("POST", b"/v1internal:fetchAvailableModels")
    assert req.headers[b"authorization"] == b"Bearer ya29.lean-0001"  # names lower-cased
    assert req.body == BODY
    assert req.keep_alive
    closing = parse_request(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert closing is not None and not closing[0].keep_alive


@pytest.mark.parametrize(("raw", "status"), [
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
    (b"NONSENSE\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: lots\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413),
])
def test_what_it_does_not_read_is_refused(raw: bytes, status: int) -> None:
    with pytest.raises(BadRequest) as err:
        parse_request(raw)
    assert err.value.status == status


def _upstream(n: int = 2, change_fraction: float = 0.0) -> Upstream:
    return Upstream(build_accounts(n, change_fraction, time.time()), latency=0.2)


def test_calls_are_answered_and_counted_per_account_by_bearer_token() -> None:
    up = _upstream()
    parsed = parse_request(POST)
    assert parsed is not None
    status, body, delay = up.answer(parsed[0])
    assert (status, delay) == (200, 0.2)
    models = json.loads(body)["models"]
    assert len([m for m in models.values() if "quotaInfo" in m]) == 5
    assert up.accounts[0].calls["fetchAvailableModels"] == 1
    assert up.accounts[1].calls["fetchAvailableModels"] == 0
    wrong_project = parse_request(POST.replace(b"0001\"}", b"0002\"}"))
    assert wrong_project is not None and up.answer(wrong_project[0])[0] == 403
    stranger = parse_request(POST.replace(b"lean-0001", b"lean-9999"))
    assert stranger is not None and up.answer(stranger[0])[0] == 401
    assert up.unknown == 1
    calls = parse_request(b"GET /_lean/calls HTTP/1.1\r\n\r\n")
    assert calls is not None
    status, body, delay = up.answer(calls[0])
    assert (status, delay) == (200, 0.0)
    assert json.loads(body)["accounts"]["lean-0001"]["fetchAvailableModels"] == 2
    reset = parse_request(b"POST /_lean/reset HTTP/1.1\r\n\r\n")
    assert reset is not None and up.answer(reset[0])[0] == 200
    assert up.accounts[0].calls["fetchAvailableModels"] == 0 and up.unknown == 0


def test_the_token_endpoint_trades_a_refresh_token_for_the_accounts_access_token() -> None:
    up = _upstream()
    form = b"grant_type=refresh_token&refresh_token=1%2F%2Flean-0002&client_id=c"
    parsed = parse_request(b"POST /token HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s"
                           % (len(form), form))
    assert parsed is not None
    status, body, _ = up.answer(parsed[0])
    assert status == 200 and json.loads(body)["access_token"] == "ya29.lean-0002"
    assert up.accounts[1].calls["token"] == 1


def test_changing_accounts_answer_new_bytes_every_time_and_the_others_the_same() -> None:
    changing, still = build_accounts(2, 0.5, time.time())
    assert changing.changes and not still.changes
    for method in ("fetchAvailableModels", "retrieveUserQuotaSummary"):
        bodies = [changing.body(method) for _ in range(50)]
        assert len(set(bodies)) == 50
        assert all(json.loads(b) for b in bodies)
        assert still.body(method) == still.body(method)


def test_the_config_points_every_account_at_this_server_only() -> None:
    accounts = build_accounts(2, 0.0, time.time())
    config = exporter_config("http://127.0.0.1:1", accounts)
    first = config["accounts"][0]
    assert first["credentials"] == {"access_token": "ya29.lean-0001"}
    assert first["endpoints"] == ["http://127.0.0.1:1"]
    assert first["token_url"] == "http://127.0.0.1:1/token"
    refreshing = exporter_config("http://127.0.0.1:1", accounts, "refresh_token")
    assert refreshing["accounts"][1]["credentials"] == {"refresh_token": "1//lean-0002"}


def test_pipelined_requests_are_answered_in_order_after_the_latency() -> None:
    async def exchange() -> tuple[bytes, float]:
        loop = asyncio.get_running_loop()
        up = Upstream(build_accounts(1, 0.0, time.time()), latency=0.05)
        server = await loop.create_server(lambda: Connection(up, loop), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.perf_counter()
        # A slow call, then a control call answered at once: it must still come second.
        writer.write(POST + b"GET /_lean/calls HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = await reader.read()  # the server closes after the second reply
        elapsed = time.perf_counter() - started
        writer.close()
        server.close()
        await server.wait_closed()
        return data, elapsed

    data, elapsed = asyncio.run(exchange())
    assert elapsed >= 0.05
    first, second = data.split(b"HTTP/1.1 200 OK\r\n")[1:]
    assert b'"models"' in first
    assert b"Connection: close" in second and b'"fetchAvailableModels": 1' in second
