"""Human views of a Snapshot: the terminal table and the landing page.

Both read the same rows and the same thresholds from here, so a quota that is
yellow in the terminal is yellow on the page too. Views never call upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from exporter.snapshot import AccountSnapshot
from exporter.timefmt import countdown, human_duration

# LOW is the LLMQuotaLow alert's threshold (llm_quota:threshold_low:fraction in
# prometheus/rules/llm-quota-thresholds.yml; a test keeps them equal). WARN only
# marks "getting low" in these views, a step before anything pages.
LOW = 0.10
WARN = 0.25

UNKNOWN_TEXT = "unknown"
NO_POOLS_TEXT = "no pools (no licence)"
NO_QUOTAS_TEXT = "no quotas reported"


class Level(StrEnum):
    """How worrying a remaining fraction is; each view maps it to a colour."""

    OK = "ok"  # >= WARN: green
    WARN = "warn"  # >= LOW: yellow
    LOW = "low"  # below LOW: red
    EXHAUSTED = "exhausted"  # exactly 0: red
    UNKNOWN = "unknown"  # upstream gave no fraction: neither good nor bad


def level(fraction: float | None) -> Level:
    """Classify a remaining fraction.

    >>> level(0.5).value, level(0.2).value, level(0.05).value, level(0).value
    ('ok', 'warn', 'low', 'exhausted')
    """
    if fraction is None:
        return Level.UNKNOWN
    if fraction <= 0:
        return Level.EXHAUSTED
    if fraction < LOW:
        return Level.LOW
    if fraction < WARN:
        return Level.WARN
    return Level.OK


def percent_text(fraction: float | None) -> str:
    """`78%`; never rounds a non-empty quota to `0%` or a partly used one to `100%`.

    >>> percent_text(0.7829875), percent_text(0.004), percent_text(0.999), percent_text(None)
    ('78%', '<1%', '99%', 'unknown')
    """
    if fraction is None:
        return UNKNOWN_TEXT
    pct = round(fraction * 100)
    if pct <= 0 < fraction:
        return "<1%"
    if pct >= 100 > fraction * 100:
        return "99%"
    return f"{pct}%"


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
    """One line of a quota table: a pool window or a model."""

    kind: Literal["pool", "model"]
    label: str  # what people recognise: pool display name or model display name
    detail: str  # the pool window ("5h") or the upstream model id
    fraction: float | None
    reset_time: float | None

    @property
    def level(self) -> Level:
        return level(self.fraction)


def account_rows(account: AccountSnapshot) -> list[QuotaRow]:
    """Pool windows first (they are the binding limits), then models, upstream order."""
    if account.data is None:
        return []
    rows = [
        QuotaRow("pool", p.pool_name or p.pool, p.window, p.remaining_fraction, p.reset_time)
        for p in account.data.pools
    ]
    rows.extend(
        QuotaRow("model", m.display_name or m.model, m.model, m.remaining_fraction, m.reset_time)
        for m in account.data.models
    )
    return rows


def failure_text(account: AccountSnapshot) -> str:
    """`auth: token expired` for a failed account; empty when the account is up."""
    if account.up:
        return ""
    if account.error is None:
        return "failed (no error recorded)"
    return f"{account.error.reason.value}: {account.error.message}"


def last_success_text(account: AccountSnapshot, now: float) -> str:
    """`3h ago`, or `never` for an account that has not been fetched successfully yet."""
    if account.last_success is None:
        return "never"
    return f"{human_duration(max(now - account.last_success, 0.0))} ago"
