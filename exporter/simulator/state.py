"""The simulated upstreams' live state: accounts, tokens, faults and call counts
behind one lock.

Every handler returns a `Reply`; the server in `exporter.simulator.server` only
sleeps and writes. Each account answers through its provider's `SimUpstream`.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from exporter.simkit.common import (
    AccountState,
    Fault,
    Reply,
    SimAccount,
    checked_fraction,
    json_reply,
    non_negative,
    stepped,
)
from exporter.simulator.upstreams import (
    SimUpstream,
    all_hosts,
    all_methods,
    host_methods,
    token_upstream,
)

# The OAuth token endpoint (Google's, shared by the Google upstreams) counts as a
# method on its own host.
TOKEN_METHOD = "token"
TOKEN_HOST = "oauth"
# How long an access token in a CLI's own credentials file lasts (Claude Code's do
# about this long); `renew_credentials` writes a new one.
CLI_TOKEN_TTL = 8 * 3600.0
# Requests kept for `requests_seen()`: enough for any test, bounded for long demos.
REQUEST_LOG = 5000


@dataclass
class _Token:
    account: str
    expires_at: float  # math.inf for the static tokens of access_token styles


@dataclass(frozen=True)
class SeenRequest:
    """One request as the simulator received it, control API excepted."""

    verb: str
    path: str  # with its query string
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        """Everything in it, for "this string was never sent" checks."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.verb} {self.path}\n{head}\n\n{self.body.decode('utf-8', 'replace')}"


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
        self._faults: list[Fault] = [
            Fault(spec.name, "503", method=method)
            for spec in accounts for method in spec.failing_methods]
        self._calls: dict[str, dict[str, int]] = {}
        self._calls_by_host: dict[str, dict[str, int]] = {}
        self._requests: deque[SeenRequest] = deque(maxlen=REQUEST_LOG)
        # account -> writes its credentials file with a new token expiring at the time given
        self._writers: dict[str, Callable[[float], None]] = {}
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

    def upstream(
        self, host: str, method: str, token: str | None, body: bytes,
        serving: Sequence[SimUpstream],
    ) -> tuple[SimUpstream, Fault | None, Reply]:
        """One call of `method` on `host`: who answers, the fault to apply and the
        honest answer.

        `serving` are the upstreams whose path was called; an account of another
        provider gets a 401, as a real host would answer a stranger's token.
        """
        with self._lock:
            now = self._clock()
            tok = self._tokens.get(token) if token else None
            self._record(tok.account if tok else None, method, host)
            fault = self._take_fault(tok.account if tok else None, method, host)
            acct = self._accounts[tok.account] if tok else None
            if acct is None or tok is None or now >= tok.expires_at or (
                    acct.upstream not in serving):
                return serving[0], fault, serving[0].unauthorized()
            return acct.upstream, fault, acct.upstream.answer(acct, method, body, now, fault)

    def token(self, form: Mapping[str, str]) -> tuple[Fault | None, Reply]:
        """One `POST /token` (OAuth refresh) with a parsed form body."""
        with self._lock:
            name = self._by_refresh.get(form.get("refresh_token", ""))
            self._record(name, TOKEN_METHOD, TOKEN_HOST)
            fault = self._take_fault(name, TOKEN_METHOD, TOKEN_HOST)
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
                                    "scope": getattr(token_upstream(), "token_scope", ""),
                                    "token_type": "Bearer"})
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
        problems = fault.problems((*all_methods(), TOKEN_METHOD), (*all_hosts(), TOKEN_HOST))
        if problems:
            raise ValueError("bad fault: " + "; ".join(problems))
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

    def set_pool_fraction(self, account: str, pool: str, window: str,
                          fraction: float | None) -> None:
        checked_fraction(fraction)  # None: upstream leaves the bucket's fraction out
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

    def model_fraction(self, account: str, model: str, *, exact: bool = False) -> float | None:
        """The model's fraction as upstream reports it now (in steps where it reports
        in steps); `exact=True`: the simulator's own unrounded number."""
        with self._lock:
            acct = self._account(account)
            value = acct.model(model).value(self._clock(), acct.drain)
            return value if exact or value is None else _reported(acct, value)

    def pool_fraction(self, account: str, pool: str, window: str, *,
                      exact: bool = False) -> float:
        """A pool window's fraction as upstream reports it (see `model_fraction`)."""
        with self._lock:
            acct = self._account(account)
            value = acct.pool(pool, window).value(self._clock(), acct.drain) or 0.0
            return value if exact else _reported(acct, value)

    def calls(self) -> dict[str, dict[str, int]]:
        """Calls per account and method, counted before any fault applied."""
        with self._lock:
            return {name: dict(methods) for name, methods in self._calls.items()}

    def record_request(self, verb: str, path: str, headers: Mapping[str, str],
                       body: bytes) -> None:
        with self._lock:
            self._requests.append(SeenRequest(verb, path, dict(headers), body))

    def requests_seen(self) -> list[SeenRequest]:
        """The latest requests (up to REQUEST_LOG), oldest first."""
        with self._lock:
            return list(self._requests)

    def calls_by_host(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {host: dict(methods) for host, methods in self._calls_by_host.items()}

    def reset_calls(self) -> None:
        """Zero the call counts and forget the requests seen."""
        with self._lock:
            self._requests.clear()
            self._calls = {name: dict.fromkeys((*acct.upstream.methods, TOKEN_METHOD), 0)
                           for name, acct in self._accounts.items()}
            # Each host counts the methods of the upstreams behind it (and the token
            # endpoint's); an unknown method called on it is counted when it comes.
            served = {**host_methods(), TOKEN_HOST: all_methods()}
            self._calls_by_host = {host: dict.fromkeys((*methods, TOKEN_METHOD), 0)
                                   for host, methods in served.items()}

    def state(self) -> dict[str, Any]:
        """Everything a demo or a test in another process may want to see, JSON-ready."""
        with self._lock:
            now = self._clock()
            accounts = {}
            for name, acct in self._accounts.items():
                spec = acct.spec
                accounts[name] = {
                    "provider": spec.provider,
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

    def register_token(self, account: str, token: str, expires_at: float) -> None:
        """Accept `token` for `account` until `expires_at` (math.inf: for good)."""
        with self._lock:
            self._account(account)
            self._tokens[token] = _Token(account, expires_at)

    def set_credential_writer(self, account: str, write: Callable[[float], None]) -> None:
        """How the account's own credentials file is rewritten: `write(expires_at)` mints
        a token that expires then, registers it and writes it into the file."""
        with self._lock:
            self._account(account)
            self._writers[account] = write

    def _writer(self, account: str) -> Callable[[float], None]:
        with self._lock:
            self._account(account)
            if account not in self._writers:
                raise KeyError(f"account {account!r} has no credentials file the simulator "
                               "renews (credential_style file or cliproxyapi of a CLI provider)")
            return self._writers[account]

    def renew_credentials(self, account: str, ttl: float = CLI_TOKEN_TTL) -> None:
        """What running the CLI once does: a fresh access token, written into the
        account's credentials file (replaced, as the CLIs do: a new inode)."""
        write = self._writer(account)
        write(self._clock() + ttl)

    def expire_credentials(self, account: str) -> None:
        """The token has expired: upstream answers 401 to every token of the account,
        and the file holds one whose expiry passed a minute ago."""
        write = self._writer(account)
        self.expire_access_tokens(account)
        write(self._clock() - 60.0)

    def credentials(self, account: str, *, expiring: bool) -> tuple[str, str, float]:
        """(refresh token, access token, its expiry): expiring as from the token
        endpoint, or the account's static token that never expires."""
        with self._lock:
            acct = self._account(account)
            if not expiring:
                return acct.refresh_token, acct.static_token, math.inf
            token = self._issue(account)
            return acct.refresh_token, token, self._tokens[token].expires_at


def _reported(acct: AccountState, value: float) -> float:
    """`value` as the account's upstream shows it: upstreams that report in steps
    (`reports_in_steps`, Antigravity's 20%) round up to the account's fraction_step."""
    if getattr(acct.spec.upstream, "reports_in_steps", False):
        return stepped(value, acct.spec.fraction_step)
    return value
