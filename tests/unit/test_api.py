"""JSON API handlers: schema, filters, errors, and the refresh rate limit."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from exporter.server.api import (
    VIEW_MAX_AGE,
    RefreshLimiter,
    Response,
    handle_quota,
    handle_refresh,
)
from exporter.snapshot import Snapshot
from exporter.views.document import to_json
from tests.view_samples import NOW, FakeEngine, sample_snapshot


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def body(response: Response) -> Any:
    return json.loads(response.body)


def header(response: Response, name: str) -> str | None:
    values = [v for k, v in response.headers if k.lower() == name.lower()]
    assert len(values) <= 1, f"{name} given {len(values)} times"
    return values[0] if values else None


def names(response: Response) -> list[str]:
    return [a["account"] for a in body(response)["accounts"]]


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine(
        sample_snapshot(),
        providers={"work": "antigravity", "personal": "antigravity", "team-ci": "gemini-cli"},
    )


# --- GET /api/v1/quota -------------------------------------------------------------


def test_quota_returns_the_snapshot_schema(engine: FakeEngine) -> None:
    response = handle_quota("GET", {}, engine, 7.5)
    assert response.status == 200
    assert header(response, "Content-Type") == "application/json"
    assert header(response, "Cache-Control") == "no-store"
    assert body(response) == json.loads(json.dumps(to_json(engine.snapshot)))
    assert engine.calls == [
        {"timeout": 7.5, "accounts": None, "force": False, "max_age": VIEW_MAX_AGE}]
    assert VIEW_MAX_AGE == 30.0


def test_quota_models_carry_own_and_effective_numbers_and_failure_has_reason(
    engine: FakeEngine,
) -> None:
    doc = body(handle_quota("GET", {}, engine, None))
    assert doc["schema_version"] == 2
    work, personal, failed = doc["accounts"]
    models = {m["model"]: m for m in work["models"]}
    opus = models["claude-opus-4-5-thinking"]
    assert (opus["remaining_fraction"], opus["fraction_omitted"]) == (None, True)
    # No number of its own; its empty 5-hour pool says 0.
    assert (opus["effective_remaining_fraction"], opus["unknown_reason"]) == (0.0, None)
    assert opus["binding_limit"]["window"] == "5h"
    assert models["gemini-3-pro-high"]["remaining_fraction"] == 0.7829875
    sonnet = models["claude-sonnet-4-5"]
    assert (sonnet["remaining_fraction"], sonnet["effective_remaining_fraction"]) == (0.12, 0.0)
    assert sonnet["binding_limit"]["kind"] == "pool"
    assert (sonnet["binding_limit"]["pool"], sonnet["binding_limit"]["window"]) == (
        "claude-gpt", "5h")
    assert sonnet["pools"] == ["claude-gpt"]
    assert [s["source"] for s in work["sources"]] == ["models", "summary"]
    assert all(s["up"] for s in work["sources"])
    assert personal["models"][1]["reset"] == {"unix": None, "rfc3339": None}
    assert failed["up"] is False
    assert failed["error"] == {
        "reason": "auth",
        "message": "token refresh failed: invalid_grant (refresh token revoked; log in again)",
    }
    assert failed["models"] == [] and failed["pools"] == []
    assert [(s["source"], s["up"], s["error"]["reason"]) for s in failed["sources"]] == [
        ("models", False, "auth"), ("summary", False, "auth")]


def test_quota_says_which_source_failed_and_why() -> None:
    from tests.view_samples import partial_account

    doc = body(handle_quota("GET", {}, FakeEngine(Snapshot(accounts=(partial_account(),),
                                                           taken_at=0.0)), None))
    (work,) = doc["accounts"]
    assert work["up"] is False and work["pools_known"] is False
    assert [(s["source"], s["up"]) for s in work["sources"]] == [
        ("models", True), ("summary", False)]
    assert work["sources"][1]["error"]["reason"] == "rate_limited"
    pro = next(m for m in work["models"] if m["model"] == "gemini-3-pro-high")
    assert pro["remaining_fraction"] == 0.7829875
    assert pro["effective_remaining_fraction"] is None and pro["binding_limit"] is None


def test_quota_account_filter_fetches_only_those(engine: FakeEngine) -> None:
    response = handle_quota("GET", {"account": ["personal", "work"]}, engine, None)
    assert response.status == 200
    assert names(response) == ["work", "personal"]
    assert engine.calls[-1]["accounts"] == ["work", "personal"]


def test_quota_provider_filter_fetches_only_that_provider(engine: FakeEngine) -> None:
    response = handle_quota("GET", {"provider": ["gemini-cli"]}, engine, None)
    assert names(response) == ["team-ci"]
    assert engine.calls[-1]["accounts"] == ["team-ci"]


def test_quota_provider_and_account_filters_combine(engine: FakeEngine) -> None:
    query = {"provider": ["antigravity"], "account": ["work", "team-ci"]}
    assert names(handle_quota("GET", query, engine, None)) == ["work"]


def test_quota_unknown_provider_is_an_empty_list_without_fetching(engine: FakeEngine) -> None:
    response = handle_quota("GET", {"provider": ["codex"]}, engine, None)
    assert response.status == 200
    assert body(response)["accounts"] == []
    assert engine.calls[-1]["accounts"] == []


def test_quota_unknown_account_is_404_naming_it(engine: FakeEngine) -> None:
    response = handle_quota("GET", {"account": ["work", "nope"]}, engine, None)
    assert response.status == 404
    error = body(response)["error"]
    assert error["code"] == 404
    assert error["message"] == "unknown account 'nope' (configured: work, personal, team-ci)"
    assert engine.calls == []


def test_quota_unknown_parameter_is_400(engine: FakeEngine) -> None:
    response = handle_quota("GET", {"acount": ["work"]}, engine, None)
    assert response.status == 400
    assert "unknown query parameter 'acount'" in body(response)["error"]["message"]
    assert engine.calls == []


def test_quota_empty_parameter_is_400(engine: FakeEngine) -> None:
    response = handle_quota("GET", {"account": [""]}, engine, None)
    assert response.status == 400
    assert body(response)["error"]["message"] == "query parameter 'account' must not be empty"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_quota_wrong_method_is_405_with_allow(engine: FakeEngine, method: str) -> None:
    response = handle_quota(method, {}, engine, None)
    assert response.status == 405
    assert header(response, "Allow") == "GET, HEAD"
    assert body(response)["error"]["code"] == 405
    assert engine.calls == []


def test_quota_head_is_allowed(engine: FakeEngine) -> None:
    assert handle_quota("HEAD", {}, engine, None).status == 200


def test_responses_leave_content_length_to_the_router(engine: FakeEngine) -> None:
    for response in (
        handle_quota("GET", {}, engine, None),
        handle_quota("GET", {"account": ["x"]}, engine, None),
    ):
        assert header(response, "Content-Length") is None


# --- POST /api/v1/refresh ------------------------------------------------------------


def test_refresh_forces_a_fetch_of_one_account(engine: FakeEngine) -> None:
    limiter = RefreshLimiter(clock=FakeClock())
    response = handle_refresh("POST", {"account": ["personal"]}, engine, limiter, 4.0)
    assert response.status == 200
    assert engine.calls == [{"timeout": 4.0, "accounts": ["personal"], "force": True}]
    doc = body(response)
    assert doc["schema_version"] == 2
    assert names(response) == ["personal"]
    assert doc["accounts"][0]["models"][0]["remaining_fraction"] == 0.08


def test_refresh_of_a_failing_account_is_200_with_the_error(engine: FakeEngine) -> None:
    limiter = RefreshLimiter(clock=FakeClock())
    response = handle_refresh("POST", {"account": ["team-ci"]}, engine, limiter, None)
    assert response.status == 200
    assert body(response)["accounts"][0]["error"]["reason"] == "auth"


def test_refresh_without_account_is_400(engine: FakeEngine) -> None:
    response = handle_refresh("POST", {}, engine, RefreshLimiter(), None)
    assert response.status == 400
    assert body(response)["error"] == {
        "code": 400,
        "message": "query parameter 'account' is required",
    }
    assert engine.calls == []


def test_refresh_of_two_accounts_at_once_is_400(engine: FakeEngine) -> None:
    query = {"account": ["work", "personal"]}
    response = handle_refresh("POST", query, engine, RefreshLimiter(), None)
    assert response.status == 400
    assert "exactly one" in body(response)["error"]["message"]


def test_refresh_unknown_account_is_404_and_uses_no_slot(engine: FakeEngine) -> None:
    limiter = RefreshLimiter(clock=FakeClock())
    response = handle_refresh("POST", {"account": ["ghost"]}, engine, limiter, None)
    assert response.status == 404
    assert "unknown account 'ghost'" in body(response)["error"]["message"]
    assert limiter.acquire("ghost") == 0.0  # the 404 did not take the slot
    assert engine.calls == []


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT"])
def test_refresh_wrong_method_is_405_allow_post(engine: FakeEngine, method: str) -> None:
    response = handle_refresh(method, {"account": ["work"]}, engine, RefreshLimiter(), None)
    assert response.status == 405
    assert header(response, "Allow") == "POST"
    assert engine.calls == []


def test_refresh_again_too_soon_is_429_with_retry_after(engine: FakeEngine) -> None:
    clock = FakeClock()
    limiter = RefreshLimiter(min_gap=5.0, clock=clock)
    query = {"account": ["work"]}
    assert handle_refresh("POST", query, engine, limiter, None).status == 200
    clock.now += 1.2
    limited = handle_refresh("POST", query, engine, limiter, None)
    assert limited.status == 429
    assert header(limited, "Retry-After") == "4"  # 3.8s left, rounded up
    error = body(limited)["error"]
    assert error["code"] == 429
    assert error["message"] == "account 'work' was refreshed less than 5s ago; retry in 4s"
    assert len(engine.calls) == 1
    clock.now += 3.8
    assert handle_refresh("POST", query, engine, limiter, None).status == 200
    assert len(engine.calls) == 2


def test_rate_limit_is_per_account(engine: FakeEngine) -> None:
    limiter = RefreshLimiter(clock=FakeClock())
    assert handle_refresh("POST", {"account": ["work"]}, engine, limiter, None).status == 200
    assert handle_refresh("POST", {"account": ["personal"]}, engine, limiter, None).status == 200


def test_retry_after_rounds_up_to_whole_seconds(engine: FakeEngine) -> None:
    clock = FakeClock()
    limiter = RefreshLimiter(min_gap=5.0, clock=clock)
    query = {"account": ["work"]}
    assert handle_refresh("POST", query, engine, limiter, None).status == 200
    clock.now += 0.001
    assert header(handle_refresh("POST", query, engine, limiter, None), "Retry-After") == "5"
    clock.now += 4.99
    # 0.009s left: never "0", which would invite an immediate retry.
    assert header(handle_refresh("POST", query, engine, limiter, None), "Retry-After") == "1"


def test_limiter_lets_one_of_many_simultaneous_requests_through() -> None:
    limiter = RefreshLimiter(min_gap=5.0, clock=FakeClock())
    results: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        got = limiter.acquire("work")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[0] == 0.0
    assert [r for r in results if r == 0.0] == [0.0]
    assert all(r == 5.0 for r in results if r)


def test_refresh_limit_defaults_to_30s() -> None:
    clock = FakeClock()
    limiter = RefreshLimiter(clock=clock)
    assert limiter.acquire("work") == 0.0
    clock.now += 29.5
    assert limiter.acquire("work") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("work") == 0.0


def test_refresh_limit_follows_a_changing_interval_and_zero_turns_it_off(
    engine: FakeEngine,
) -> None:
    clock, gap = FakeClock(), [10.0]
    limiter = RefreshLimiter(lambda: gap[0], clock=clock)
    query = {"account": ["work"]}
    assert handle_refresh("POST", query, engine, limiter, None).status == 200
    clock.now += 4.0
    limited = handle_refresh("POST", query, engine, limiter, None)
    assert (limited.status, header(limited, "Retry-After")) == (429, "6")
    assert "less than 10s ago" in body(limited)["error"]["message"]
    gap[0] = 0.0  # refresh_interval: 0s, e.g. after a reload
    for _ in range(3):
        assert handle_refresh("POST", query, engine, limiter, None).status == 200
    assert len(engine.calls) == 4


def test_limiter_rejects_negative_gap() -> None:
    with pytest.raises(ValueError, match="min_gap must be >= 0"):
        RefreshLimiter(min_gap=-1)


def test_sample_times_are_rfc3339(engine: FakeEngine) -> None:
    doc = body(handle_quota("GET", {}, engine, None))
    assert doc["taken_at"] == {"unix": NOW, "rfc3339": "2026-11-28T18:50:00Z"}


def test_the_landing_page_takes_the_same_filters_as_the_api(engine: FakeEngine) -> None:
    from exporter.server.app import ExporterApp

    app = ExporterApp(engine)  # type: ignore[arg-type]

    def get(query: str) -> Response:
        return app.route({"PATH_INFO": "/", "REQUEST_METHOD": "GET", "QUERY_STRING": query})

    page = get("account=personal").body.decode()
    assert "<h2>personal" in page and "<h2>work" not in page
    assert engine.calls[-1] == {"timeout": None, "accounts": ["personal"], "force": False,
                                "max_age": VIEW_MAX_AGE}
    everything = get("").body.decode()
    assert "<h2>work" in everything and "<h2>team-ci" in everything
    unknown = get("account=nobody")
    assert unknown.status == 404 and b"unknown account 'nobody'" in unknown.body
    assert get("acount=work").status == 400
