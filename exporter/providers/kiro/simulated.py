"""The simulated Kiro upstream: `POST /kiro/` with `X-Amz-Target:
AmazonCodeWhispererService.GetUsageLimits`, in the shape of a live reply.

Plans (`subscriptionInfo.type`), with the credits of a month:
- `Q_DEVELOPER_STANDALONE_FREE` (KIRO FREE): 50 credits, no overage;
- `Q_DEVELOPER_STANDALONE_PRO` (KIRO PRO): 1,000 credits, overage disabled;
- `Q_DEVELOPER_STANDALONE_POWER` (KIRO POWER): 10,000 credits with overage enabled
  up to a 10,000-credit cap; drained past 0 it keeps serving, as Kiro does:
  `currentUsage` grows past the limit and `currentOverages` counts the overage.

Credentials, in the formats of Kiro's tools: CLIProxyAPIPlus's `kiro-*.json`
("file"), the Kiro IDE's `kiro-auth-token.json` ("ide_file"), kiro-cli's SQLite
database ("cli_db"), or a bare token. Each file carries a refresh token the
exporter must never send.
"""

from __future__ import annotations

import json
import math
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from exporter.simkit.cli_owned import write_json
from exporter.simkit.common import (
    MONTH,
    AccountState,
    Fault,
    Quota,
    Reply,
    SimAccount,
    SimContext,
    json_reply,
    next_month,
    retry_after,
    unit,
)
from exporter.timefmt import rfc3339

HOST = "kiro"
PATH = "/kiro/"
METHOD = "GetUsageLimits"
TIERS = {"Q_DEVELOPER_STANDALONE_POWER": "KIRO POWER",
         "Q_DEVELOPER_STANDALONE_PRO": "KIRO PRO",
         "Q_DEVELOPER_STANDALONE_FREE": "KIRO FREE"}
CREDITS = {"Q_DEVELOPER_STANDALONE_POWER": 10000.0, "Q_DEVELOPER_STANDALONE_PRO": 1000.0,
           "Q_DEVELOPER_STANDALONE_FREE": 50.0}
OVERAGE_CAP = 10000.0
OVERAGE_RATE = 0.04
POOL = "credit/monthly"
REGION = "us-east-1"


def profile_arn(spec: SimAccount) -> str:
    digits = str(int(unit(spec.name, "arn") * 1e12)).zfill(12)
    return f"arn:aws:codewhisperer:{REGION}:{digits}:profile/SIM{spec.name.upper()}"


def aws_error(status: int, message: str,
              headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return json_reply({"message": message, "reason": None}, status, headers)



def _used(pool: Quota, drain: float, now: float, limit: float) -> tuple[float, float]:
    """(current usage, overage) in credits: past the plan's credits, what the drain
    goes on spending is overage."""
    value = pool.value(now, drain) or 0.0
    if value > 0.0:
        return round((1.0 - value) * limit, 2), 0.0
    start = pool.start or 0.0
    past = max(drain * (now - pool.t0) / 3600.0 - start, 0.0)
    overage = round(min(past * limit, OVERAGE_CAP), 2)
    return limit + overage, overage


def usage_body(acct: AccountState, now: float) -> dict[str, Any]:
    tier = acct.spec.tier
    limit = CREDITS[tier]
    pool = acct.pools["credit", "monthly"]
    reset = float(f"{pool.reset_unix(now):.7E}")  # Kiro writes it as 1.7882208E9
    power = tier == "Q_DEVELOPER_STANDALONE_POWER"
    current, overage = _used(pool, acct.drain, now, limit)
    if not power:
        current, overage = min(current, limit), 0.0
    entry: dict[str, Any] = {
        "bonuses": [], "currency": "USD", "displayName": "Credit", "nextDateReset": reset,
        "resourceType": "CREDIT", "unit": "INVOCATIONS",
        "usageLimit": int(limit), "usageLimitWithPrecision": limit,
        "currentUsage": int(current), "currentUsageWithPrecision": current,
        "currentOverages": int(overage), "currentOveragesWithPrecision": overage,
        "overageCredits": [], "overageRate": OVERAGE_RATE,
        "overageCharges": round(overage * OVERAGE_RATE, 6)}
    if power:
        entry |= {"overageCap": int(OVERAGE_CAP), "overageCapWithPrecision": OVERAGE_CAP}
    days = max(0, math.floor((pool.reset_unix(now) - now) / 86400.0))
    return {
        "daysUntilReset": days, "limits": [], "nextDateReset": reset,
        "overageConfiguration": {
            "__type": "com.amazon.aws.codewhisperer#OverageConfiguration",
            "overageStatus": "ENABLED" if power else "DISABLED"},
        "subscriptionInfo": {
            "overageCapability": "OVERAGE_CAPABLE" if power else "OVERAGE_INCAPABLE",
            "subscriptionTitle": TIERS[tier], "type": tier},
        "usageBreakdownList": [entry],
    }


def _write_cli_db(path: Path, token: str, refresh: str, arn: str, expires_at: float) -> None:
    """kiro-cli's `data.sqlite3`: its `auth_kv` token row and `state` profile row,
    created or updated in place as kiro-cli does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    try:
        db.execute("CREATE TABLE IF NOT EXISTS auth_kv (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value BLOB)")
        row = {"access_token": token, "refresh_token": refresh, "region": REGION,
               "expires_at": rfc3339(expires_at), "scopes": ["codewhisperer:completions"]}
        db.execute("INSERT OR REPLACE INTO auth_kv VALUES (?, ?)",
                   ("kirocli:odic:token", json.dumps(row)))
        db.execute("INSERT OR REPLACE INTO state VALUES (?, ?)",
                   ("api.codewhisperer.profile", json.dumps({"arn": arn, "profileName": "sim"})))
        db.commit()
    finally:
        db.close()
    path.chmod(0o600)


class KiroUpstream:
    provider = "kiro"
    tiers = TIERS
    credential_styles = ("file", "ide_file", "cli_db", "access_token")
    methods = (METHOD,)
    hosts = (HOST,)
    token_prefix = "aoaSIM"
    model_ids: tuple[str, ...] = ()
    pool_windows = (POOL,)

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        default = round(0.3 + 0.7 * unit(spec.name, POOL), 4)
        start = spec.pool_fractions.get(POOL, default)
        return {}, {("credit", "monthly"): Quota(start, now, next_month(now), MONTH)}

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return (HOST, METHOD) if (verb, path) == ("POST", PATH) else None

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        return json_reply(usage_body(acct, now))

    def unauthorized(self) -> Reply:
        return aws_error(403, "The bearer token included in the request is invalid.")

    def error(self, fault: Fault) -> Reply:
        if fault.kind == "429":
            return aws_error(429, "Rate exceeded", retry_after(fault))
        status, message = {
            "401": (403, "The bearer token included in the request is invalid."),
            "403": (403, "User is not authorized to make this call."),
            "403_license": (403, "User is not authorized to make this call."),
            "500": (500, "Encountered an unexpected error when processing the request, "
                         "please try again."),
            "503": (503, "Service Unavailable"),
        }[fault.kind]
        return aws_error(status, message)

    def wrong_types(self, method: str) -> Any:
        return {"usageBreakdownList": {"resourceType": 7}, "nextDateReset": "soon"}

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        style = spec.credential_style
        credentials: dict[str, str]
        if style == "access_token":
            _, token, _ = sim.credentials(spec.name, expiring=False)
            credentials = {"access_token": token}
        else:
            path = _credentials_path(spec, directory)
            refresh, _, _ = sim.credentials(spec.name, expiring=False)

            def write(expires_at: float) -> None:
                # What Kiro or kiro-cli does when it renews its sign-in.
                token = self.token_prefix + secrets.token_urlsafe(18)
                sim.register_token(spec.name, token, expires_at)
                _write_credentials(spec, path, token, refresh, expires_at)

            sim.set_credential_writer(spec.name, write)
            sim.renew_credentials(spec.name, ttl=3600.0)
            credentials = {"file": str(path)}
        return {"name": spec.name, "provider": spec.provider, "credentials": credentials,
                "endpoints": [f"{base_url}/{HOST}"]}


def _credentials_path(spec: SimAccount, directory: Path) -> Path:
    if spec.credential_style == "cli_db":
        return directory / f"kiro-cli-{spec.name}" / "data.sqlite3"
    if spec.credential_style == "ide_file":
        return directory / f"kiro-ide-{spec.name}" / "kiro-auth-token.json"
    return directory / f"kiro-github-{spec.name}.json"


def _write_credentials(spec: SimAccount, path: Path, token: str, refresh: str,
                       expires_at: float) -> None:
    arn = profile_arn(spec)
    if spec.credential_style == "cli_db":
        _write_cli_db(path, token, refresh, arn, expires_at)
        return
    expires = rfc3339(expires_at)
    doc: dict[str, Any] = (
        {"accessToken": token, "refreshToken": refresh, "profileArn": arn,
         "expiresAt": expires, "authMethod": "social", "provider": "Github"}
        if spec.credential_style == "ide_file" else
        {"type": "kiro", "access_token": token, "refresh_token": refresh,
         "profile_arn": arn, "expires_at": expires, "auth_method": "social",
         "provider": "Github", "email": spec.email, "last_refresh": rfc3339(expires_at - 3600)})
    write_json(path, doc)


KIRO = KiroUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        # Kiro Power with most of its month's credits left.
        SimAccount("demo-kiro", provider="kiro", drain_per_hour=0.3,
                   pool_fractions={POOL: 0.8}),
        # Kiro Pro running low (15% of 1,000 credits).
        SimAccount("demo-kiro-low", provider="kiro", tier="Q_DEVELOPER_STANDALONE_PRO",
                   credential_style="access_token", drain_per_hour=0.3,
                   pool_fractions={POOL: 0.15}),
        # Kiro Free with its 50 credits spent: exhausted until the month turns.
        SimAccount("demo-kiro-free", provider="kiro", tier="Q_DEVELOPER_STANDALONE_FREE",
                   drain_per_hour=0.3, pool_fractions={POOL: 0.0}),
        # Kiro Power past its plan credits, served as overage (billed, not exhausted).
        SimAccount("demo-kiro-overage", provider="kiro", drain_per_hour=0.3,
                   pool_fractions={POOL: 0.0}),
        # Kiro answering 503: the account is down, the others are not.
        SimAccount("demo-kiro-down", provider="kiro", drain_per_hour=0.3,
                   failing_methods=(METHOD,)),
    ]
