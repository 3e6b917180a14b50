"""The fetch engine with in-process fake providers: concurrency, deadlines, sharing."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from exporter.config import AccountConfig, Config, Credentials, Secret
from exporter.fetch import FetchEngine
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    FetchError,
    ModelQuota,
    Reason,
    Snapshot,
)
from exporter.upstream.transport import HttpClients


class FakeProvider:
    name = "antigravity"

    def __init__(self, account: AccountConfig, behaviour: dict[str, Any]) -> None:
        self.account = account
        self.behaviour = behaviour
        self.calls = 0
        self.lock = threading.Lock()

    async def fetch(self, deadline: float) -> AccountData:
        with self.lock:
            self.calls += 1
        b = self.behaviour.get(self.account.name, {})
        sleep = b.get("sleep", 0.0)
        if sleep:
            # Like the real client: never past the deadline.
            await asyncio.sleep(max(0.0, min(sleep, deadline - time.monotonic())))
            if time.monotonic() >= deadline:
                raise FetchError(Reason.TIMEOUT, "slow")
        if "hang" in b:  # a call that ignores the deadline, then gives up
            await asyncio.sleep(b["hang"])
            raise FetchError(Reason.TIMEOUT, "hung")
        if "error" in b:
            raise b["error"]
        if "crash" in b:
            raise KeyError("boom")
        return AccountData(
            info=AccountInfo(tier="g1-pro-tier", tier_name="Google AI Pro",
                             project="proj-1", email="someone@example.com"),
            models=(ModelQuota("m1", "M1", "google", b.get("fraction", 0.5),
                               b.get("reset", 2e9)),),
        )


def make_engine(
    names: list[str], behaviour: dict[str, Any] | None = None,
    clock: Callable[[], float] = time.time, **account_kw: Any
) -> tuple[FetchEngine, dict[str, FakeProvider]]:
    behaviour = {} if behaviour is None else behaviour
    providers: dict[str, FakeProvider] = {}

    def factory(acc: AccountConfig, clients: HttpClients) -> FakeProvider:
        providers[acc.name] = FakeProvider(acc, behaviour)
        return providers[acc.name]

    accounts = tuple(
        AccountConfig(name=n, provider="antigravity",
                      credentials=Credentials(kind="access_token", secret=Secret("x")),
                      **account_kw)
        for n in names
    )
    engine = FetchEngine(Config(accounts=accounts, concurrency=16), provider_factory=factory,
                         clock=clock)
    return engine, providers


def test_failed_account_does_not_hide_others() -> None:
    engine, _ = make_engine(["a", "b", "c"], {"b": {"error": FetchError(Reason.AUTH, "dead")}})
    snap = engine.collect()
    by = {a.account: a for a in snap.accounts}
    assert by["a"].up and by["c"].up
    assert not by["b"].up and by["b"].data is None
    assert by["b"].error is not None and by["b"].error.reason is Reason.AUTH
    assert by["b"].errors_total == {"auth": 1}
    engine.close()


def test_accounts_are_fetched_concurrently() -> None:
    names = [f"acc{i}" for i in range(8)]
    engine, _ = make_engine(names, {n: {"sleep": 0.3} for n in names})
    start = time.monotonic()
    snap = engine.collect()
    elapsed = time.monotonic() - start
    assert all(a.up for a in snap.accounts)
    assert elapsed < 0.3 * 3  # sequential would be 2.4 s
    engine.close()


def test_hung_account_is_timed_out_at_the_deadline_and_others_served() -> None:
    engine, _ = make_engine(["ok", "hung"], {"hung": {"sleep": 30}})
    start = time.monotonic()
    snap = engine.collect(timeout=0.5)
    elapsed = time.monotonic() - start
    by = {a.account: a for a in snap.accounts}
    assert by["ok"].up
    assert not by["hung"].up
    assert by["hung"].error is not None and by["hung"].error.reason is Reason.TIMEOUT
    assert elapsed < 0.5 + 0.3
    engine.close()


def test_concurrent_collects_share_one_in_flight_fetch() -> None:
    engine, providers = make_engine(["a"], {"a": {"sleep": 0.4}})
    results = []
    threads = [threading.Thread(target=lambda: results.append(engine.collect())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert providers["a"].calls == 1
    assert all(r.accounts[0].up for r in results)
    engine.close()


def test_min_interval_reuses_a_result_and_force_bypasses_it() -> None:
    engine, providers = make_engine(["a"], min_interval=60.0)
    first = engine.collect()
    second = engine.collect()
    assert providers["a"].calls == 1
    assert not first.accounts[0].cached and second.accounts[0].cached
    engine.collect(force=True)
    assert providers["a"].calls == 2
    engine.close()


def test_without_min_interval_every_collect_fetches() -> None:
    engine, providers = make_engine(["a"])
    engine.collect()
    engine.collect()
    assert providers["a"].calls == 2
    engine.close()


def test_email_and_project_are_dropped_unless_opted_in() -> None:
    engine, _ = make_engine(["a"])
    info = engine.collect().accounts[0].data.info  # type: ignore[union-attr]
    assert info.email is None and info.project is None
    engine.close()
    engine, _ = make_engine(["a"], expose_email=True, expose_project=True)
    info = engine.collect().accounts[0].data.info  # type: ignore[union-attr]
    assert info.email == "someone@example.com" and info.project == "proj-1"
    engine.close()


def test_unexpected_exception_is_reason_internal_and_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine, _ = make_engine(["a", "b"], {"a": {"crash": True}})
    with caplog.at_level(logging.ERROR):
        by = {a.account: a for a in engine.collect().accounts}
    assert not by["a"].up and by["a"].error is not None
    assert by["a"].error.reason is Reason.INTERNAL
    assert "KeyError" in by["a"].error.message
    assert by["a"].errors_total == {"internal": 1}
    assert by["b"].up
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    engine.close()


def test_last_success_survives_a_later_failure() -> None:
    behaviour: dict[str, Any] = {}
    engine, _ = make_engine(["a"], behaviour)
    ok = engine.collect().accounts[0]
    behaviour["a"] = {"error": FetchError(Reason.UPSTREAM, "500")}
    failed = engine.collect().accounts[0]
    assert not failed.up
    assert failed.last_success == ok.last_success is not None
    engine.close()


def test_collect_selected_accounts_only() -> None:
    engine, providers = make_engine(["a", "b"])
    snap = engine.collect(accounts=["b", "nope"])
    assert [a.account for a in snap.accounts] == ["b"]
    assert providers["a"].calls == 0
    engine.close()


def test_reload_keeps_state_of_unchanged_accounts() -> None:
    engine, providers = make_engine(["a", "b"], min_interval=60.0)
    engine.collect()
    old_a = providers["a"]
    accounts = tuple(
        AccountConfig(name=n, provider="antigravity",
                      credentials=Credentials(kind="access_token", secret=Secret("x")),
                      min_interval=60.0)
        for n in ["a", "c"]
    )
    engine.reload(Config(accounts=accounts, concurrency=16))
    snap = engine.collect()
    assert [a.account for a in snap.accounts] == ["a", "c"]
    assert snap.accounts[0].cached  # a's cache survived
    assert old_a.calls == 1
    engine.close()


def test_failing_account_backs_off_exponentially_but_first_failure_retries_at_once() -> None:
    clock = [1000.0]
    behaviour: dict[str, Any] = {"a": {"error": FetchError(Reason.UPSTREAM, "500")}}
    providers: dict[str, FakeProvider] = {}

    def factory(acc: AccountConfig, clients: HttpClients) -> FakeProvider:
        providers[acc.name] = FakeProvider(acc, behaviour)
        return providers[acc.name]

    acc = AccountConfig(name="a", provider="antigravity",
                        credentials=Credentials(kind="access_token", secret=Secret("x")))
    engine = FetchEngine(Config(accounts=(acc,)), clock=lambda: clock[0],
                         provider_factory=factory)
    engine.collect()
    engine.collect()  # first failure: retried at once
    assert providers["a"].calls == 2
    cached = engine.collect()  # two in a row: backing off ~2 s
    assert providers["a"].calls == 2
    assert cached.accounts[0].cached and not cached.accounts[0].up
    clock[0] += 2.5
    engine.collect()
    assert providers["a"].calls == 3
    behaviour.clear()
    clock[0] += 4.9  # 3 failures: ~4 s (+-20%)
    assert engine.collect().accounts[0].up
    engine.close()


def test_retry_after_from_upstream_sets_the_minimum_backoff() -> None:
    from exporter.fetch import BACKOFF_MAX, backoff_delay

    assert backoff_delay(1, 42.0, 0.0) == 42.0
    assert backoff_delay(30, None, 1.0) == BACKOFF_MAX
    assert 1.6 <= backoff_delay(2, None, 0.0) <= 2.4


def test_max_age_reuses_a_result_that_min_interval_would_refetch() -> None:
    clock = [1000.0]
    providers: dict[str, FakeProvider] = {}

    def factory(acc: AccountConfig, clients: HttpClients) -> FakeProvider:
        providers[acc.name] = FakeProvider(acc, {})
        return providers[acc.name]

    acc = AccountConfig(name="a", provider="antigravity", min_interval=5.0,
                        credentials=Credentials(kind="access_token", secret=Secret("x")))
    engine = FetchEngine(Config(accounts=(acc,)), clock=lambda: clock[0],
                         provider_factory=factory)
    engine.collect()
    clock[0] += 29.9
    assert engine.collect(max_age=30.0).accounts[0].cached
    assert providers["a"].calls == 1
    assert not engine.collect().accounts[0].cached  # a scrape: min_interval (5 s) passed
    assert providers["a"].calls == 2
    clock[0] += 4.0
    assert engine.collect(max_age=0.0).accounts[0].cached  # min_interval still wins
    clock[0] += 26.1
    assert not engine.collect(max_age=30.0).accounts[0].cached
    assert providers["a"].calls == 3
    engine.close()


def test_max_age_never_refetches_a_failed_account_inside_its_backoff() -> None:
    clock = [1000.0]
    behaviour: dict[str, Any] = {"a": {"error": FetchError(Reason.UPSTREAM, "500",
                                                           retry_after=60.0)}}
    providers: dict[str, FakeProvider] = {}

    def factory(acc: AccountConfig, clients: HttpClients) -> FakeProvider:
        providers[acc.name] = FakeProvider(acc, behaviour)
        return providers[acc.name]

    acc = AccountConfig(name="a", provider="antigravity",
                        credentials=Credentials(kind="access_token", secret=Secret("x")))
    engine = FetchEngine(Config(accounts=(acc,)), clock=lambda: clock[0],
                         provider_factory=factory)
    engine.collect()
    clock[0] += 45.0  # older than max_age, still inside the 60 s retry-after
    assert engine.collect(max_age=30.0).accounts[0].cached
    assert providers["a"].calls == 1
    engine.close()


def test_a_timeout_is_counted_once_per_fetch_however_many_scrapes_joined_it() -> None:
    # min_interval: the last collect below reuses the hung fetch's own result.
    engine, providers = make_engine(["a", "b"], {"a": {"hang": 0.6}}, min_interval=60.0)
    results: list[Snapshot] = []
    threads = [threading.Thread(target=lambda: results.append(engine.collect(timeout=0.2)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert providers["a"].calls == 1
    for snap in results:
        by = {a.account: a for a in snap.accounts}
        assert by["a"].error is not None and by["a"].error.reason is Reason.TIMEOUT
        assert by["a"].errors_total == {"timeout": 1}
        assert by["b"].up
    # The hung call ends with its own timeout, the same event. Until it ends, a scrape
    # joins it (and counts nothing); then the next one reuses its result.
    end = time.monotonic() + 5
    while not (later := engine.collect(timeout=0.2, accounts=["a"]).accounts[0]).cached:
        assert time.monotonic() < end, "the hung call never ended"
    assert later.error is not None and later.error.message == "hung"
    assert later.errors_total == {"timeout": 1} and providers["a"].calls == 1
    engine.close()


# --- unchanged replies keep their AccountData object (the exposition reuses its lines) --


def test_data_that_says_the_same_again_is_the_same_object() -> None:
    engine, providers = make_engine(["a", "b"])
    first = {a.account: a.data for a in engine.collect().accounts}
    providers["b"].behaviour["b"] = {"fraction": 0.25}  # b's reply changes, a's does not
    second = {a.account: a.data for a in engine.collect().accounts}
    assert providers["a"].calls == 2 and providers["b"].calls == 2
    assert second["a"] is first["a"]
    assert second["b"] is not first["b"]
    assert second["b"] is not None and second["b"].models[0].remaining_fraction == 0.25
    engine.close()


def test_a_reset_that_passed_between_two_fetches_gives_new_data_judged_at_the_new_time() -> None:
    """A reset time in the past is no evidence, so data whose reset passed since it was
    judged is judged again, even when upstream said the same bytes."""
    now = [1000.0]
    engine, _ = make_engine(["a"], {"a": {"reset": 1100.0}}, clock=lambda: now[0])
    first = engine.collect().accounts[0].data
    now[0] = 1050.0  # the reset is still ahead: the same object, judged at 1000
    second = engine.collect().accounts[0].data
    now[0] = 1200.0  # the reset passed
    third = engine.collect().accounts[0].data
    assert first is not None and third is not None
    assert second is first and first.as_of == 1000.0
    assert third is not first and third.as_of == 1200.0
    engine.close()


def test_unchanged_compares_everything_but_the_time() -> None:
    from dataclasses import replace

    from exporter.fetch import unchanged

    old = AccountData(info=AccountInfo("t", ""), as_of=10.0,
                      models=(ModelQuota("m1", "M1", "google", 0.5, 2e9),))
    assert unchanged(old, replace(old, as_of=20.0)) is old
    other = replace(old, as_of=20.0, info=AccountInfo("t2", ""))
    assert unchanged(old, other) is other
    fresh = replace(old, as_of=None)  # never judged: nothing to keep
    assert unchanged(old, fresh) is fresh


def test_a_fetch_that_ignores_its_deadline_is_cancelled_a_grace_after_it() -> None:
    """A provider stuck past its deadline (a refresh on a blocking thread, a bug) is
    cancelled _CANCEL_GRACE after it; the account then says so, and the next scrape
    fetches again instead of joining the stuck fetch for ever."""
    from exporter import fetch

    engine, providers = make_engine(["a"], {"a": {"hang": 30}})
    started = time.monotonic()
    first = engine.collect(timeout=0.2).accounts[0]
    assert first.error is not None and first.error.reason is Reason.TIMEOUT
    # Until the grace has passed, a scrape joins the stuck fetch.
    assert engine.collect(timeout=0.1).accounts[0].error is not None
    assert providers["a"].calls == 1
    deadline = time.monotonic() + 5
    while providers["a"].calls < 2 and time.monotonic() < deadline:
        snap = engine.collect(timeout=0.1).accounts[0]
    assert providers["a"].calls == 2  # the stuck fetch ended, a new one began
    assert time.monotonic() - started >= 0.2 + fetch._CANCEL_GRACE
    # One timeout per fetch: the cancelled one was already counted by its scrape.
    assert snap.errors_total == {"timeout": 2}
    engine.close()
