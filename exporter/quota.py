"""What a request can really use: a quota bounded by every limit it meets.

A model's own fraction is not the whole truth: Antigravity's per-model number can
say 100% while the model's 5-hour pool is empty, and every request then fails.
The effective fraction is the minimum of the model's own quota and every window of
every pool it draws on; the limit that gives the minimum is the one that binds.

A quota entry that came without its number is unknown, not zero. Its effective
number is resolved from evidence, in this order (SPEC, "Metrics rules"):

1. the pool windows that cover the model (the summary is the authority on pools:
   a bucket without a number but with a reset time still ahead is at 0);
2. another model of the same pool whose entry has the same reset time and a number
   (they share one quota), which stands in for the model's own number;
3. else it is unknown, and `Resolved.why` says why.

An explicit 0 is always exhausted. A reset time in the past is no evidence.

>>> from exporter.snapshot import AccountData, AccountInfo, ModelQuota, PoolQuota
>>> pool = PoolQuota("claude-gpt", "Claude and GPT models", "5h", 0.0, 1000.0)
>>> model = ModelQuota("claude-sonnet-4-5", "Claude Sonnet 4.5", "anthropic", 1.0, 900.0,
...                    pools=("claude-gpt",))
>>> limit = effective(model, AccountData(AccountInfo("g1-pro-tier", ""), (model,), (pool,)))
>>> limit.fraction, limit.pool.window if limit and limit.pool else None
(0.0, '5h')
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.snapshot import AccountData, ModelQuota, PoolQuota, Snapshot

# At or above this a quota is usable: the LLMQuotaExhausted alert's threshold
# (llm_quota:threshold_exhausted:fraction in prometheus/rules; a test keeps them equal).
# Alerts compare inclusively (<=), so "usable" is strictly above it.
EXHAUSTED_AT = 0.01

# Why a number is unknown (every view shows it beside "unknown").
NO_EVIDENCE = "no number from upstream and no pool data"
NO_POOL_NUMBER = "no number from upstream, and its pool windows give none"
POOLS_UNKNOWN = "pool data unavailable"


@dataclass(frozen=True)
class Limit:
    """The binding limit of a model or a pool: its fraction, reset and where it comes from."""

    fraction: float
    reset_time: float | None
    pool: PoolQuota | None = None  # None: the model's own quota binds
    unlimited: bool = False  # no window limits it at all
    # How a number upstream left out was found ("" when upstream sent it):
    # "pool bucket with a reset ahead", "same quota as Gemini 3 Flash".
    evidence: str = ""


@dataclass(frozen=True)
class Resolved:
    """A model's effective limit, or why it cannot be known."""

    limit: Limit | None
    why: str = ""  # set when limit is None


def binding(limits: Iterable[Limit]) -> Limit | None:
    """The lowest fraction; on a tie the one that resets last (it holds you longest).

    >>> binding([Limit(0.0, 10.0), Limit(0.0, 20.0), Limit(0.5, 5.0)]).reset_time
    20.0
    """

    def key(limit: Limit) -> tuple[float, float]:
        # An unknown reset may never come: it binds longest.
        reset = math.inf if limit.reset_time is None else limit.reset_time
        return (limit.fraction, -reset)

    return min(limits, key=key, default=None)


def as_of(data: AccountData) -> float:
    """When the account's replies were read: resets before this are stale."""
    return time.time() if data.as_of is None else data.as_of


def _ahead(reset_time: float | None, now: float) -> bool:
    return reset_time is not None and reset_time > now


def window_limit(window: PoolQuota, now: float) -> Limit | None:
    """A pool window's limit; None when unlimited or when it gives no evidence.

    A bucket without a number but with a reset time ahead is at 0: the pool summary
    only leaves the number out when it is zero, and the window is live. Without a
    reset (or with one in the past) it says nothing.

    >>> w = PoolQuota("gemini", "Gemini Models", "5h", None, 200.0, omitted=True)
    >>> window_limit(w, 100.0).fraction, window_limit(w, 300.0)
    (0.0, None)
    """
    if window.unlimited:
        return None
    if window.remaining_fraction is not None:
        return Limit(window.remaining_fraction, window.reset_time, window)
    if window.omitted and _ahead(window.reset_time, now):
        return Limit(0.0, window.reset_time, window,
                     evidence="the pool's bucket has no number but a reset ahead: at 0")
    return None


def _window_limits(windows: Iterable[PoolQuota], now: float) -> list[Limit]:
    return [limit for w in windows if (limit := window_limit(w, now)) is not None]


def _pools_with_parents(data: AccountData, pools: Iterable[str]) -> list[PoolQuota]:
    """Every window of these pools and of the pools they sit within."""
    seen: set[str] = set()
    todo = list(pools)
    windows: list[PoolQuota] = []
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        for window in data.pool_windows(name):
            windows.append(window)
            todo.extend(window.within)
    return windows


def model_pools(model: ModelQuota, data: AccountData) -> list[str]:
    """Every pool a request for the model meets: its own pools and the pools they sit
    within, in that order, once each."""
    found = [*model.pools, *(w.pool for w in _pools_with_parents(data, model.pools))]
    return list(dict.fromkeys(found))


def _sibling(model: ModelQuota, data: AccountData, now: float) -> Limit | None:
    """A stand-in for a model's missing number: the lowest of the other models of the
    same pool whose entries carry a number and the same reset time, still ahead."""
    if not model.pools or not _ahead(model.reset_time, now):
        return None
    shared = set(model.pools)
    found = [
        Limit(m.remaining_fraction, m.reset_time,
              evidence=f"same quota as {m.display_name or m.model} (same pool and reset)")
        for m in data.models
        if m.model != model.model and m.remaining_fraction is not None
        and m.reset_time == model.reset_time and shared & set(m.pools)
    ]
    return binding(found)


def _own(model: ModelQuota, data: AccountData, now: float) -> Limit | None:
    """The model's own quota: its number, else a sibling's; None when neither exists."""
    if model.remaining_fraction is not None:
        return Limit(model.remaining_fraction, model.reset_time)
    return _sibling(model, data, now)


def resolve(model: ModelQuota, data: AccountData) -> Resolved:
    """The model's effective limit, resolved from evidence; or why it is unknown.

    While the source that reports pools fails, a model's number could be bounded by
    a pool we cannot see: unknown, unless its own quota is already at 0 (that zero
    is never hidden).
    """
    now = as_of(data)
    own = _own(model, data, now)
    if not data.pools_known:
        if own is not None and own.fraction <= 0:
            return Resolved(own)
        return Resolved(None, POOLS_UNKNOWN)
    windows = _window_limits(_pools_with_parents(data, model.pools), now)
    limit = binding([own, *windows] if own is not None else windows)
    if limit is not None:
        return Resolved(limit)
    return Resolved(None, NO_POOL_NUMBER if model.pools else NO_EVIDENCE)


def effective(model: ModelQuota, data: AccountData) -> Limit | None:
    """The model's effective limit; None when it cannot be known (see `resolve`)."""
    return resolve(model, data).limit


def pool_effective(pool: str, data: AccountData) -> Limit | None:
    """A pool's binding window, its parents' windows included; None when it has none
    or none of its limited windows gives a number."""
    windows = _pools_with_parents(data, [pool])
    if not windows:
        return None
    limited = _window_limits(windows, as_of(data))
    if limited:
        return binding(limited)
    if all(w.unlimited for w in windows):
        return Limit(1.0, None, windows[0], unlimited=True)
    return None


@dataclass(frozen=True)
class BestAnswer:
    """One account's effective limit for a model (or pool); `fraction` None when unknown."""

    account: str
    provider: str
    model: str
    fraction: float | None
    reset_time: float | None
    unlimited: bool = False
    why: str = ""  # why the number is unknown

    @property
    def known(self) -> bool:
        return self.unlimited or self.fraction is not None

    @property
    def usable(self) -> bool:
        """Above the exhausted threshold (alerts page at or below it)."""
        return self.unlimited or (self.fraction is not None and self.fraction > EXHAUSTED_AT)


def _answer(acc_name: str, provider: str, model: str, data: AccountData) -> BestAnswer | None:
    matched = [m for m in data.models if m.model == model]
    if matched:
        found = resolve(matched[0], data)
        limit, why = found.limit, found.why
    elif data.pool_windows(model):
        limit = pool_effective(model, data)
        why = "" if limit else (POOLS_UNKNOWN if not data.pools_known else NO_EVIDENCE)
    else:
        return None
    if limit is None:
        return BestAnswer(acc_name, provider, model, None, None, why=why)
    return BestAnswer(acc_name, provider, model, limit.fraction, limit.reset_time,
                      limit.unlimited)


def candidates(snapshot: Snapshot, model: str, provider: str | None = None) -> list[BestAnswer]:
    """Every account that has `model`, with its effective limit, in snapshot order.

    `model` is a model id; for providers that count by pool rather than by model
    (Claude, Codex, Copilot) it may also name a pool (`opus`, `premium-interactions`).
    Accounts whose number is unknown are included with `fraction` None and the reason;
    accounts that are down (no data) are left out.
    """
    found: list[BestAnswer] = []
    for acc in snapshot.accounts:
        if acc.data is None or (provider is not None and acc.provider != provider):
            continue
        answer = _answer(acc.account, acc.provider, model, acc.data)
        if answer is not None:
            found.append(answer)
    return found


def best(snapshot: Snapshot, model: str, provider: str | None = None) -> BestAnswer | None:
    """The most effective quota left for `model`, among known numbers only; ties go to
    the earlier reset. None when no account has a known number for it.
    """

    def key(answer: BestAnswer) -> tuple[bool, float, float]:
        reset = math.inf if answer.reset_time is None else answer.reset_time
        return (answer.unlimited, answer.fraction or 0.0, -reset)

    known = [a for a in candidates(snapshot, model, provider) if a.known]
    return max(known, key=key, default=None)
