"""The fetch engine: every account at once on one event loop, within a deadline,
shared in flight.

`FetchEngine.collect()` is what every view calls, from any thread. For each
selected account it either reuses a result younger than `min_interval`, joins a
fetch already in flight (two Prometheus replicas scraping together cost one
upstream fetch), or starts one as a task on the fetch loop
(`exporter.upstream.loop`). Every account is in flight at once; the transport's
connections per upstream host are the only bound, so a thousand accounts cost
one loop thread, not a thousand. `collect` waits no longer than the deadline: an
account still running then is reported down with reason `timeout` while its
fetch goes on in the background, bounded by its own deadline.

An account whose replies are byte for byte the last ones gets its last
`AccountData` object back (the client reuses the parsed replies, and the engine
the data built from them), so the exposition reuses its rendered lines; only
what changed is parsed and rendered again. Worker state is touched only on the
loop, so it needs no locks.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import fields, replace

from exporter.config import AccountConfig, Config
from exporter.providers import Provider, make_provider, with_defaults
from exporter.redact import Redactor
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    AccountSnapshot,
    FetchError,
    Reason,
    Snapshot,
    SourceResult,
)
from exporter.upstream.transport import HttpClients

log = logging.getLogger(__name__)

# Waiting a hair past the deadline lets a fetch that ends exactly on it be seen.
_JOIN_GRACE = 0.05
# A fetch still running this long after its deadline is cancelled. The transport
# keeps every call within the deadline; this only bounds what it cannot (a token
# refresh on a blocking thread, a bug).
_CANCEL_GRACE = 1.0
# An account that keeps failing is retried after BACKOFF_BASE * 2^(failures-2)
# seconds (+-20% jitter), at most BACKOFF_MAX: the first failure is retried at the
# next scrape, so a blip costs nothing, while a dead account is not hammered.
BACKOFF_BASE = 2.0
BACKOFF_MAX = 300.0


def backoff_delay(failures: int, retry_after: float | None, rand: float) -> float:
    """Seconds to wait before fetching an account after `failures` in a row.

    >>> backoff_delay(1, None, 0.5), backoff_delay(3, None, 0.5), backoff_delay(1, 30.0, 0.5)
    (0.0, 4.0, 30.0)
    """
    delay = 0.0
    if failures >= 2:
        jitter = 0.8 + 0.4 * rand
        delay = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** min(failures - 2, 20) * jitter)
    return max(delay, retry_after or 0.0)


class AccountWorker:
    """One account's fetch state: last result, in-flight fetch, counters. Used on
    the fetch loop only."""

    def __init__(
        self,
        config: AccountConfig,
        provider: Provider,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.provider = provider
        self._clock = clock
        self._inflight: asyncio.Task[AccountSnapshot] | None = None
        self._inflight_deadline = 0.0  # time.monotonic()
        self._timed_out: asyncio.Task[AccountSnapshot] | None = None  # already counted
        self._cancel_at: asyncio.Task[AccountSnapshot] | None = None  # cancel scheduled
        self._overdue = False  # the in-flight fetch was cancelled past its deadline
        self._last: AccountSnapshot | None = None
        self._last_success: float | None = None
        self._errors: Counter[str] = Counter()
        self._skipped: Counter[str] = Counter()
        self._failures = 0  # in a row
        self._retry_at = 0.0  # wall clock; no new fetch before this unless forced
        # Identities seen in this account's data: masked in error text even where
        # no pattern would find them.
        self._emails: set[str] = set()
        self._projects: set[str] = {config.project} if config.project else set()

    def begin(
        self, deadline: float, force: bool, max_age: float | None = None
    ) -> AccountSnapshot | asyncio.Task[AccountSnapshot]:
        """A reusable result, or the task of the fetch that will produce one (on the
        running loop).

        A result is reused while younger than max(min_interval, max_age), and a
        failed one until its back-off has passed.
        """
        if self._inflight is not None:
            return self._inflight
        last = self._last
        now = self._clock()
        reuse_for = max(self.config.min_interval, max_age or 0.0)
        if not force and last is not None and (
            now - last.fetched_at < reuse_for
            or (last.data is None and now < self._retry_at)
        ):
            return replace(last, cached=True, errors_total=dict(self._errors),
                           skipped_total=dict(self._skipped))
        task = asyncio.get_running_loop().create_task(self._run(deadline))
        self._inflight, self._inflight_deadline, self._overdue = task, deadline, False
        return task

    def cancel_overdue(self, task: asyncio.Task[AccountSnapshot]) -> None:
        """Cancel `task` once it runs _CANCEL_GRACE past its own deadline (asked by a
        scrape that stopped waiting for it; once per fetch). The transport keeps every
        call within the deadline; this bounds what it cannot: a token refresh on a
        blocking thread, a bug."""
        if self._inflight is not task or self._cancel_at is task:
            return
        self._cancel_at = task
        loop = asyncio.get_running_loop()
        when = loop.time() + (self._inflight_deadline + _CANCEL_GRACE - time.monotonic())

        def cancel() -> None:
            if not task.done():
                self._overdue = True
                task.cancel()

        loop.call_at(when, cancel)

    def timed_out(self, budget: float, task: asyncio.Task[AccountSnapshot]) -> AccountSnapshot:
        """What a scrape reports for an account whose fetch outlived the deadline.

        The timeout is counted once per fetch, however many scrapes joined it.
        """
        if self._timed_out is not task:
            self._timed_out = task
            self._errors[Reason.TIMEOUT.value] += 1
        error = FetchError(
            Reason.TIMEOUT, f"fetch did not finish within the {budget:.1f}s deadline"
        )
        return AccountSnapshot(
            provider=self.config.provider,
            account=self.config.name,
            up=False,
            data=None,
            error=error,
            duration_seconds=budget,
            fetched_at=self._clock(),
            last_success=self._last_success,
            errors_total=dict(self._errors),
            skipped_total=dict(self._skipped),
            min_interval=self.config.min_interval,
            sources=tuple(SourceResult(s, error) for s in sorted(self.config.sources)),
        )

    def _redactor(self) -> Redactor:
        return Redactor(
            expose_email=self.config.expose_email,
            expose_project=self.config.expose_project,
            emails=self._emails,
            projects=self._projects,
        )

    async def _outcome(
        self, deadline: float
    ) -> tuple[AccountData | None, tuple[SourceResult, ...]]:
        """Call the provider: its data and per-source results, errors redacted."""
        data: AccountData | None = None
        try:
            data = await self.provider.fetch(deadline)
        except FetchError as exc:
            results = tuple(SourceResult(s, exc) for s in sorted(self.config.sources))
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or not self._overdue:
                raise
            task.uncancel()  # cancelled by `cancel_overdue`: an answer, not an end
            error = FetchError(Reason.TIMEOUT, "fetch did not finish by its deadline")
            results = tuple(SourceResult(s, error) for s in sorted(self.config.sources))
        except Exception as exc:  # a bug of ours must not kill the account loop
            log.error("unexpected error fetching an account", exc_info=True,
                      extra={"kv": {"provider": self.config.provider,
                                    "account": self.config.name}})
            error = FetchError(Reason.INTERNAL, f"unexpected error ({type(exc).__name__})")
            results = tuple(SourceResult(s, error) for s in sorted(self.config.sources))
        else:
            results = data.sources
            self._remember(data.info)
        if any(r.error is not None for r in results):
            redact = self._redactor()
            results = tuple(
                r if r.error is None else replace(r, error=_redacted(r.error, redact))
                for r in results
            )
        if data is not None and not any(r.up for r in results) and results:
            data = None  # every source failed: nothing to show
        elif data is not None:
            data = self._private(replace(data, sources=results, as_of=self._clock()))
        return data, results

    def _remember(self, info: AccountInfo) -> None:
        if info.email:
            self._emails.add(info.email)
        if info.project:
            self._projects.add(info.project)

    async def _run(self, deadline: float) -> AccountSnapshot:
        started = time.monotonic()
        data, results = await self._outcome(deadline)
        failed = [r.error for r in results if r.error is not None]
        error = failed[0] if failed else None
        duration = time.monotonic() - started
        now = self._clock()
        previous = self._last
        if data is not None and previous is not None and previous.data is not None:
            data = unchanged(previous.data, data)
        # One error shared by every source (no token, say) is one failure, and a
        # fetch whose timeout a scrape already counted is not counted again.
        already = self._timed_out is not None and self._timed_out is self._inflight
        for failure in {id(f): f for f in failed}.values():
            if not (already and failure.reason is Reason.TIMEOUT):
                self._errors[failure.reason.value] += 1
        for r in results:
            if r.skipped:
                self._skipped[r.source] += r.skipped
        if error is None:
            self._last_success = now
            self._failures = 0
        elif data is None:
            # Nothing answered: back off. A partial answer keeps the next
            # scrape fetching (a 429 already closes its host on its own).
            self._failures += 1
            retry_after = max((f.retry_after or 0.0 for f in failed), default=0.0)
            delay = backoff_delay(self._failures, retry_after or None, random.random())
            self._retry_at = now + delay
        snap = AccountSnapshot(
            provider=self.config.provider,
            account=self.config.name,
            up=error is None,
            data=data,
            error=error,
            duration_seconds=duration,
            fetched_at=now,
            last_success=self._last_success,
            errors_total=dict(self._errors),
            skipped_total=dict(self._skipped),
            min_interval=self.config.min_interval,
            sources=results,
        )
        self._last = snap
        self._inflight = None
        _log_outcome(snap, previous)
        return snap

    def _private(self, data: AccountData) -> AccountData:
        """Drop email and project unless the account opted in to exposing them."""
        info = data.info
        keep = AccountInfo(
            tier=info.tier,
            tier_name=info.tier_name,
            project=info.project if self.config.expose_project else None,
            email=info.email if self.config.expose_email else None,
        )
        return replace(data, info=keep)


_SAME_FIELDS = tuple(f.name for f in fields(AccountData) if f.name != "as_of")


def unchanged(previous: AccountData, new: AccountData) -> AccountData:
    """`previous` itself when `new` says the same and no reset time in it has passed
    since `previous` was judged (its `as_of`); else `new`.

    The same object lets the exposition reuse the lines it rendered for it. A reset
    that passed changes what the numbers mean (a reset in the past is no evidence),
    so the data is judged again at the new time.
    """
    if previous is new or previous.as_of is None or new.as_of is None:
        return new
    for name in _SAME_FIELDS:  # tuples of the very same parsed objects compare at once
        if getattr(previous, name) != getattr(new, name):
            return new
    since, now = previous.as_of, new.as_of
    resets = [m.reset_time for m in previous.models] + [p.reset_time for p in previous.pools]
    if any(r is not None and since < r <= now for r in resets):
        return new
    return previous


def _redacted(error: FetchError, redact: Redactor) -> FetchError:
    message = redact(error.message)
    if message == error.message:
        return error
    return FetchError(error.reason, message, retry_after=error.retry_after)


def _log_outcome(snap: AccountSnapshot, previous: AccountSnapshot | None) -> None:
    recovered = snap.error is None and previous is not None and not previous.up
    if snap.error is None and not recovered and not log.isEnabledFor(logging.DEBUG):
        return  # the steady state, once per account per scrape: nothing to say
    fields = {
        "provider": snap.provider,
        "account": snap.account,
        "duration": f"{snap.duration_seconds:.3f}s",
    }
    if snap.error is not None:
        same = (
            previous is not None
            and previous.error is not None
            and previous.error.message == snap.error.message
        )
        failed = ",".join(r.source for r in snap.sources if not r.up)
        fields.update(reason=snap.error.reason.value, error=snap.error.message, failed=failed)
        message = "account fetch failed" if snap.data is None else "account source failed"
        log.log(logging.DEBUG if same else logging.WARNING, message, extra={"kv": fields})
        return
    assert snap.data is not None
    fields.update(models=str(len(snap.data.models)), pools=str(len(snap.data.pools)))
    if recovered:
        log.info("account recovered", extra={"kv": fields})
    else:
        log.debug("account fetched", extra={"kv": fields})


class FetchEngine:
    """Every configured account's fetch state, and the loop their fetches run on."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        provider_factory: Callable[[AccountConfig, HttpClients], Provider] = make_provider,
    ) -> None:
        self._clock = clock
        self._factory = provider_factory
        self._clients = HttpClients.create(config.concurrency)
        self._lock = threading.Lock()  # guards the worker table, swapped by reload
        self._workers: dict[str, AccountWorker] = {}
        self.config = config
        self._install(config)

    def _install(self, config: Config) -> None:
        workers: dict[str, AccountWorker] = {}
        for account in map(with_defaults, config.accounts):
            old = self._workers.get(account.name)
            if old is not None and old.config == account:
                workers[account.name] = old  # unchanged: keep caches and counters
            else:
                provider = self._factory(account, self._clients)
                workers[account.name] = AccountWorker(account, provider, self._clock)
        with self._lock:
            self._workers = workers
            self.config = config

    def reload(self, config: Config) -> None:
        """Swap in a new config; accounts whose config is unchanged keep their state."""
        if config.concurrency != self.config.concurrency:
            log.warning("concurrency changes take effect after a restart")
        self._install(config)

    def account_names(self) -> list[str]:
        with self._lock:
            return list(self._workers)

    def collect(
        self,
        timeout: float | None = None,
        accounts: Iterable[str] | None = None,
        force: bool = False,
        max_age: float | None = None,
    ) -> Snapshot:
        """Fetch (or reuse) the selected accounts, never waiting past the deadline.

        Called from any thread but the loop's own. `timeout` caps every account's
        own `timeout`; unknown names are ignored. `max_age` lets a view reuse results
        up to that many seconds old even when `min_interval` is shorter: visitors
        read the newest snapshot, scrapes fetch.
        """
        with self._lock:
            selected = (
                list(self._workers.values())
                if accounts is None
                else [self._workers[n] for n in dict.fromkeys(accounts) if n in self._workers]
            )
        return self._clients.run(self._collect(selected, timeout, force, max_age))

    async def _collect(
        self,
        selected: list[AccountWorker],
        timeout: float | None,
        force: bool,
        max_age: float | None,
    ) -> Snapshot:
        start = time.monotonic()
        budgets: dict[str, float] = {}
        pending: dict[asyncio.Task[AccountSnapshot], AccountWorker] = {}
        results: dict[str, AccountSnapshot] = {}
        for worker in selected:
            budget = worker.config.timeout
            if timeout is not None:
                budget = max(min(timeout, budget), 0.0)
            budgets[worker.config.name] = budget
            got = worker.begin(start + budget, force, max_age)
            if isinstance(got, AccountSnapshot):
                results[worker.config.name] = got
            else:
                pending[got] = worker
        if pending:
            wait_for = max(budgets[w.config.name] for w in pending.values()) + _JOIN_GRACE
            await asyncio.wait(pending, timeout=max(0.0, start + wait_for - time.monotonic()))
        for task, worker in pending.items():
            name = worker.config.name
            if task.done() and not task.cancelled():
                results[name] = task.result()
            else:
                results[name] = worker.timed_out(budgets[name], task)
                worker.cancel_overdue(task)
        ordered = tuple(results[w.config.name] for w in selected)
        return Snapshot(accounts=ordered, taken_at=self._clock())

    def close(self) -> None:
        self._clients.close()
