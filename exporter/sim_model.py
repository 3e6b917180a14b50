"""The simulated upstream's state: accounts, quotas that drain, tokens, faults, calls.

Pure Python and thread-safe, no HTTP: `exporter.simulator` puts a loopback server in
front of it. Every handler returns a `Reply`; the server only sleeps and writes.
Reply bodies follow the example bodies of UPSTREAM.md (tests/fixtures/upstream).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
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


def _non_negative(what: str, value: object) -> str | None:
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
        problems += filter(None, [_non_negative("retry_delay", self.retry_delay),
                                  _non_negative("hang_seconds", self.hang_seconds)])
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
        if problem := _non_negative("drain_per_hour", self.drain_per_hour):
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


def _fraction_json(value: float) -> float | int:
    # Upstream writes whole fractions as 1 and 0; parsers must take ints too.
    return int(value) if value in (0.0, 1.0) else round(value, 7)


class _AccountState:
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


@dataclass
class _Token:
    account: str
    expires_at: float  # math.inf for the static tokens of access_token styles


class SimState:
    """Accounts, tokens, faults and call counts behind one lock. Every method is thread-safe."""

    client_id = "sim-client-id"
    client_secret = "sim-client-secret"

    def __init__(self, accounts: Sequence[SimAccount], *, token_ttl: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.token_ttl = float(token_ttl)
        now = clock()
        self._accounts: dict[str, _AccountState] = {}
        for spec in accounts:
            if spec.name in self._accounts:
                raise ValueError(f"duplicate simulated account name {spec.name!r}")
            self._accounts[spec.name] = _AccountState(spec, now)
        self._tokens = {a.static_token: _Token(n, math.inf) for n, a in self._accounts.items()}
        self._by_refresh = {a.refresh_token: n for n, a in self._accounts.items()}
        self._faults: list[Fault] = []
        self._calls: dict[str, dict[str, int]] = {}
        self._calls_by_host: dict[str, dict[str, int]] = {}
        self.reset_calls()

    @property
    def account_names(self) -> list[str]:
        return list(self._accounts)

    def account(self, name: str) -> SimAccount:
        """The account as it was configured (KeyError naming it when unknown)."""
        return self._account(name).spec

    # -- lookups and call accounting (caller holds the lock) --

    def _account(self, name: str) -> _AccountState:
        if name not in self._accounts:
            raise KeyError(f"no simulated account {name!r}; accounts: {sorted(self._accounts)}")
        return self._accounts[name]

    def _record(self, account: str | None, method: str, host: str) -> None:
        if account is not None:
            per_account = self._calls[account]
            per_account[method] = per_account.get(method, 0) + 1
        per_host = self._calls_by_host.setdefault(host, {})
        per_host[method] = per_host.get(method, 0) + 1

    def _take_fault(self, account: str | None, method: str, host: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(account, method, host):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    # -- the upstream API --

    def upstream(self, host: str, method: str, token: str | None,
                 body: bytes) -> tuple[Fault | None, Reply]:
        """One `POST /v1internal:<method>` call on `host`: the fault to apply and the answer."""
        with self._lock:
            now = self._clock()
            tok = self._tokens.get(token) if token else None
            self._record(tok.account if tok else None, method, host)
            fault = self._take_fault(tok.account if tok else None, method, host)
            if tok is None or now >= tok.expires_at:
                reply = google_error(401, "UNAUTHENTICATED", BAD_TOKEN)
            else:
                onboarded = fault is None or fault.kind != "not_onboarded"
                reply = self._answer(self._accounts[tok.account], method, body, now, onboarded)
            return fault, reply

    def _answer(self, acct: _AccountState, method: str, body: bytes, now: float,
                onboarded: bool) -> Reply:
        project = acct.spec.project if onboarded else None
        if method == "loadCodeAssist":
            return json_reply(load_code_assist(acct.spec, project))
        if method not in ("fetchAvailableModels", "retrieveUserQuotaSummary"):
            return google_error(404, "NOT_FOUND", f"Method {method!r} not found.")
        try:
            asked = json.loads(body or b"{}").get("project")
        except (ValueError, AttributeError):
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if not asked:
            return google_error(400, "INVALID_ARGUMENT",
                                "Request contains an invalid argument: project is required.")
        if project is None or asked != project:
            return google_error(403, "PERMISSION_DENIED",
                                f"Permission denied on resource project {asked}.")
        if method == "fetchAvailableModels":
            return json_reply(self._models_body(acct, now))
        if acct.spec.tier == "free-tier":
            return google_error(403, "PERMISSION_DENIED", NO_LICENSE)
        return json_reply(self._summary_body(acct, now))

    def _models_body(self, acct: _AccountState, now: float) -> dict[str, Any]:
        models: dict[str, Any] = {}
        for m in MODELS:
            quota = acct.models[m.id]
            info: dict[str, Any] = {"resetTime": quota.reset_time(now)}
            value = quota.value(now, acct.drain)
            if value is not None:
                info = {"remainingFraction": _fraction_json(value), **info}
            models[m.id] = {"displayName": m.display_name, "modelProvider": m.provider,
                            **m.extras, "quotaInfo": info}
        models.update({k: dict(v) for k, v in INTERNAL_MODELS.items()})
        return {"models": models, "defaultAgentModelId": "gemini-3-pro-high",
                "deprecatedModelIds": {"gemini-3-pro-low": {"newModelId": "gemini-3-pro-high"}}}

    def _summary_body(self, acct: _AccountState, now: float) -> dict[str, Any]:
        groups = []
        for pool, (display, description, prefix) in POOLS.items():
            buckets = []
            for window, (window_name, _) in WINDOWS.items():
                quota = acct.pools[pool, window]
                buckets.append({
                    "bucketId": f"{prefix}-{window}", "displayName": window_name,
                    "window": window,
                    "remainingFraction": _fraction_json(quota.value(now, acct.drain) or 0.0),
                    "resetTime": quota.reset_time(now)})
            groups.append({"displayName": display, "description": description,
                           "buckets": buckets})
        return {"groups": groups}

    def token(self, form: Mapping[str, str]) -> tuple[Fault | None, Reply]:
        """One `POST /token` (OAuth refresh) with a parsed form body."""
        with self._lock:
            name = self._by_refresh.get(form.get("refresh_token", ""))
            self._record(name, "token", "oauth")
            fault = self._take_fault(name, "token", "oauth")
            if (form.get("client_id"), form.get("client_secret")) != (
                    self.client_id, self.client_secret):
                reply = json_reply({"error": "invalid_client",
                                    "error_description": "The OAuth client was not found."}, 401)
            elif form.get("grant_type") != "refresh_token":
                reply = json_reply({"error": "unsupported_grant_type",
                                    "error_description": "Invalid grant_type."}, 400)
            elif name is None or self._accounts[name].revoked:
                reply = json_reply({"error": "invalid_grant",
                                    "error_description": "Token has been expired or revoked."}, 400)
            else:
                ttl = self.token_ttl
                reply = json_reply({"access_token": self._issue(name),
                                    "expires_in": int(ttl) if ttl.is_integer() else ttl,
                                    "scope": TOKEN_SCOPE, "token_type": "Bearer"})
            return fault, reply

    def _issue(self, account: str) -> str:
        token = f"ya29.sim-{secrets.token_urlsafe(24)}"
        self._tokens[token] = _Token(account, self._clock() + self.token_ttl)
        return token

    # -- control --

    def set_fault(self, account: str, kind: str, *, method: str = "*", host: str = "*",
                  times: int | None = None, retry_delay: float = 3.2,
                  hang_seconds: float = 60.0) -> None:
        """Misbehave on the matching calls of `account` ("*": every account); see FAULT_KINDS.

        `method="*"` and `host="*"` also match the OAuth token endpoint (method
        "token", host "oauth"); pass a method or host to fault the API alone.
        """
        fault = Fault(account, kind, method, host, times, retry_delay, hang_seconds)
        with self._lock:
            if account != "*":
                self._account(account)
            self._faults.append(fault)

    def clear_faults(self, account: str | None = None) -> None:
        with self._lock:
            self._faults = [f for f in self._faults if account is not None and f.account != account]

    def set_model_fraction(self, account: str, model: str, fraction: float | None) -> None:
        with self._lock:
            acct = self._account(account)
            acct.model(model).set(self._clock(), fraction)

    def set_pool_fraction(self, account: str, pool: str, window: str, fraction: float) -> None:
        checked_fraction(fraction, optional=False)  # pools always carry a fraction
        with self._lock:
            acct = self._account(account)
            acct.pool(pool, window).set(self._clock(), fraction)

    def exhaust(self, account: str) -> None:
        """Every quota of the account at 0 until its next reset (one with no fraction too)."""
        with self._lock:
            acct = self._account(account)
            for quota in acct.quotas():
                quota.set(self._clock(), 0.0)

    def set_drain(self, account: str, per_hour: float) -> None:
        if problem := _non_negative("per_hour", per_hour):
            raise ValueError(problem)
        with self._lock:
            acct = self._account(account)
            for quota in acct.quotas():
                quota.rebase(self._clock(), acct.drain)
            acct.drain = per_hour

    def revoke_refresh_token(self, account: str) -> None:
        with self._lock:
            self._account(account).revoked = True

    def expire_access_tokens(self, account: str) -> None:
        with self._lock:
            self._account(account)
            now = self._clock()
            for tok in self._tokens.values():
                if tok.account == account:
                    tok.expires_at = min(tok.expires_at, now)

    def model_fraction(self, account: str, model: str) -> float | None:
        with self._lock:
            acct = self._account(account)
            return acct.model(model).value(self._clock(), acct.drain)

    def pool_fraction(self, account: str, pool: str, window: str) -> float:
        with self._lock:
            acct = self._account(account)
            return acct.pool(pool, window).value(self._clock(), acct.drain) or 0.0

    def calls(self) -> dict[str, dict[str, int]]:
        """Calls per account and method, counted before any fault applied."""
        with self._lock:
            return {name: dict(methods) for name, methods in self._calls.items()}

    def calls_by_host(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {host: dict(methods) for host, methods in self._calls_by_host.items()}

    def reset_calls(self) -> None:
        with self._lock:
            self._calls = {name: dict.fromkeys(METHODS, 0) for name in self._accounts}
            self._calls_by_host = {host: dict.fromkeys(METHODS, 0) for host in HOSTS}

    def state(self) -> dict[str, Any]:
        """Everything a demo or a test in another process may want to see, JSON-ready."""
        with self._lock:
            now = self._clock()
            accounts = {}
            for name, acct in self._accounts.items():
                spec = acct.spec
                accounts[name] = {
                    "tier": spec.tier, "tier_name": spec.tier_name, "email": spec.email,
                    "project": spec.project, "credential_style": spec.credential_style,
                    "drain_per_hour": acct.drain, "refresh_token_revoked": acct.revoked,
                    "models": {m: {"fraction": q.value(now, acct.drain),
                                   "reset_time": q.reset_time(now)}
                               for m, q in acct.models.items()},
                    "pools": {f"{p}/{w}": {"fraction": q.value(now, acct.drain),
                                           "reset_time": q.reset_time(now)}
                              for (p, w), q in acct.pools.items()}}
            faults = [dataclasses.asdict(f) for f in self._faults]
            return {"now": now, "accounts": accounts, "faults": faults}

    # -- credentials --

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token handed out so far: what must never leak."""
        with self._lock:
            return [*self._tokens, *self._by_refresh]

    def credentials(self, account: str, *, expiring: bool) -> tuple[str, str, float]:
        """(refresh token, access token, its expiry): expiring as from the token
        endpoint, or the account's static token that never expires."""
        with self._lock:
            acct = self._account(account)
            if not expiring:
                return acct.refresh_token, acct.static_token, math.inf
            token = self._issue(account)
            return acct.refresh_token, token, self._tokens[token].expires_at
