"""What every simulated upstream shares: accounts, quotas that drain, replies, faults.

Pure Python, no HTTP. Each provider's `simulated.py` says which quotas an account
has and how its replies look (a `SimUpstream`); the simulator (exporter.simulator)
holds the live state behind one lock, puts a loopback HTTP server in front of it
and registers every provider's upstream here, so an account can check its tier.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeGuard

from exporter.timefmt import rfc3339

FIVE_HOURS = 5 * 3600.0
DAY = 86400.0
WEEK = 7 * DAY
MONTH = 30 * DAY
# Generic misbehaviours; each upstream renders the error kinds in its own style.
# "403_identity" is a 403 whose message quotes the account's email and project, as
# Google's permission errors do: what the exporter must never pass on.
FAULT_KINDS = ("401", "403", "403_license", "403_identity", "429", "500", "503", "hang",
               "malformed", "html", "wrong_types", "large", "not_onboarded")
# Kinds the upstream's own answer() renders (they need the account); apply_fault
# leaves its reply as it is.
ANSWERED_FAULTS = ("not_onboarded", "403_identity")


def is_number(value: object) -> TypeGuard[float]:
    # JSON from the control API is untyped, and bool is an int to Python.
    return isinstance(value, int | float) and not isinstance(value, bool)


def checked_fraction(fraction: object, *, optional: bool = True) -> float | None:
    """`fraction` if it is a number in [0, 1] (or None when `optional`), else ValueError."""
    if fraction is None and optional:
        return None
    if not is_number(fraction) or not 0.0 <= fraction <= 1.0:
        allowed = "a number from 0 to 1" + (" or None" if optional else "")
        raise ValueError(f"fraction must be {allowed}, not {fraction!r}")
    return float(fraction)


def non_negative(what: str, value: object) -> str | None:
    """A problem text unless `value` is a number >= 0."""
    if not is_number(value) or value < 0:
        return f"{what} must be a number >= 0, not {value!r}"
    return None


def unit(*parts: str) -> float:
    """A stable pseudo-random number in [0, 1) so accounts differ but runs repeat."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    delay: float = 0.0  # seconds to wait before answering (the "hang" fault)
    headers: tuple[tuple[str, str], ...] = ()


def json_reply(payload: object, status: int = 200,
               headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return Reply(status, json.dumps(payload).encode(), headers=headers)


@dataclass
class Fault:
    """One injected misbehaviour; `times` None lasts until cleared.

    `method` and `host` are checked against the simulator's upstreams when the
    fault is set (`SimContext.set_fault`).
    """

    account: str  # an account name or "*"
    kind: str
    method: str = "*"
    host: str = "*"
    times: int | None = None
    retry_delay: float = 3.2
    hang_seconds: float = 60.0

    def problems(self, methods: tuple[str, ...], hosts: tuple[str, ...]) -> list[str]:
        found = [
            f"{what} {value!r} is not one of {allowed}"
            for what, value, allowed in (("kind", self.kind, FAULT_KINDS),
                                         ("method", self.method, ("*", *methods)),
                                         ("host", self.host, ("*", *hosts)))
            if value not in allowed]
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            found.append(f"times must be None or an integer >= 1, not {self.times!r}")
        found += filter(None, [non_negative("retry_delay", self.retry_delay),
                               non_negative("hang_seconds", self.hang_seconds)])
        return found

    def matches(self, account: str | None, method: str, host: str) -> bool:
        return (self.account in ("*", account) and self.method in ("*", method)
                and self.host in ("*", host))


class Quota:
    """A fraction that drains linearly and resets to 1.0 every `period` seconds."""

    def __init__(self, start: float | None, now: float, reset_at: float, period: float,
                 fractional: bool = False) -> None:
        self.start = start  # fraction at t0; None: upstream leaves the fraction out
        self.t0 = now
        self.reset_at = reset_at
        self.period = period
        self.fractional = fractional  # render resets with fractional seconds

    def _roll(self, now: float) -> None:
        if now < self.reset_at:
            return
        periods = math.floor((now - self.reset_at) / self.period) + 1
        self.t0 = self.reset_at + (periods - 1) * self.period
        self.reset_at += periods * self.period
        if self.start is not None:
            self.start = 1.0

    def value(self, now: float, drain_per_hour: float) -> float | None:
        self._roll(now)
        if self.start is None:
            return None
        drained = self.start - drain_per_hour * (now - self.t0) / 3600.0
        return min(1.0, max(0.0, drained))

    def set(self, now: float, fraction: float | None) -> None:
        self._roll(now)
        self.start = checked_fraction(fraction)
        self.t0 = now

    def rebase(self, now: float, drain_per_hour: float) -> None:
        """Fix the current value as the new start, before the drain rate changes."""
        self.set(now, self.value(now, drain_per_hour))

    def reset_unix(self, now: float) -> float:
        self._roll(now)
        return self.reset_at

    def reset_time(self, now: float) -> str:
        self._roll(now)
        if not self.fractional:
            return rfc3339(self.reset_at)
        return datetime.fromtimestamp(self.reset_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fraction_json(value: float) -> float | int:
    # Upstream writes whole fractions as 1 and 0; parsers must take ints too.
    return int(value) if value in (0.0, 1.0) else round(value, 7)


def next_month(now: float) -> float:
    """Midnight UTC on the first of next month: when a monthly quota starts again.

    >>> from datetime import datetime, UTC
    >>> datetime.fromtimestamp(next_month(datetime(2026, 12, 6, tzinfo=UTC).timestamp()), UTC)
    datetime.datetime(2027, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    day = datetime.fromtimestamp(now, tz=UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp()


def retry_after(fault: Fault) -> tuple[tuple[str, str], ...]:
    """The `Retry-After` header of a simulated 429: the fault's delay in whole seconds."""
    return (("Retry-After", str(max(1, math.ceil(fault.retry_delay)))),)


def key_credentials(
    style: str,
    key: str,
    directory: Path,
    name: str,
    *,
    settings: Callable[[str], Mapping[str, object]],
    opencode: Callable[[str], Mapping[str, object]] | None = None,
    opencode_user: str | None = None,
) -> dict[str, str]:
    """The `credentials:` of a key-based account (z.ai, Kimi, MiniMax) in a simulator
    credential style, writing the file it names into `directory`: the key itself
    (`api_key`), a key file (`api_key_file`), Claude Code's settings.json
    (`claude_settings`, the document `settings(key)` returns) or opencode's auth.json
    (`opencode`, from `opencode(key)`; `opencode_user` picks its entry)."""
    if style == "api_key":
        return {"api_key": key}
    if style == "api_key_file":
        path = directory / f"{name}.key"
        write_secret(path, key + "\n")
        return {"api_key_file": str(path)}
    if style == "claude_settings":
        path, doc = directory / name / ".claude" / "settings.json", settings(key)
    elif style == "opencode" and opencode is not None:
        path, doc = directory / name / "opencode" / "auth.json", opencode(key)
    else:
        raise ValueError(f"{name}: no key-based credential style {style!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_secret(path, json.dumps(doc, indent=2) + "\n")
    if style == "opencode" and opencode_user:
        return {"file": str(path), "user": opencode_user}
    return {"file": str(path)}


def stepped(value: float, step: float | None) -> float:
    """`value` as an upstream that reports in steps shows it: rounded up to the next
    step, 0 only when nothing is left.

    >>> [stepped(v, 0.2) for v in (0.0, 0.01, 0.2, 0.21, 0.999)], stepped(0.07, None)
    ([0.0, 0.2, 0.2, 0.4, 1.0], 0.07)
    """
    if step is None or value <= 0:
        return value
    return min(1.0, round(math.ceil(round(value / step, 9)) * step, 9))


@dataclass
class SimAccount:
    """One simulated account. Only `name` is required; see `demo_accounts()` for examples.

    `provider` picks the simulated upstream; `tier` and `credential_style` default
    to that upstream's first ones. Model and pool names are the upstream's own.
    """

    name: str
    tier: str = ""
    email: str = ""  # default f"{name}@example.invalid"
    project: str | None = "auto"  # "auto": a stable id; None: never onboarded
    credential_style: str = ""
    drain_per_hour: float = 0.05
    # Starting fractions overriding the defaults: model id -> fraction (None leaves
    # the fraction out, as upstream does for fresh accounts and new models), and
    # "pool/window" (e.g. "claude-gpt/5h") -> fraction.
    model_fractions: dict[str, float | None] = field(default_factory=dict)
    pool_fractions: dict[str, float | None] = field(default_factory=dict)
    revoked: bool = False  # the refresh token is dead from the start (invalid_grant)
    provider: str = "antigravity"
    # Methods that answer 503 from the start (until the faults are cleared), e.g.
    # ("retrieveUserQuotaSummary",): one source failing while the others answer.
    failing_methods: tuple[str, ...] = ()
    # Antigravity reports fractions in 20% steps, rounded up (so "20%" can be shown
    # while almost nothing is left); None reports them exactly, for tests that need
    # a precise number. Other upstreams ignore it.
    fraction_step: float | None = 0.2

    def __post_init__(self) -> None:
        up = self.upstream
        self.tier = self.tier or next(iter(up.tiers))
        self.credential_style = self.credential_style or up.credential_styles[0]
        if self.tier not in up.tiers:
            raise ValueError(f"SimAccount {self.name!r}: unknown tier {self.tier!r}, "
                             f"expected one of {sorted(up.tiers)}")
        if self.credential_style not in up.credential_styles:
            raise ValueError(f"SimAccount {self.name!r}: unknown credential_style "
                             f"{self.credential_style!r}, expected one of "
                             f"{up.credential_styles}")
        unknown = (set(self.model_fractions) - set(up.model_ids)) | (
            set(self.pool_fractions) - set(up.pool_windows)) | (
            set(self.failing_methods) - set(up.methods))
        if unknown:
            raise ValueError(f"SimAccount {self.name!r}: no such model, pool/window or method: "
                             f"{sorted(unknown)}")
        if problem := non_negative("drain_per_hour", self.drain_per_hour):
            raise ValueError(f"SimAccount {self.name!r}: {problem}")
        for fraction in (*self.model_fractions.values(), *self.pool_fractions.values()):
            checked_fraction(fraction)
        if not self.email:
            self.email = f"{self.name}@example.invalid"
        if self.project == "auto":
            suffix = "".join("abcdefghjkmnpqrstuvwxyz23456789"[int(unit(self.name, str(i)) * 30)]
                             for i in range(4))
            self.project = f"sim-{self.name}-{suffix}"

    @property
    def upstream(self) -> SimUpstream:
        return upstream_for(self.provider)

    @property
    def tier_name(self) -> str:
        return self.upstream.tiers[self.tier]


class AccountState:
    """One account's live state: tokens, drain rate and its upstream's quotas."""

    def __init__(self, spec: SimAccount, now: float) -> None:
        self.spec = spec
        self.upstream = spec.upstream
        self.drain = spec.drain_per_hour
        self.revoked = spec.revoked
        self.refresh_token = f"1//sim-{spec.name}-{secrets.token_urlsafe(12)}"
        self.static_token = self.upstream.token_prefix + secrets.token_urlsafe(18)
        self.models, self.pools = self.upstream.quotas(spec, now)

    def quotas(self) -> list[Quota]:
        return [*self.models.values(), *self.pools.values()]

    def model(self, model: str) -> Quota:
        if model not in self.models:
            raise KeyError(f"account {self.spec.name!r} has no model quota {model!r}; "
                           f"models: {sorted(self.models)}")
        return self.models[model]

    def pool(self, pool: str, window: str) -> Quota:
        if (pool, window) not in self.pools:
            raise KeyError(f"account {self.spec.name!r} has no pool {pool!r} window {window!r}; "
                           f"pools: {sorted(f'{p}/{w}' for p, w in self.pools)}")
        return self.pools[pool, window]


def json_error(code: int, status: str, message: str, details: Sequence[object] = ()) -> Reply:
    """`{"error": {"code", "message", "status"}}`: Google's error body, which the
    simulator also answers with for its own errors (no route, a crash)."""
    error: dict[str, object] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return json_reply({"error": error}, code)


def write_secret(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


class SimContext(Protocol):
    """What a simulated upstream may ask of the simulator's live state."""

    client_id: str
    client_secret: str
    token_ttl: float

    def register_token(self, account: str, token: str, expires_at: float) -> None: ...

    def set_credential_writer(self, account: str, write: Callable[[float], None]) -> None: ...

    def renew_credentials(self, account: str, ttl: float = ...) -> None: ...

    def credentials(self, account: str, *, expiring: bool) -> tuple[str, str, float]: ...


class SimUpstream(Protocol):
    @property
    def provider(self) -> str:
        """The exporter's provider name."""

    @property
    def tiers(self) -> Mapping[str, str]:
        """Tier id -> display name; the first is the default."""

    @property
    def credential_styles(self) -> tuple[str, ...]:
        """How exporter_config hands out credentials; the first is the default."""

    @property
    def methods(self) -> tuple[str, ...]:
        """The calls it counts and faults can target."""

    @property
    def hosts(self) -> tuple[str, ...]:
        """Host labels: path prefixes under the simulator's base URL."""

    @property
    def token_prefix(self) -> str:
        """What its static access tokens look like."""

    @property
    def model_ids(self) -> tuple[str, ...]:
        """Valid keys of SimAccount.model_fractions."""

    @property
    def pool_windows(self) -> tuple[str, ...]:
        """Valid keys of SimAccount.pool_fractions ("pool/window")."""

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        """A new account's model quotas (by id) and pool quotas (by pool, window)."""

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        """(host, method) when this upstream serves `verb path`, else None."""

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        """The honest reply to a call with a valid token (faults are applied after)."""

    def unauthorized(self) -> Reply:
        """Its reply to a missing, unknown or expired token."""

    def error(self, fault: Fault) -> Reply:
        """Its reply for an error fault (401, 403, 403_license, 429, 500, 503)."""

    def wrong_types(self, method: str) -> Any:
        """A JSON body of the right envelope with wrong types where parsers look."""

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        """The exporter config entry for the account, writing any credential file into
        `directory` in the format of the tool that owns it."""


# provider -> its simulated upstream; filled by exporter.simulator from the provider
# registry (kept here so that an account checks its tier without importing them).
UPSTREAMS: dict[str, SimUpstream] = {}


def upstream_for(provider: str) -> SimUpstream:
    try:
        return UPSTREAMS[provider]
    except KeyError:
        raise ValueError(f"no simulated upstream for provider {provider!r}; "
                         f"simulated: {sorted(UPSTREAMS)}") from None
