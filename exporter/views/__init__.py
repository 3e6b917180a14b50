"""Human views of a Snapshot: the terminal table and the landing page.

Both read the same rows and the same thresholds from here, so a quota that is
yellow in the terminal is yellow on the page too. Views never call upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from exporter.quota import EXHAUSTED_AT, POOLS_UNKNOWN, Limit, as_of, binding, resolve, window_limit
from exporter.snapshot import AccountData, AccountSnapshot, ModelQuota, PoolQuota
from exporter.timefmt import countdown, human_duration

# LOW is the LLMQuotaLow alert's threshold (llm_quota:threshold_low:fraction in
# prometheus/rules/llm-quota-thresholds.yml; a test keeps them equal), EXHAUSTED_AT
# the LLMQuotaExhausted one; all compare inclusively, as the alerts do. WARN only
# marks "getting low" in these views, a step before anything pages: with
# Antigravity's 20% steps, 0.4 is yellow, 0.2 red, 0 exhausted.
LOW = 0.20
WARN = 0.40

UNKNOWN_TEXT = "unknown"
UNLIMITED_TEXT = "unlimited"
OMITTED_TEXT = "no number from upstream"
OVERAGE_TEXT = "included quota used up: overage, billed per request"
NO_POOLS_TEXT = "no pools (no licence)"
NO_QUOTAS_TEXT = "no quotas reported"


class Level(StrEnum):
    """How worrying a remaining fraction is; each view maps it to a colour."""

    OK = "ok"  # above WARN: green
    WARN = "warn"  # above LOW, at most WARN: yellow
    LOW = "low"  # at most LOW: red
    EXHAUSTED = "exhausted"  # at most EXHAUSTED_AT: red
    UNKNOWN = "unknown"  # the number cannot be known now: neither good nor bad


def level(fraction: float | None) -> Level:
    """Classify a remaining fraction.

    >>> [level(f).value for f in (0.6, 0.4, 0.2, 0.05, 0.01, 0, None)]
    ['ok', 'warn', 'low', 'low', 'exhausted', 'exhausted', 'unknown']
    """
    if fraction is None:
        return Level.UNKNOWN
    if fraction <= EXHAUSTED_AT:
        return Level.EXHAUSTED
    if fraction <= LOW:
        return Level.LOW
    if fraction <= WARN:
        return Level.WARN
    return Level.OK


def percent_text(fraction: float | None, *, unlimited: bool = False) -> str:
    """`78%`; never rounds a non-empty quota to `0%` or a partly used one to `100%`.

    >>> percent_text(0.7829875), percent_text(0.004), percent_text(0.999), percent_text(None)
    ('78%', '<1%', '99%', 'unknown')
    """
    if unlimited:
        return UNLIMITED_TEXT
    if fraction is None:
        return UNKNOWN_TEXT
    pct = round(fraction * 100)
    if pct <= 0 < fraction:
        return "<1%"
    if pct >= 100 > fraction * 100:
        return "99%"
    return f"{pct}%"


def count_text(remaining: float | None, limit: float | None) -> str:
    """`42 of 300 left`, `42 left`, or "" when upstream gives no count.

    >>> count_text(42, 300), count_text(12.5, None), count_text(None, 300)
    ('42 of 300 left', '12.5 left', '')
    """
    if remaining is None:
        return ""
    if limit is None or limit <= 0:
        return f"{remaining:g} left"
    return f"{remaining:g} of {limit:g} left"


def bar_fraction(fraction: float | None) -> float:
    """The filled share of a bar, clamped to 0..1 (upstream values are not trusted)."""
    if fraction is None:
        return 0.0
    return min(max(fraction, 0.0), 1.0)


def reset_text(reset_time: float | None, now: float) -> str:
    """`in 3h 12m`, `now`, or `unknown` when upstream gave no reset time."""
    if reset_time is None:
        return UNKNOWN_TEXT
    return countdown(reset_time - now)


def tier_text(account: AccountSnapshot) -> str:
    """`Google AI Pro (g1-pro-tier)`, or the raw id alone when there is no display name."""
    if account.data is None:
        return account.tier
    name = account.data.info.tier_name
    return f"{name} ({account.tier})" if name and name != account.tier else account.tier


@dataclass(frozen=True)
class QuotaRow:
    """One line of a quota table: a pool window, or a model led by its effective number."""

    kind: Literal["pool", "model"]
    label: str  # what people recognise: pool display name or model display name
    detail: str  # the pool window ("5h") or the upstream model id
    fraction: float | None  # a model's effective fraction; None when unknown
    reset_time: float | None  # when the binding limit resets
    limit: str = ""  # a model's binding limit: "Claude and GPT models, 5h window"
    note: str = ""  # why the number is what it is, when that is not obvious
    count: str = ""  # "42 of 300 left", where upstream counts requests
    unlimited: bool = False
    overage: bool = False  # used up, but the plan keeps serving at a cost

    @property
    def level(self) -> Level:
        if self.unlimited:
            return Level.OK
        if self.overage:
            return Level.LOW  # paying per request, not refused: red, never "exhausted"
        return level(self.fraction)

    @property
    def percent(self) -> str:
        return percent_text(self.fraction, unlimited=self.unlimited)


def _pool_row(p: PoolQuota, data: AccountData) -> QuotaRow:
    """A pool window as upstream reports it; when it sits within a wider pool that is
    lower (Claude's Opus weekly within the plan's limits), the row says so."""
    now = as_of(data)
    own = window_limit(p, now)
    limit = ""
    if p.within and own is not None:
        outer = binding(
            found for parent in p.within for w in data.pool_windows(parent)
            if (found := window_limit(w, now)) is not None
        )
        if outer is not None and outer.fraction < own.fraction:
            limit = f"{limit_text(outer)} ({percent_text(outer.fraction)})"
    notes = []
    if p.omitted:
        notes.append(f"{OMITTED_TEXT}; {own.evidence}" if own and own.evidence
                     else f"{OMITTED_TEXT} and no reset ahead: unknown")
    if p.overage:
        notes.append(OVERAGE_TEXT)
    count = count_text(p.remaining_requests, p.limit_requests) or count_text(
        p.remaining_credits, p.limit_credits)
    return QuotaRow(
        "pool", p.pool_name or p.pool, p.window,
        None if p.unlimited or own is None else own.fraction, p.reset_time,
        limit=limit, note="; ".join(notes), count=count,
        unlimited=p.unlimited, overage=p.overage,
    )


def limit_text(limit: Limit) -> str:
    """`Claude and GPT models, 5h window` when a pool binds; "" when the model's own does."""
    if limit.pool is None:
        return ""
    return f"{limit.pool.pool_name or limit.pool.pool}, {limit.pool.window} window"


def unknown_text(why: str, account: AccountSnapshot) -> str:
    """`unknown: no number from upstream and no pool data`; a failing pool source is named."""
    if why == POOLS_UNKNOWN:
        failed = ", ".join(r.source for r in account.sources if r.error)
        if failed:
            why = f"pools unknown: {failed} failed"
    return f"{UNKNOWN_TEXT}: {why}"


def _model_row(m: ModelQuota, account: AccountSnapshot, data: AccountData) -> QuotaRow:
    found = resolve(m, data)
    limit = found.limit
    own = "unknown" if m.remaining_fraction is None else percent_text(m.remaining_fraction)
    notes = []
    if limit is None:
        notes.append(unknown_text(found.why, account))
        if m.remaining_fraction is not None:
            notes.append(f"own quota {own}")
        return QuotaRow("model", m.display_name or m.model, m.model, None, m.reset_time,
                        note="; ".join(notes))
    if m.omitted:
        evidence = limit.evidence or "from its pool windows"
        notes.append(f"{OMITTED_TEXT}; {evidence}")
    elif limit.pool is not None and level(m.remaining_fraction) != level(limit.fraction):
        # The trap this column exists for: the model's own number looks fine.
        notes.append(f"own quota {own}")
    return QuotaRow(
        "model", m.display_name or m.model, m.model, limit.fraction, limit.reset_time,
        limit=limit_text(limit), note="; ".join(notes),
        count=count_text(m.remaining_requests, None),
    )


def account_rows(account: AccountSnapshot) -> list[QuotaRow]:
    """Pool windows first (they are the shared limits), then models, upstream order."""
    data = account.data
    if data is None:
        return []
    rows = [_pool_row(p, data) for p in data.pools]
    rows.extend(_model_row(m, account, data) for m in data.models)
    return rows


def credits_text(account: AccountSnapshot) -> str:
    """`Credits left: extra_usage 453.69, rate_limit_reset 2`, or "" when there are none.

    Credits are not fractions (a balance, a spend limit's money left), so they get a
    line of their own rather than a bar; an account whose reply is only a spend
    limit (a Claude Enterprise seat) shows its number here instead of nothing.
    """
    data = account.data
    if data is None or not data.credits:
        return ""
    return "Credits left: " + ", ".join(
        f"{c.credit_type} {c.remaining:,.2f}".rstrip("0").rstrip(".") for c in data.credits)


def failure_text(account: AccountSnapshot) -> str:
    """`auth: token expired` for a failed account; empty when the account is up.

    When some sources answered, each failed one is named: `summary failed: ...`.
    """
    if account.up:
        return ""
    if account.error is None:
        return "failed (no error recorded)"
    if account.data is None:
        return f"{account.error.reason.value}: {account.error.message}"
    return "; ".join(
        f"{r.source} failed: {r.error.reason.value}: {r.error.message}"
        for r in account.sources if r.error is not None
    )


def last_success_text(account: AccountSnapshot, now: float) -> str:
    """`3h ago`, or `never` for an account that has not been fetched successfully yet."""
    if account.last_success is None:
        return "never"
    return f"{human_duration(max(now - account.last_success, 0.0))} ago"
