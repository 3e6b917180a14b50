"""The simulated Cursor upstream: `POST /cursor/aiserver.v1.DashboardService/GetCurrentPeriodUsage`.

Plans, as Cursor answers them (money in cents, percents used):
- `pro`: $20 of included usage (`limit` 2000) split into the Auto bar
  (`autoPercentUsed`) and the other-models bar (`apiPercentUsed`);
- `ultra`: the same with $200 (`limit` 20000);
- `team`: $40 a seat with an on-demand spend limit ($100 a seat, $500 pooled);
- `enterprise`: the billing cycle only, no `planUsage` (what Cursor answers an
  Enterprise seat).

Credentials are Cursor's `state.vscdb` (SQLite, `ItemTable`), which the simulated
editor rewrites when it renews its token, or an access token given directly.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import secrets
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exporter.simkit.cli_owned import FOREVER
from exporter.simkit.common import (
    MONTH,
    AccountState,
    Fault,
    Quota,
    Reply,
    SimAccount,
    SimContext,
    json_reply,
    retry_after,
    unit,
    write_secret,
)

HOST = "cursor"
PATH = "/cursor/aiserver.v1.DashboardService/GetCurrentPeriodUsage"
METHOD = "GetCurrentPeriodUsage"
TIERS = {"pro": "Cursor Pro", "ultra": "Cursor Ultra", "team": "Cursor Teams",
         "enterprise": "Cursor Enterprise"}
LIMIT_CENTS = {"pro": 2000, "ultra": 20000, "team": 4000}
POOL_WINDOWS = ("auto/monthly", "api/monthly")
CREDENTIAL_STYLES = ("file", "access_token", "access_token_file")
_WRONG_TYPES = {"billingCycleEnd": True, "planUsage": [{"autoPercentUsed": "most"}],
                "spendLimitUsage": 7}


def user_id(spec: SimAccount) -> str:
    return "user_" + hashlib.sha256(spec.name.encode()).hexdigest()[:20]


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def mint(spec: SimAccount, expires_at: float) -> str:
    """An unsigned JWT shaped like Cursor's (its signature is filler nothing checks)."""
    claims: dict[str, Any] = {"sub": f"auth0|{user_id(spec)}", "iss": "https://authentication.cursor.sh",
                              "scope": "openid profile email offline_access",
                              "aud": "https://cursor.com", "randomness": secrets.token_hex(8)}
    if math.isfinite(expires_at):
        claims["exp"] = int(expires_at)
    return f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}.{secrets.token_urlsafe(32)}"


def write_state_db(path: Path, items: dict[str, str]) -> None:
    """Cursor's `state.vscdb` with `items`, replaced whole (a new file renamed over)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".state.", suffix=".vscdb", dir=path.parent)
    os.close(fd)
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, "
                         "value BLOB)")
            conn.executemany("INSERT INTO ItemTable VALUES (?, ?)", [
                *items.items(), ("workbench.panel.position", "bottom")])
            conn.commit()
        finally:
            conn.close()
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _ms(ts: float) -> str:
    return str(int(ts * 1000))


def _month_start(now: float) -> float:
    day = datetime.fromtimestamp(now, tz=UTC)
    return datetime(day.year, day.month, 1, tzinfo=UTC).timestamp()


def usage_body(acct: AccountState, now: float) -> dict[str, Any]:
    spec = acct.spec
    auto_q, api_q = acct.pools["auto", "monthly"], acct.pools["api", "monthly"]
    end = auto_q.reset_unix(now)
    body: dict[str, Any] = {"billingCycleStart": _ms(end - MONTH), "billingCycleEnd": _ms(end),
                            "displayThreshold": 100}
    if spec.tier == "enterprise":
        return body
    auto = auto_q.value(now, acct.drain) or 0.0
    api = api_q.value(now, acct.drain) or 0.0
    limit = LIMIT_CENTS[spec.tier]
    # The dollars follow the other-models bar; the Auto bar is drawn on its own.
    spent = round(limit * (1.0 - api))
    auto_used, api_used = round(100 * (1 - auto), 3), round(100 * (1 - api), 3)
    body["planUsage"] = {
        "totalSpend": spent, "includedSpend": spent, "bonusSpend": 0,
        "remaining": limit - spent, "limit": limit, "remainingBonus": False,
        "autoPercentUsed": auto_used, "apiPercentUsed": api_used,
        "totalPercentUsed": round((20 * auto_used + 3 * api_used) / 23, 3)}
    if spec.tier == "team":
        body["spendLimitUsage"] = {
            "totalSpend": 0, "pooledLimit": 50000, "pooledUsed": 12500,
            "pooledRemaining": 37500, "individualLimit": 10000, "individualUsed": 0,
            "individualRemaining": 10000, "limitType": "team"}
    body.update(enabled=True, displayMessage=f"You've used {int(api_used)}% of your usage limit")
    return body


def connect_error(status: int, code: str, message: str,
                  headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return json_reply({"code": code, "message": message}, status, headers)


class CursorUpstream:
    provider = "cursor"
    tiers = TIERS
    credential_styles = CREDENTIAL_STYLES
    methods = (METHOD,)
    hosts = (HOST,)
    token_prefix = "sim-cursor-static-"
    model_ids: tuple[str, ...] = ()
    pool_windows = POOL_WINDOWS

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        # The billing cycle is anchored to the subscription day: some day this month.
        offset = (1 + math.floor(unit(spec.name, "cycle") * 27)) * 86400.0
        reset_at = _month_start(now) + offset
        if reset_at <= now:
            reset_at += MONTH
        pools: dict[tuple[str, str], Quota] = {}
        for key in POOL_WINDOWS:
            pool, _, window = key.partition("/")
            default = round(0.4 + 0.6 * unit(spec.name, key), 4)
            pools[pool, window] = Quota(spec.pool_fractions.get(key, default), now, reset_at,
                                        MONTH)
        return {}, pools

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return (HOST, METHOD) if (verb, path) == ("POST", PATH) else None

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        return json_reply(usage_body(acct, now))

    def unauthorized(self) -> Reply:
        return connect_error(401, "unauthenticated", "Not logged in")

    def error(self, fault: Fault) -> Reply:
        if fault.kind == "429":
            return connect_error(429, "resource_exhausted", "Too many requests",
                                 retry_after(fault))
        status, code, message = {
            "401": (401, "unauthenticated", "Not logged in"),
            "403": (403, "permission_denied", "Not authorized to view this team's usage"),
            "403_license": (403, "permission_denied", "No active Cursor subscription"),
            "500": (500, "internal", "Internal error"),
            "503": (503, "unavailable", "Service unavailable"),
        }[fault.kind]
        return connect_error(status, code, message)

    def wrong_types(self, method: str) -> Any:
        return dict(_WRONG_TYPES)

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        style = spec.credential_style
        credentials: dict[str, str]
        if style in ("access_token", "access_token_file"):
            token = mint(spec, FOREVER)
            sim.register_token(spec.name, token, FOREVER)
            if style == "access_token":
                credentials = {"access_token": token}
            else:
                path = directory / f"{spec.name}.access_token"
                write_secret(path, token + "\n")
                credentials = {"access_token_file": str(path)}
        else:
            path = directory / f"cursor-{spec.name}" / "User" / "globalStorage" / "state.vscdb"
            refresh, _, _ = sim.credentials(spec.name, expiring=False)

            def write(expires_at: float) -> None:
                token = mint(spec, expires_at)
                sim.register_token(spec.name, token, expires_at)
                write_state_db(path, {
                    "cursorAuth/accessToken": token, "cursorAuth/refreshToken": refresh,
                    "cursorAuth/cachedEmail": spec.email,
                    "cursorAuth/stripeMembershipType": spec.tier,
                    "cursorAuth/stripeSubscriptionStatus": "active",
                    "cursorAuth/cachedSignUpType": "Auth_0"})

            sim.set_credential_writer(spec.name, write)
            sim.renew_credentials(spec.name)
            credentials = {"file": str(path)}
        return {"name": spec.name, "provider": spec.provider, "credentials": credentials,
                "endpoints": [f"{base_url}/{HOST}"]}


CURSOR = CursorUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        # Cursor: a Pro plan with room in both bars; an Ultra plan whose other-models
        # bar is low; a team seat whose other-models bar is used up (Auto still
        # serves) with its spend limits; an Enterprise seat (billing cycle only, no
        # pools); and one whose upstream keeps failing.
        SimAccount("demo-cursor-pro", provider="cursor", tier="pro", drain_per_hour=0.3),
        SimAccount("demo-cursor-ultra", provider="cursor", tier="ultra", drain_per_hour=0.3,
                   pool_fractions={"api/monthly": 0.12, "auto/monthly": 0.6}),
        SimAccount("demo-cursor-team", provider="cursor", tier="team", drain_per_hour=0.3,
                   credential_style="access_token_file",
                   pool_fractions={"api/monthly": 0.0, "auto/monthly": 0.8}),
        SimAccount("demo-cursor-enterprise", provider="cursor", tier="enterprise",
                   drain_per_hour=0.3),
        SimAccount("demo-cursor-down", provider="cursor", tier="pro", drain_per_hour=0.3,
                   failing_methods=(METHOD,)),
    ]
