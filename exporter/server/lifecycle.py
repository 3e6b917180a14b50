"""Config reloads and the main loop: SIGHUP, SIGTERM and SIGINT, POST /-/reload, and
the periodic look for newly signed-in accounts when serving discovered ones.

Reloads and re-scans are serialized by one lock, whichever way they arrive, so an
HTTP reload and a SIGHUP never interleave and the last one to run has read the
newest file. A signal handler only sets a flag: the main thread does the reload, so
a handler never waits on a lock held by the code it interrupted.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from exporter.config import ConfigError
from exporter.discovery import RESCAN_INTERVAL, ConfigSource
from exporter.fetch import FetchEngine

log = logging.getLogger("exporter")

# How often the main loop looks at the signal flags: the latency of a SIGHUP.
POLL_INTERVAL = 0.1


class Reloader:
    """Re-reads the config file (and looks for accounts again, when discovering) and
    swaps the result into the engine, one reload at a time."""

    def __init__(self, source: ConfigSource | str | Path, engine: FetchEngine) -> None:
        self.source = source if isinstance(source, ConfigSource) else ConfigSource(source)
        self._engine = engine
        self._lock = threading.Lock()

    @property
    def config_file(self) -> str:
        path = self.source.config_file
        return "(none: discovered accounts)" if path is None else str(path)

    def __call__(self) -> str:
        """The answer for POST /-/reload; raises ConfigError (logged) for a bad file."""
        with self._lock:
            log.debug("reloading config", extra={"kv": {"file": self.config_file}})
            try:
                new = self.source.load()
            except ConfigError as exc:
                for line in exc.lines():
                    log.error("reload refused; old config keeps serving",
                              extra={"kv": {"problem": line}})
                raise
            self._engine.reload(new)
            log.info("config reloaded", extra={"kv": {"accounts": str(len(new.accounts))}})
            return f"Reloaded: {len(new.accounts)} account(s)."

    def rescan(self) -> None:
        """Serve the accounts discovery finds now, if they changed (a no-op when the
        config does not discover)."""
        with self._lock:
            new = self.source.rescan()
            if new is not None:
                self._engine.reload(new)
                log.info("accounts changed", extra={"kv": {"accounts": str(len(new.accounts))}})


class MainLoop:
    """Runs in the main thread until SIGTERM or SIGINT; SIGHUP reloads; `tick` (a
    re-scan) runs every `tick_interval` seconds.

    Without a reloader (the demo) SIGHUP stops, as a hangup does by default.
    """

    def __init__(
        self,
        reloader: Callable[[], str] | None,
        tick: Callable[[], None] | None = None,
        tick_interval: float = RESCAN_INTERVAL,
    ) -> None:
        self._reloader = reloader
        self._tick = tick
        self._tick_interval = tick_interval
        # Plain attributes, not Events: Event.set() takes a lock, which a handler
        # must not do when the thread it interrupted may hold that same lock.
        self._stop = False
        self._hangup = False

    def install(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGHUP and self._reloader is not None:
            self._hangup = True
        else:
            self._stop = True

    def run(self) -> None:
        next_tick = time.monotonic() + self._tick_interval
        while not self._stop:
            if self._hangup:
                self._hangup = False  # a SIGHUP during the reload asks for another
                with contextlib.suppress(ConfigError):  # logged; the old config serves
                    assert self._reloader is not None
                    self._reloader()
            elif self._tick is not None and time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self._tick_interval
                try:
                    self._tick()
                except Exception:  # a bug here must not stop serving the accounts
                    log.exception("periodic re-scan failed")
            else:
                time.sleep(POLL_INTERVAL)
