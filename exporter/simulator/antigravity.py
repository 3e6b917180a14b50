"""The simulated upstream's model: accounts, quotas that drain, faults, reply bodies.

Pure Python, no HTTP; `exporter.simulator.state.SimState` holds the live state behind one
lock and `exporter.simulator` puts a loopback server in front of it. Reply bodies
follow the upstream example bodies (tests/fixtures/upstream).
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

from exporter.timefmt import rfc3339

METHODS = ("loadCodeAssist", "fetchAvailableModels", "retrieveUserQuotaSummary", "token")
HOSTS = ("daily", "prod", "oauth")  # "oauth": the token endpoint
TIER_NAMES = {
    "free-tier": "Gemini Code Assist for individuals",
    "standard-tier": "Gemini Code Assist",
    "g1-pro-tier": "Google AI Pro",
    "g1-ultra-tier": "Google AI Ultra",
}
CREDENTIAL_STYLES = (
    "refresh_token", "refresh_token_file", "access_token", "access_token_file", "file")
TOKEN_SCOPE = (
    "https://www.googleapis.com/auth/cloud-platform "
    "https://www.googleapis.com/auth/userinfo.email"
)
FIVE_HOURS = 5 * 3600.0
WEEK = 7 * 86400.0


@dataclass(frozen=True)
class _Model:
    id: str
    display_name: str
    provider: str
    reset_group: str  # models of one group share their reset time, as upstream shows
    extras: Mapping[str, object] = field(default_factory=dict)
    free_has_fraction: bool = True  # the free-tier quirk: no remainingFraction at all


MODELS = (
    _Model("gemini-3-pro-high", "Gemini 3 Pro (High)", "MODEL_PROVIDER_GOOGLE", "pro", {
        "recommended": True, "supportsImages": True, "supportsThinking": True,
        "maxTokens": 1048576, "maxOutputTokens": 65535}),
    _Model("gemini-3-flash", "Gemini 3 Flash", "MODEL_PROVIDER_GOOGLE", "flash"),
    _Model("claude-sonnet-4-5", "Claude Sonnet 4.5", "MODEL_PROVIDER_ANTHROPIC", "3p"),
    _Model("claude-opus-4-5-thinking", "Claude Opus 4.5 (Thinking)", "MODEL_PROVIDER_ANTHROPIC",
           "3p", {"supportsThinking": True}, free_has_fraction=False),
    _Model("gpt-oss-120b-medium", "GPT-OSS 120B (Medium)", "MODEL_PROVIDER_OPENAI", "3p",
           free_has_fraction=False),
)
# Internal entries real replies carry without quotaInfo: not quotas.
INTERNAL_MODELS: Mapping[str, Mapping[str, object]] = {
    "chat_20706": {}, "tab_flash_lite_preview": {"displayName": ""}}
# pool slug -> (group displayName, description, bucketId prefix)
POOLS = {
    "gemini": ("Gemini Models", "Models within this group: Gemini Flash, Gemini Pro", "gemini"),
    "claude-gpt": ("Claude and GPT models",
                   "Models within this group: Claude Sonnet, Claude Opus, GPT-OSS", "3p"),
}
WINDOWS = {"5h": ("5 Hour Limit", FIVE_HOURS), "weekly": ("Weekly Limit", WEEK)}


def _is_number(value: object) -> TypeGuard[float]:
    # JSON from the control API is untyped, and bool is an int to Python.
    return isinstance(value, int | float) and not isinstance(value, bool)


def checked_fraction(fraction: object, *, optional: bool = True) -> float | None:
    """`fraction` if it is a number in [0, 1] (or None when `optional`), else ValueError."""
    if fraction is None and optional:
        return None
    if not _is_number(fraction) or not 0.0 <= fraction <= 1.0:
        allowed = "a number from 0 to 1" + (" or None" if optional else "")
        raise ValueError(f"fraction must be {allowed}, not {fraction!r}")
    return float(fraction)


def non_negative(what: str, value: object) -> str | None:
    """A problem text unless `value` is a number >= 0."""
    if not _is_number(value) or value < 0:
        return f"{what} must be a number >= 0, not {value!r}"
    return None


NO_LICENSE = "You do not have a valid license of this product."
BAD_TOKEN = ("Request had invalid authentication credentials. Expected OAuth 2 access token, "
             "login cookie or other valid authentication credential.")
FAULT_KINDS = ("401", "403", "403_license", "429", "500", "503", "hang", "malformed", "html",
               "wrong_types", "large", "not_onboarded")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    delay: float = 0.0  # seconds to wait before answering (the "hang" fault)


def json_reply(payload: object, status: int = 200) -> Reply:
    return Reply(status, json.dumps(payload).encode())


def google_error(code: int, status: str, message: str, details: Sequence[object] = ()) -> Reply:
    error: dict[str, object] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return json_reply({"error": error}, code)


@dataclass
class Fault:
    """One injected misbehaviour; `times` None lasts until cleared."""

    account: str  # an account name or "*"
    kind: str
    method: str = "*"
    host: str = "*"
    times: int | None = None
    retry_delay: float = 3.2
    hang_seconds: float = 60.0

    def __post_init__(self) -> None:
        problems = [
            f"{what} {value!r} is not one of {allowed}"
            for what, value, allowed in (("kind", self.kind, FAULT_KINDS),
                                         ("method", self.method, ("*", *METHODS)),
                                         ("host", self.host, ("*", *HOSTS)))
            if value not in allowed]
        if self.times is not None and (not isinstance(self.times, int) or self.times < 1):
            problems.append(f"times must be None or an integer >= 1, not {self.times!r}")
        problems += filter(None, [non_negative("retry_delay", self.retry_delay),
                                  non_negative("hang_seconds", self.hang_seconds)])
        if problems:
            raise ValueError("bad fault: " + "; ".join(problems))

    def matches(self, account: str | None, method: str, host: str) -> bool:
        return (self.account in ("*", account) and self.method in ("*", method)
                and self.host in ("*", host))


def _unit(*parts: str) -> float:
    """A stable pseudo-random number in [0, 1) so accounts differ but runs repeat."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class SimAccount:
    """One simulated account. Only `name` is required; see `demo_accounts()` for examples."""

    name: str
    tier: str = "g1-pro-tier"
    email: str = ""  # default f"{name}@example.invalid"
    project: str | None = "auto"  # "auto": a stable id; None: never onboarded
    credential_style: str = "refresh_token"
    drain_per_hour: float = 0.05
    # Starting fractions overriding the defaults: model id -> fraction (None omits
    # remainingFraction), and "pool/window" (e.g. "claude-gpt/5h") -> fraction.
    model_fractions: dict[str, float | None] = field(default_factory=dict)
    pool_fractions: dict[str, float] = field(default_factory=dict)
    revoked: bool = False  # the refresh token is dead from the start (invalid_grant)

    def __post_init__(self) -> None:
        if self.tier not in TIER_NAMES:
            raise ValueError(f"SimAccount {self.name!r}: unknown tier {self.tier!r}, "
                             f"expected one of {sorted(TIER_NAMES)}")
        if self.credential_style not in CREDENTIAL_STYLES:
            raise ValueError(f"SimAccount {self.name!r}: unknown credential_style "
                             f"{self.credential_style!r}, expected one of {CREDENTIAL_STYLES}")
        unknown = (set(self.model_fractions) - {m.id for m in MODELS}) | (
            set(self.pool_fractions) - {f"{p}/{w}" for p in POOLS for w in WINDOWS})
        if unknown:
            raise ValueError(f"SimAccount {self.name!r}: no such model or pool/window: "
                             f"{sorted(unknown)}")
        if problem := non_negative("drain_per_hour", self.drain_per_hour):
            raise ValueError(f"SimAccount {self.name!r}: {problem}")
        for fraction in self.model_fractions.values():
            checked_fraction(fraction)
        for fraction in self.pool_fractions.values():
            checked_fraction(fraction, optional=False)
        if not self.email:
            self.email = f"{self.name}@example.invalid"
        if self.project == "auto":
            suffix = "".join("abcdefghjkmnpqrstuvwxyz23456789"[int(_unit(self.name, str(i)) * 30)]
                             for i in range(4))
            self.project = f"sim-{self.name}-{suffix}"

    @property
    def tier_name(self) -> str:
        return TIER_NAMES[self.tier]

    @property
    def paid(self) -> bool:
        return self.tier.startswith("g1-")


def load_code_assist(spec: SimAccount, project: str | None) -> dict[str, Any]:
    """The loadCodeAssist reply: paid tiers as paidTier over standard-tier, like upstream."""
    def tier(tier_id: str, default: bool = False) -> dict[str, Any]:
        return {"id": tier_id, "name": TIER_NAMES[tier_id], "isDefault": default}

    free = tier("free-tier", default=True)
    if project is None:
        return {"allowedTiers": [free], "ineligibleTiers": [{
            "reasonCode": "VALIDATION_REQUIRED",
            "reasonMessage": "Verify your account to continue.",
            "tierId": "standard-tier", "tierName": TIER_NAMES["standard-tier"]}]}
    if spec.tier == "free-tier":
        return {"cloudaicompanionProject": {"id": project, "name": project},
                "currentTier": free, "allowedTiers": [free]}
    reply: dict[str, Any] = {"cloudaicompanionProject": project,
                             "currentTier": {**tier("standard-tier"),
                                             "description": "Unlimited coding assistant"},
                             "allowedTiers": [tier("standard-tier", default=True)]}
    if spec.paid:
        reply["paidTier"] = {"id": spec.tier, "name": spec.tier_name,
                             "description": spec.tier_name}
    return reply


class Quota:
    """A fraction that drains linearly and resets to 1.0 every `period` seconds."""

    def __init__(self, start: float | None, now: float, reset_at: float, period: float,
                 fractional: bool = False) -> None:
        self.start = start  # fraction at t0; None: upstream omits remainingFraction
        self.t0 = now
        self.reset_at = reset_at
        self.period = period
        self.fractional = fractional  # render resetTime with fractional seconds

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

    def reset_time(self, now: float) -> str:
        self._roll(now)
        if not self.fractional:
            return rfc3339(self.reset_at)
        return datetime.fromtimestamp(self.reset_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fraction_json(value: float) -> float | int:
    # Upstream writes whole fractions as 1 and 0; parsers must take ints too.
    return int(value) if value in (0.0, 1.0) else round(value, 7)


class AccountState:
    def __init__(self, spec: SimAccount, now: float) -> None:
        self.spec = spec
        self.drain = spec.drain_per_hour
        self.revoked = spec.revoked
        self.refresh_token = f"1//sim-{spec.name}-{secrets.token_urlsafe(12)}"
        self.static_token = f"ya29.sim-static-{secrets.token_urlsafe(18)}"
        base = float(math.floor(now))
        self.models: dict[str, Quota] = {}
        for m in MODELS:
            default: float | None = round(0.55 + 0.45 * _unit(spec.name, m.id), 4)
            if spec.tier == "free-tier" and not m.free_has_fraction:
                default = None
            start = spec.model_fractions.get(m.id, default)
            offset = 600 + math.floor(_unit(spec.name, m.reset_group) * (FIVE_HOURS - 600))
            fractional = m.id == "gemini-3-flash"
            reset_at = base + offset + (0.123456 if fractional else 0.0)
            self.models[m.id] = Quota(start, now, reset_at, FIVE_HOURS, fractional)
        self.pools: dict[tuple[str, str], Quota] = {}
        for pool in POOLS:
            for window, (_, period) in WINDOWS.items():
                default = round(0.5 + 0.5 * _unit(spec.name, pool, window), 4)
                start = spec.pool_fractions.get(f"{pool}/{window}", default)
                offset = 600 + math.floor(_unit(spec.name, pool, window, "reset") * (period - 600))
                self.pools[pool, window] = Quota(start, now, base + offset, period)

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
                           f"pools: {sorted(POOLS)}, windows: {sorted(WINDOWS)}")
        return self.pools[pool, window]
