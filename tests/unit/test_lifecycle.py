"""Reload serialization and the main loop, in process (tests/integration/test_reload.py runs them
in a real exporter)."""

from __future__ import annotations

import itertools
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import exporter.discovery.source as source_module
from exporter.config import AccountConfig, Config, Credentials, Secret
from exporter.fetch import FetchEngine
from exporter.server.lifecycle import MainLoop, Reloader


def _config(*names: str) -> Config:
    return Config(accounts=tuple(
        AccountConfig(name=n, provider="antigravity",
                      credentials=Credentials(kind="access_token", secret=Secret("x")))
        for n in names))


class _WatchedLock:
    """A lock that tells when someone had to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.someone_waited = threading.Event()

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self.someone_waited.set()
            self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_reloads_never_overlap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    configs = iter([_config("first"), _config("second")])
    active, most = [0], [0]
    count_lock = threading.Lock()
    first_inside, release = threading.Event(), threading.Event()

    def slow_load(path: str, env: object = None) -> Config:
        with count_lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        first_inside.set()
        release.wait(5)
        with count_lock:
            active[0] -= 1
        return next(configs)

    monkeypatch.setattr(source_module, "load_config", slow_load)
    engine = FetchEngine(_config("initial"))
    reloader = Reloader(tmp_path / "config.yml", engine)
    door = _WatchedLock()
    reloader._lock = door  # type: ignore[assignment]
    answers: list[str] = []
    threads = [threading.Thread(target=lambda: answers.append(reloader())) for _ in range(2)]
    threads[0].start()
    assert first_inside.wait(5)
    threads[1].start()
    assert door.someone_waited.wait(5), "the second reload never came to the lock"
    assert active[0] == 1  # it waits for the first instead of reading the file
    release.set()
    for t in threads:
        t.join(10)
    engine.close()
    assert most[0] == 1
    assert answers == ["Reloaded: 1 account(s)."] * 2
    assert engine.account_names() == ["second"]  # the reload that read last applied last


@pytest.fixture
def restore_signals() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT,
                                                    signal.SIGHUP)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _in_signal_handler() -> bool:
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "_on_signal":
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def test_sighup_during_a_reload_reloads_again_afterwards_never_inside(
    restore_signals: None,
) -> None:
    calls: list[tuple[bool, bool]] = []  # (in a signal handler, nested in another reload)
    depth = [0]

    def reloader() -> str:
        depth[0] += 1
        calls.append((_in_signal_handler(), depth[0] > 1))
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGHUP)
            # Its handler has run (the flag is set) while this reload still runs.
            end = time.monotonic() + 5
            while not loop._hangup:
                assert time.monotonic() < end, "the SIGHUP never arrived"
                time.sleep(0.01)
        elif len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        depth[0] -= 1
        return "ok"

    loop = MainLoop(reloader)
    loop.install()
    threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGHUP)).start()
    started = time.monotonic()
    loop.run()
    assert time.monotonic() - started < 5
    assert calls == [(False, False), (False, False)]


def test_without_a_reloader_sighup_stops_the_loop(restore_signals: None) -> None:
    loop = MainLoop(None)
    loop.install()
    threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGHUP)).start()
    started = time.monotonic()
    loop.run()
    assert time.monotonic() - started < 5


def test_the_periodic_tick_runs_on_time_and_a_failing_one_does_not_stop_the_loop(
    restore_signals: None, caplog: pytest.LogCaptureFixture,
) -> None:
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(time.monotonic())
        if len(ticks) == 1:
            raise RuntimeError("a bug in a re-scan")
        if len(ticks) == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    loop = MainLoop(lambda: "ok", tick=tick, tick_interval=0.3)
    loop.install()
    started = time.monotonic()
    loop.run()
    assert len(ticks) == 3
    assert ticks[0] - started >= 0.3  # not at start: the first load just looked
    assert all(b - a >= 0.3 for a, b in itertools.pairwise(ticks))
    assert "periodic re-scan failed" in caplog.text


# --- serve: two malloc arenas ------------------------------------------------------------


class _Libc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


def test_serve_asks_glibc_for_two_malloc_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    from exporter.cli.serve import M_ARENA_MAX, fewer_malloc_arenas

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    libc = _Libc()
    assert fewer_malloc_arenas(lambda: libc) is True
    assert libc.calls == [(M_ARENA_MAX, 2)] and M_ARENA_MAX == -8


def test_a_malloc_arena_max_the_user_set_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from exporter.cli.serve import fewer_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    libc = _Libc()
    assert fewer_malloc_arenas(lambda: libc) is False
    assert libc.calls == []


def test_without_glibc_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    from exporter.cli.serve import fewer_malloc_arenas

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)

    def missing() -> object:
        raise OSError("libc.so.6: cannot open shared object file")

    assert fewer_malloc_arenas(missing) is False


def test_the_real_glibc_takes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Debian's C library is glibc: the call goes through ctypes and is accepted."""
    from exporter.cli.serve import fewer_malloc_arenas

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert fewer_malloc_arenas() is True
