"""What a request can really use: a quota bounded by every limit it meets.

A model's own fraction is not the whole truth: Antigravity's per-model number can
say 100% while the model's 5-hour pool is empty, and every request then fails.
The effective fraction is the minimum of the model's own quota and every window of
every pool it draws on; the limit that gives the minimum is the one that binds.

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
from collections.abc import Iterable
from dataclasses import dataclass

from exporter.snapshot import AccountData, ModelQuota, PoolQuota, Snapshot

# At or above this a quota is usable: the LLMQuotaExhausted alert's threshold
# (llm_quota:threshold_exhausted:fraction in prometheus/rules; a test keeps them equal).
EXHAUSTED_BELOW = 0.01


@dataclass(frozen=True)
class Limit:
    """The binding limit of a model or a pool: its fraction, reset and where it comes from."""

    fraction: float
    reset_time: float | None
    pool: PoolQuota | None = None  # None: the model's own quota binds
    unlimited: bool = False  # no window limits it at all


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


def _window_limits(windows: Iterable[PoolQuota]) -> list[Limit]:
    return [
        Limit(w.remaining_fraction, w.reset_time, w)
        for w in windows
        if not w.unlimited and w.remaining_fraction is not None
    ]


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


def effective(model: ModelQuota, data: AccountData) -> Limit | None:
    """The model's effective limit; None when it cannot be known.

    Unknown means the source that reports pools failed: the model's own number
    could be bounded by a pool we cannot see. A model already at 0 is exhausted
    whatever its pools say, so that zero is never hidden.
    """
    own = Limit(model.remaining_fraction, model.reset_time)
    if not data.pools_known:
        return own if model.remaining_fraction <= 0 else None
    return binding([own, *_window_limits(_pools_with_parents(data, model.pools))])


def pool_effective(pool: str, data: AccountData) -> Limit | None:
    """A pool's binding window, its parents' windows included; None when it has none."""
    windows = _pools_with_parents(data, [pool])
    if not windows:
        return None
    limited = _window_limits(windows)
    if not limited:
        return Limit(1.0, None, windows[0], unlimited=True)
    return binding(limited)


@dataclass(frozen=True)
class BestAnswer:
    """The account with the most effective quota left for a model."""

    account: str
    provider: str
    model: str
    fraction: float
    reset_time: float | None
    unlimited: bool = False

    @property
    def usable(self) -> bool:
        return self.unlimited or self.fraction >= EXHAUSTED_BELOW


def candidates(snapshot: Snapshot, model: str, provider: str | None = None) -> list[BestAnswer]:
    """Every account's effective limit for `model`, in snapshot order.

    `model` is a model id; for providers that count by pool rather than by model
    (Claude, Codex, Copilot) it may also name a pool (`opus`, `premium-interactions`).
    Accounts whose number is unknown (down, or their pools failed) are left out.
    """
    found: list[BestAnswer] = []
    for acc in snapshot.accounts:
        data = acc.data
        if data is None or (provider is not None and acc.provider != provider):
            continue
        limit: Limit | None = None
        matched = [m for m in data.models if m.model == model]
        if matched:
            limit = effective(matched[0], data)
        elif data.pool_windows(model):
            limit = pool_effective(model, data)
        if limit is not None:
            found.append(BestAnswer(
                acc.account, acc.provider, model, limit.fraction, limit.reset_time,
                limit.unlimited,
            ))
    return found


def best(snapshot: Snapshot, model: str, provider: str | None = None) -> BestAnswer | None:
    """The most effective quota left for `model`; ties go to the earlier reset.

    None when no account has the model (or every number is unknown).
    """

    def key(answer: BestAnswer) -> tuple[bool, float, float]:
        reset = math.inf if answer.reset_time is None else answer.reset_time
        return (answer.unlimited, answer.fraction, -reset)

    return max(candidates(snapshot, model, provider), key=key, default=None)
