"""The fetch loop: one asyncio event loop, on its own thread, for every upstream call.

Every account's calls are coroutines on this loop, all in flight at once, bounded
by the transport's connections per host rather than by threads. Callers on other
threads (the HTTP server's scrape threads, the CLI, tests) hand it a coroutine and
wait for its result with `run`, or get a `concurrent.futures.Future` with `submit`.

The little blocking work left (an OAuth token refresh through `requests`, at most
every hour per account) runs on the loop's default executor, a few threads that
start only when needed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Threads for blocking steps (token refreshes); they start only when one is needed.
BLOCKING_THREADS = 4


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop (libuv) where it is installed, else asyncio's own: the same
    semantics, a third of the loop's CPU per call."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without uvloop wheels
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class FetchLoop:
    """An event loop running on a daemon thread until `close`."""

    def __init__(self, name: str = "fetch-loop") -> None:
        self.loop = new_event_loop()
        self.loop.set_default_executor(
            cf.ThreadPoolExecutor(max_workers=BLOCKING_THREADS, thread_name_prefix="blocking")
        )
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            try:
                # As asyncio.run ends: fetches still in flight are cancelled and
                # allowed to finish, so none is destroyed while pending.
                pending = asyncio.all_tasks(self.loop)
                for task in pending:
                    task.cancel()
                if pending:
                    self.loop.run_until_complete(
                        asyncio.gather(*pending, return_exceptions=True))
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
            finally:
                self.loop.close()

    def on_loop(self) -> bool:
        """True when called from the loop's own thread."""
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> cf.Future[T]:
        """Schedule `coro` on the loop from any other thread."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """`coro`'s result, waited for on the calling thread (never the loop's own:
        that would wait for ever)."""
        if self.on_loop():
            coro.close()
            raise RuntimeError("FetchLoop.run called on the fetch loop itself; await instead")
        return self.submit(coro).result(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the loop and join its thread; idempotent."""
        if self.loop.is_closed() or not self._thread.is_alive():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.on_loop():
            self._thread.join(timeout)
