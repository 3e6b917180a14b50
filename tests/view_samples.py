"""Hand-built Snapshots for the view, API and quota command tests.

Values follow the example upstream bodies (paid account with pools, a free
account without a pool licence, an account whose token refresh fails).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from exporter.config import AccountConfig, Config, Credentials, Secret
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    AccountSnapshot,
    FetchError,
    ModelQuota,
    PoolQuota,
    Reason,
    Snapshot,
    SourceResult,
)
from exporter.timefmt import parse_rfc3339

NOW = parse_rfc3339("2026-11-28T18:50:00Z")


def work_account(*, cached: bool = False) -> AccountSnapshot:
    data = AccountData(
        info=AccountInfo(tier="g1-pro-tier", tier_name="Google AI Pro"),
        models=(
            ModelQuota("gemini-3-pro-high", "Gemini 3 Pro (High)", "google", 0.7829875,
                       NOW + 2 * 3600 + 48 * 60 + 57, pools=("gemini",)),
            ModelQuota("gemini-3-flash", "Gemini 3 Flash", "google", 1.0, NOW + 3 * 3600,
                       pools=("gemini",)),
            # 12% of its own, but its 5-hour pool is empty: effectively 0.
            ModelQuota("claude-sonnet-4-5", "Claude Sonnet 4.5", "anthropic", 0.12,
                       NOW + 75 * 60, pools=("claude-gpt",)),
            # Upstream left the fraction out: unknown of its own; its empty pool says 0.
            ModelQuota("claude-opus-4-5-thinking", "Claude Opus 4.5 (Thinking)", "anthropic",
                       None, NOW + 75 * 60, pools=("claude-gpt",), omitted=True),
            ModelQuota("gpt-oss-120b-medium", "GPT-OSS 120B (Medium)", "openai", 0.05,
                       NOW + 75 * 60, pools=("claude-gpt",)),
        ),
        pools=(
            PoolQuota("gemini", "Gemini Models", "5h", 0.91, NOW + 2 * 3600 + 10 * 60,
                      "gemini-5h"),
            PoolQuota("gemini", "Gemini Models", "weekly", 0.95, NOW + 3 * 86400 + 5 * 3600,
                      "gemini-weekly"),
            PoolQuota("claude-gpt", "Claude and GPT models", "5h", 0.0, NOW + 75 * 60, "3p-5h"),
            PoolQuota("claude-gpt", "Claude and GPT models", "weekly", 0.22,
                      NOW + 3 * 86400 + 5 * 3600, "3p-weekly"),
        ),
        sources=(SourceResult("models"), SourceResult("summary")),
        as_of=NOW - 1,
    )
    return AccountSnapshot(
        provider="antigravity", account="work", up=True, data=data, error=None,
        duration_seconds=0.412, fetched_at=NOW - 20 if cached else NOW - 1,
        last_success=NOW - 1, cached=cached, sources=data.sources,
    )


def free_account() -> AccountSnapshot:
    data = AccountData(
        info=AccountInfo(tier="free-tier", tier_name="Gemini Code Assist for individuals"),
        models=(
            ModelQuota("gemini-3-flash", "Gemini 3 Flash", "google", 0.08, NOW + 40 * 60),
            ModelQuota("gemini-3-pro-high", "Gemini 3 Pro (High)", "google", 0.0, None,
                       omitted=True),
        ),
        pools=(),
        pools_available=False,
        sources=(SourceResult("models"), SourceResult("summary")),
    )
    return AccountSnapshot(
        provider="antigravity", account="personal", up=True, data=data, error=None,
        duration_seconds=0.301, fetched_at=NOW - 1, last_success=NOW - 1,
        sources=data.sources,
    )


def failed_account(name: str = "team-ci", message: str | None = None) -> AccountSnapshot:
    error = FetchError(
        Reason.AUTH,
        message or "token refresh failed: invalid_grant (refresh token revoked; log in again)",
    )
    return AccountSnapshot(
        provider="antigravity", account=name, up=False, data=None, error=error,
        duration_seconds=0.09, fetched_at=NOW - 1, last_success=NOW - 3 * 3600,
        errors_total={"auth": 3},
        sources=(SourceResult("models", error), SourceResult("summary", error)),
    )


def partial_account() -> AccountSnapshot:
    """`work` whose summary call failed: models kept, pools unknown."""
    down = FetchError(Reason.RATE_LIMITED, "retrieveUserQuotaSummary: answered 429")
    good = work_account()
    assert good.data is not None
    sources = (SourceResult("models"), SourceResult("summary", down))
    data = replace(good.data, pools=(), pools_known=False, sources=sources)
    return replace(good, up=False, data=data, error=down, sources=sources,
                   errors_total={"rate_limited": 1})


def sample_snapshot() -> Snapshot:
    return Snapshot(accounts=(work_account(), free_account(), failed_account()), taken_at=NOW)


class FakeEngine:
    """Stands in for FetchEngine: serves a fixed Snapshot and records every collect()."""

    def __init__(self, snapshot: Snapshot, providers: dict[str, str] | None = None) -> None:
        """`providers` overrides the provider of the named accounts, in config and data."""
        providers = {a.account: a.provider for a in snapshot.accounts} | (providers or {})
        self.snapshot = Snapshot(
            accounts=tuple(replace(a, provider=providers[a.account]) for a in snapshot.accounts),
            taken_at=snapshot.taken_at,
        )
        self.calls: list[dict[str, object]] = []
        names = [a.account for a in snapshot.accounts]
        self.config = Config(
            accounts=tuple(
                AccountConfig(
                    name=name,
                    provider=providers[name],
                    credentials=Credentials(kind="access_token", secret=Secret("not-a-token")),
                )
                for name in names
            )
        )

    def account_names(self) -> list[str]:
        return [a.name for a in self.config.accounts]

    def collect(
        self,
        timeout: float | None = None,
        accounts: Iterable[str] | None = None,
        force: bool = False,
        max_age: float | None = None,
    ) -> Snapshot:
        wanted = None if accounts is None else list(accounts)
        call: dict[str, object] = {"timeout": timeout, "accounts": wanted, "force": force}
        if max_age is not None:  # only views pass it; the quota command does not
            call["max_age"] = max_age
        self.calls.append(call)
        kept = tuple(
            a for a in self.snapshot.accounts if wanted is None or a.account in wanted
        )
        return Snapshot(accounts=kept, taken_at=self.snapshot.taken_at)
