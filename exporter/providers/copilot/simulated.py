"""The simulated GitHub Copilot upstream: `GET /copilot/copilot_internal/user`.

Plans, as GitHub answers them:
- `individual_pro` (Copilot Pro): 300 premium requests a month, drained as counts;
  chat and completions unlimited;
- `individual_pro_plus` (Copilot Pro+): 1500 premium requests a month with paid
  overage allowed; drained past 0 it keeps serving, as GitHub does: `remaining`
  and `percent_remaining` go negative and `overage_count` counts the billed
  requests (start it at 0 with `pool_fractions={"premium-interactions/monthly": 0}`
  to see an account in overage);
- `individual` (Copilot Free): the older free shape, `limited_user_quotas` (left)
  over `monthly_quotas` (totals) and a date-only reset;
- `business`: an organisation seat billed by usage (`token_based_billing`): premium
  requests with entitlement 0, no reset date;
- `no_access`: `access_type_sku: "no_access"` and no quota snapshots.

Credentials are the editor's `apps.json`: one file per account ("file"), or one
file holding every account's sign-in ("shared_file", each account picking its
login with `credentials.user`).
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    write_secret,
)

HOST = "copilot"
PATH = "/copilot/copilot_internal/user"
METHOD = "user"
TIERS = {"individual_pro": "Copilot Pro", "individual_pro_plus": "Copilot Pro+",
         "individual": "Copilot Free", "business": "Copilot Business",
         "no_access": "No Copilot"}
SKUS = {"individual_pro": "monthly_subscriber_quota",
        "individual_pro_plus": "plus_monthly_subscriber_quota",
        "individual": "free_limited_copilot",
        "business": "copilot_for_business_seat_quota", "no_access": "no_access"}
PLANS = {"business": "business", "individual_pro": "individual_pro",
         "individual_pro_plus": "individual_pro"}  # else "individual"
PREMIUM = "premium-interactions/monthly"
POOL_WINDOWS = (PREMIUM, "chat/monthly", "completions/monthly")
PRO_PREMIUM_REQUESTS = 300
PRO_PLUS_PREMIUM_REQUESTS = 1500
FREE_MONTHLY = {"chat": 50, "completions": 2000}
DOCS = "https://docs.github.com/rest"
_WRONG_TYPES = {"copilot_plan": 7, "quota_reset_date_utc": 12,
                "quota_snapshots": ["premium_interactions"]}


def login(spec: SimAccount) -> str:
    """The account's GitHub login: not its config name, so a leak of it can be seen."""
    return f"{spec.name}-gh"


def _app_id(spec: SimAccount) -> str:
    return "Iv1." + hashlib.sha256(spec.name.encode()).hexdigest()[:16]


def github_error(status: int, message: str,
                 headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return json_reply({"message": message, "documentation_url": DOCS, "status": str(status)},
                      status, headers)



def _date(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def _snapshot(key: str, now: float, **fields: Any) -> dict[str, Any]:
    return {"quota_id": key, "timestamp_utc": _utc_ms(now), "overage_count": 0,
            "overage_permitted": False, **fields}


def _utc_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _unlimited(key: str, now: float) -> dict[str, Any]:
    return _snapshot(key, now, entitlement=0, remaining=0, quota_remaining=0.0,
                     percent_remaining=100.0, unlimited=True)


def user_body(acct: AccountState, now: float) -> dict[str, Any]:
    spec = acct.spec
    body: dict[str, Any] = {"login": login(spec), "access_type_sku": SKUS[spec.tier],
                            "copilot_plan": PLANS.get(spec.tier, "individual"),
                            "chat_enabled": spec.tier != "no_access",
                            "assigned_date": "2026-01-15T09:30:00+01:00",
                            "organization_list": []}
    if spec.tier == "no_access":
        return {**body, "quota_snapshots": None}
    premium = acct.pools["premium-interactions", "monthly"]
    reset = premium.reset_unix(now)
    if spec.tier == "individual":
        counts = {}
        for key, total in FREE_MONTHLY.items():
            fraction = acct.pools[key, "monthly"].value(now, acct.drain) or 0.0
            counts[key] = math.floor(fraction * total)
        return {**body, "monthly_quotas": dict(FREE_MONTHLY), "limited_user_quotas": counts,
                "limited_user_reset_date": _date(reset)}
    if spec.tier == "business":
        body["organization_list"] = [{"login": "sim-org", "name": "Simulated Org"}]
        return {**body, "token_based_billing": True, "quota_reset_at": 0, "quota_snapshots": {
            "chat": _unlimited("chat", now), "completions": _unlimited("completions", now),
            "premium_interactions": {"entitlement": 0, "remaining": 0, "unlimited": False}}}
    if spec.tier == "individual_pro_plus":
        return {**body, **_pro_plus(premium, acct.drain, now)}
    value = premium.value(now, acct.drain) or 0.0
    left = math.floor(value * PRO_PREMIUM_REQUESTS)
    return {**body, "quota_reset_date": _date(reset), "quota_reset_date_utc": _utc_ms(reset),
            "quota_snapshots": {
                "chat": _unlimited("chat", now), "completions": _unlimited("completions", now),
                "premium_interactions": _snapshot(
                    "premium_interactions", now, entitlement=PRO_PREMIUM_REQUESTS,
                    remaining=left, quota_remaining=float(left),
                    percent_remaining=round(100.0 * left / PRO_PREMIUM_REQUESTS, 4),
                    unlimited=False, overage_permitted=True)}}


def _pro_plus(premium: Quota, drain: float, now: float) -> dict[str, Any]:
    """Pro+ keeps serving past its included requests: what it served beyond them is a
    negative `remaining` and the `overage_count` billed."""
    total = PRO_PLUS_PREMIUM_REQUESTS
    value = premium.value(now, drain) or 0.0
    if value > 0.0:
        left = math.floor(value * total)
    else:
        start = premium.start or 0.0
        past = drain * (now - premium.t0) / 3600.0 - start  # fractions of the month's quota
        left = -math.floor(max(past, 0.0) * total)
    reset = premium.reset_unix(now)
    return {"quota_reset_date": _date(reset), "quota_reset_date_utc": _utc_ms(reset),
            "token_based_billing": True, "quota_snapshots": {
                "chat": _unlimited("chat", now), "completions": _unlimited("completions", now),
                "premium_interactions": _snapshot(
                    "premium_interactions", now, entitlement=total, remaining=left,
                    quota_remaining=float(left),
                    percent_remaining=round(100.0 * left / total, 4), unlimited=False,
                    overage_permitted=True, overage_count=max(-left, 0), has_quota=True)}}


class CopilotUpstream:
    provider = "copilot"
    tiers = TIERS
    credential_styles = ("file", "shared_file", "access_token", "access_token_file")
    methods = (METHOD,)
    hosts = (HOST,)
    token_prefix = "gho_sim"
    model_ids: tuple[str, ...] = ()
    pool_windows = POOL_WINDOWS

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        reset_at = next_month(now)
        pools: dict[tuple[str, str], Quota] = {}
        for key in POOL_WINDOWS:
            pool, _, window = key.partition("/")
            default = round(0.3 + 0.7 * unit(spec.name, key), 4)
            pools[pool, window] = Quota(spec.pool_fractions.get(key, default), now, reset_at,
                                        MONTH)
        return {}, pools

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return (HOST, METHOD) if (verb, path) == ("GET", PATH) else None

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        return json_reply(user_body(acct, now))

    def unauthorized(self) -> Reply:
        return github_error(401, "Bad credentials")

    def error(self, fault: Fault) -> Reply:
        if fault.kind == "429":
            return github_error(429, "API rate limit exceeded for user. Please wait.",
                                retry_after(fault))
        status, message = {
            "401": (401, "Bad credentials"),
            "403": (403, "Resource not accessible by integration"),
            "403_license": (403, "Copilot is not enabled for this account"),
            "500": (500, "Server Error"),
            "503": (503, "Service Unavailable"),
        }[fault.kind]
        return github_error(status, message)

    def wrong_types(self, method: str) -> Any:
        return dict(_WRONG_TYPES)

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        _, token, _ = sim.credentials(spec.name, expiring=False)  # lives until revoked
        style = spec.credential_style
        credentials: dict[str, str]
        if style == "access_token":
            credentials = {"access_token": token}
        elif style == "access_token_file":
            path = directory / f"{spec.name}.access_token"
            write_secret(path, token + "\n")
            credentials = {"access_token_file": str(path)}
        else:
            shared = style == "shared_file"
            folder = directory if shared else directory / f"copilot-{spec.name}"
            path = folder / "github-copilot" / "apps.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            apps: dict[str, Any] = json.loads(path.read_text()) if shared and path.exists() else {}
            apps[f"github.com:{_app_id(spec)}"] = {
                "user": login(spec), "oauth_token": token, "githubAppId": _app_id(spec)}
            write_secret(path, json.dumps(apps, indent=2) + "\n")
            credentials = {"file": str(path)}
            if shared:
                credentials["user"] = login(spec)
        return {"name": spec.name, "provider": spec.provider, "credentials": credentials,
                "endpoints": [f"{base_url}/{HOST}"]}



COPILOT = CopilotUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        # GitHub Copilot: 42 of 300 premium requests left (chat and completions
        # unlimited), and a free plan in GitHub's older shape.
        SimAccount("demo-copilot", provider="copilot", drain_per_hour=0.3,
                   pool_fractions={"premium-interactions/monthly": 0.14}),
        SimAccount("demo-copilot-free", provider="copilot", tier="individual",
                   credential_style="access_token", drain_per_hour=0.3),
        # A Copilot Pro+ plan past its included premium requests, served and billed:
        # overage, a warning, never "exhausted".
        SimAccount("demo-copilot-overage", provider="copilot", tier="individual_pro_plus",
                   drain_per_hour=0.3, pool_fractions={"premium-interactions/monthly": 0.0}),
    ]
