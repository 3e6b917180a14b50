"""The typed result every view reads.

Data moves one way: config -> fetch -> Snapshot -> views (metrics, JSON API,
terminal table, landing page). Providers build `AccountData`; the fetch engine
wraps it in an `AccountSnapshot` with health facts; views only read.

Nothing here knows about Prometheus or HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Reason(StrEnum):
    """Why an account fetch failed: the `reason` label of llm_quota_fetch_errors_total."""

    AUTH = "auth"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    UPSTREAM = "upstream"
    TIMEOUT = "timeout"
    NETWORK = "network"
    PARSE = "parse"
    INTERNAL = "internal"  # a bug of ours; logged with its traceback


class FetchError(Exception):
    """A failed fetch with a reason and a message safe to show anywhere.

    The message must never contain a secret: providers build it from status
    codes, upstream error messages and host names only. Emails and project ids
    are masked by the fetch engine before anything shows it.
    """

    def __init__(
        self, reason: Reason, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        # Seconds the upstream asked us to wait (RetryInfo.retryDelay, Retry-After), if any.
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"FetchError({self.reason.value!r}, {self.message!r})"


@dataclass(frozen=True)
class ModelQuota:
    """One per-model quota (Antigravity fetchAvailableModels, Gemini CLI retrieveUserQuota)."""

    model: str  # upstream model id, the `model` label
    display_name: str
    model_provider: str  # "google", "anthropic", "openai", ... or "" when unknown
    # What upstream said, clamped to 0..1; None when its quota entry came without a
    # number (`omitted`). Unknown is not zero: proto3 JSON leaves zeros out, but the
    # field is also left out for fresh accounts and new models that serve fine, so
    # exporter.quota resolves such a model from evidence (its pools, a sibling).
    remaining_fraction: float | None
    reset_time: float | None  # Unix seconds
    pools: tuple[str, ...] = ()  # slugs of the pools this model also draws on
    omitted: bool = False  # the quota entry came without a fraction
    remaining_requests: float | None = None  # a count, where upstream gives one


@dataclass(frozen=True)
class PoolQuota:
    """One window of a quota shared by a group of models (or by a whole plan)."""

    pool: str  # stable slug: "gemini", "claude-gpt", "all", "premium-interactions"
    pool_name: str  # what people recognise: the group's display name as upstream gave it
    window: str  # "5h", "weekly", "monthly", ...
    remaining_fraction: float | None  # None when `unlimited` or `omitted`
    reset_time: float | None  # Unix seconds
    bucket_id: str = ""
    remaining_requests: float | None = None  # absolute counts (Copilot premium requests)
    limit_requests: float | None = None
    # The same in credits or money, in the upstream's main unit (a spend cap's
    # dollars, Kiro credits): llm_quota_pool_remaining_credits / _limit_credits.
    remaining_credits: float | None = None
    limit_credits: float | None = None
    unlimited: bool = False  # the plan sets no limit here: no fraction
    # The included quota is used up but the plan keeps serving, billed per request
    # (Copilot overage): 0 left of the quota, yet requests do not fail.
    overage: bool = False
    # The bucket came without a fraction. With a reset time still ahead it is at 0
    # (the summary is the authority on pools); without one it says nothing.
    omitted: bool = False
    # Pools whose windows also limit this one: Claude's weekly Opus limit sits
    # inside the plan's overall limits, so a request meets both.
    within: tuple[str, ...] = ()


@dataclass(frozen=True)
class Credit:
    """Prepaid or bonus credits left (Antigravity availableCredits, Codex credits)."""

    credit_type: str  # "GOOGLE_ONE_AI", "codex", ...
    remaining: float


@dataclass(frozen=True)
class AccountInfo:
    tier: str  # raw tier id; "unknown" when upstream gave none
    tier_name: str  # display name; "" when unknown
    project: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class SourceResult:
    """One upstream call of one fetch (`models`, `summary`, `usage`, ...)."""

    source: str
    error: FetchError | None = None  # None: it answered
    skipped: int = 0  # malformed entries left out of its reply

    @property
    def up(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class AccountData:
    """What a provider returns for one fetch: the parts of every source that answered."""

    info: AccountInfo
    models: tuple[ModelQuota, ...] = ()
    pools: tuple[PoolQuota, ...] = ()
    credits: tuple[Credit, ...] = ()
    # False when the pool summary is not available for this account (for example
    # a free account answered 403 "no valid license"): no pools, not an error.
    # None when the provider (or the account's `sources`) asks for no pool summary.
    pools_available: bool | None = True
    # False when the source that reports pools failed: every model's effective
    # number is then unknown (unless its own quota is already at 0).
    pools_known: bool = True
    sources: tuple[SourceResult, ...] = ()
    # Unix time these replies were judged (set by the fetch engine): a reset time
    # before it is stale and no evidence of anything. None: read it as now. Replies
    # that come back unchanged keep the earlier time, as long as no reset time in
    # them has passed since (so every reset compares to it as it would to now).
    as_of: float | None = None

    def pool_windows(self, pool: str) -> list[PoolQuota]:
        return [p for p in self.pools if p.pool == pool]


@dataclass(frozen=True)
class AccountSnapshot:
    """One account as of one scrape.

    `up` is True only when every configured source answered. `data` holds what
    the sources that answered said (None when none did); `error` is the first
    failure (None when up).
    """

    provider: str
    account: str
    up: bool
    data: AccountData | None
    error: FetchError | None
    duration_seconds: float  # how long the fetch that produced this took
    fetched_at: float  # Unix time the fetch that produced this finished
    last_success: float | None  # Unix time every source last answered, if ever
    cached: bool = False  # reused within min_interval, not fetched for this scrape
    # Cumulative failed calls by reason since the exporter started.
    errors_total: dict[str, int] = field(default_factory=dict)
    # Cumulative malformed entries skipped, by source.
    skipped_total: dict[str, int] = field(default_factory=dict)
    sources: tuple[SourceResult, ...] = ()
    min_interval: float = 0.0  # seconds the exporter may reuse this account's result

    @property
    def tier(self) -> str:
        return self.data.info.tier if self.data else "unknown"


@dataclass(frozen=True)
class Snapshot:
    """All selected accounts as of one scrape."""

    accounts: tuple[AccountSnapshot, ...]
    taken_at: float
