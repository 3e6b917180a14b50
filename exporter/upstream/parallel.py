"""Run an account's source calls side by side, so a fetch costs one round trip.

The first call runs in the caller's thread; the others on a shared pool that only
ever runs these leaf calls (never anything that waits on the pool itself), so it
cannot deadlock however many accounts fetch at once. Threads start only as needed.

>>> side_by_side({"a": lambda: 1, "b": lambda: 2})
{'a': 1, 'b': 2}
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

from exporter.snapshot import FetchError, Reason

log = logging.getLogger(__name__)

T = TypeVar("T")
# For the benchmark's side-by-side vs one-after-the-other comparison only
# (docs/benchmarks.md): "1" runs an account's sources in series.
SERIES_ENV = "LLM_QUOTA_EXPORTER_SOURCES_IN_SERIES"
# Enough for 100 accounts' second source at once; more just queue briefly.
MAX_THREADS = 128

_pool: cf.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> cf.ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = cf.ThreadPoolExecutor(max_workers=MAX_THREADS, thread_name_prefix="source")
        return _pool


def _guarded(name: str, call: Callable[[], T]) -> T | FetchError:
    try:
        return call()
    except FetchError as exc:
        return exc
    except Exception as exc:  # a bug of ours must cost one source, not the account
        log.error("unexpected error in a source call", exc_info=True,
                  extra={"kv": {"source": name}})
        return FetchError(Reason.INTERNAL, f"{name}: unexpected error ({type(exc).__name__})")


def side_by_side(calls: Mapping[str, Callable[[], T]]) -> dict[str, T | FetchError]:
    """Each call's result, or the FetchError it raised, by name (in the given order).

    Every call must bound itself (the upstream client enforces the fetch deadline),
    so waiting for all of them is bounded too.
    """
    names = list(calls)
    if not names:
        return {}
    if os.environ.get(SERIES_ENV) == "1":
        return {n: _guarded(n, calls[n]) for n in names}
    futures = {n: _shared_pool().submit(_guarded, n, calls[n]) for n in names[1:]}
    results: dict[str, T | FetchError] = {names[0]: _guarded(names[0], calls[names[0]])}
    for name, future in futures.items():
        results[name] = future.result()
    return {n: results[n] for n in names}
