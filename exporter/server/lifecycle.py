"""Config reloads and the main loop: SIGHUP, SIGTERM and SIGINT, and POST /-/reload.

Reloads are serialized by one lock, whichever way they arrive, so an HTTP reload
and a SIGHUP never interleave and the last one to run has read the newest file.
A signal handler only sets a flag: the main thread does the reload, so a handler
never waits on a lock held by the code it interrupted.
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

from exporter.config import ConfigError, load_config
from exporter.fetch import FetchEngine

log = logging.getLogger("exporter")

# How often the main loop looks at the signal flags: the latency of a SIGHUP.
POLL_INTERVAL = 0.1


class Reloader:
    """Re-reads the config file and swaps it into the engine, one reload at a time."""

    def __init__(self, config_file: str | Path, engine: FetchEngine) -> None:
        self.config_file = str(config_file)
        self._engine = engine
        self._lock = threading.Lock()

    def __call__(self) -> str:
        """The answer for POST /-/reload; raises ConfigError (logged) for a bad file."""
        with self._lock:
            log.debug("reloading config", extra={"kv": {"file": self.config_file}})
            try:
                new = load_config(self.config_file)
            except ConfigError as exc:
                for line in exc.lines():
                    log.error("reload refused; old config keeps serving",
                              extra={"kv": {"problem": line}})
                raise
            self._engine.reload(new)
            log.info("config reloaded", extra={"kv": {"accounts": str(len(new.accounts))}})
            return f"Reloaded: {len(new.accounts)} account(s)."


class MainLoop:
    """Runs in the main thread until SIGTERM or SIGINT; SIGHUP reloads.

    Without a reloader (the demo) SIGHUP stops, as a hangup does by default.
    """

    def __init__(self, reloader: Callable[[], str] | None) -> None:
        self._reloader = reloader
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
        while not self._stop:
            if self._hangup:
                self._hangup = False  # a SIGHUP during the reload asks for another
                with contextlib.suppress(ConfigError):  # logged; the old config serves
                    assert self._reloader is not None
                    self._reloader()
            else:
                time.sleep(POLL_INTERVAL)
