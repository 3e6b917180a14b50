"""The simulated upstream's live state: tokens, faults and call counts behind one lock.

Every handler returns a `Reply`; the server in `exporter.simulator` only sleeps and
writes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.simulator.antigravity import (
    BAD_TOKEN,
    HOSTS,
    INTERNAL_MODELS,
    METHODS,
    MODELS,
    NO_LICENSE,
    POOLS,
    TOKEN_SCOPE,
    WINDOWS,
    AccountState,
    Fault,
    Reply,
    SimAccount,
    checked_fraction,
    fraction_json,
    google_error,
    json_reply,
    load_code_assist,
    non_negative,
)


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
        self._accounts: dict[str, AccountState] = {}
        for spec in accounts:
            if spec.name in self._accounts:
                raise ValueError(f"duplicate simulated account name {spec.name!r}")
            self._accounts[spec.name] = AccountState(spec, now)
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

    def _account(self, name: str) -> AccountState:
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

    def _answer(self, acct: AccountState, method: str, body: bytes, now: float,
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

    def _models_body(self, acct: AccountState, now: float) -> dict[str, Any]:
        models: dict[str, Any] = {}
        for m in MODELS:
            quota = acct.models[m.id]
            info: dict[str, Any] = {"resetTime": quota.reset_time(now)}
            value = quota.value(now, acct.drain)
            if value is not None:
                info = {"remainingFraction": fraction_json(value), **info}
            models[m.id] = {"displayName": m.display_name, "modelProvider": m.provider,
                            **m.extras, "quotaInfo": info}
        models.update({k: dict(v) for k, v in INTERNAL_MODELS.items()})
        return {"models": models, "defaultAgentModelId": "gemini-3-pro-high",
                "deprecatedModelIds": {"gemini-3-pro-low": {"newModelId": "gemini-3-pro-high"}}}

    def _summary_body(self, acct: AccountState, now: float) -> dict[str, Any]:
        groups = []
        for pool, (display, description, prefix) in POOLS.items():
            buckets = []
            for window, (window_name, _) in WINDOWS.items():
                quota = acct.pools[pool, window]
                buckets.append({
                    "bucketId": f"{prefix}-{window}", "displayName": window_name,
                    "window": window,
                    "remainingFraction": fraction_json(quota.value(now, acct.drain) or 0.0),
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
        if problem := non_negative("per_hour", per_hour):
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
