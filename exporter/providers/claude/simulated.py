"""The simulated Claude Code upstream: `GET /claude/api/oauth/usage`, with the shapes
of the example body (tests/fixtures/upstream/claude.usage.json) and of live replies.

Pools (SimAccount.pool_fractions keys): `all/5h`, `all/weekly`, `opus/weekly`,
`sonnet/weekly`, and `extra-usage/monthly`: what is left of the month's extra-usage
cap. A fraction of None renders the window as `null` (the plan has no such limit):
a `pro` account's Opus window is null unless set. Every reply carries both shapes,
the named windows and `limits[]` with the same numbers, plus keys of unknown
meaning, as live replies do. `max` accounts have extra usage turned on.

An `enterprise` account is a seat with a monthly spend limit and no time windows:
its reply is `extra_usage` alone (a $500 cap, counted in cents, `used_credits` a
float), as Claude Enterprise seats answer.
"""

from __future__ import annotations

import math
import secrets
from pathlib import Path
from typing import Any

from exporter.simkit import cli_owned
from exporter.simkit.common import (
    FIVE_HOURS,
    MONTH,
    WEEK,
    AccountState,
    Fault,
    Quota,
    Reply,
    SimAccount,
    SimContext,
    json_reply,
    next_month,
    unit,
)

HOST = "claude"
USAGE_PATH = f"/{HOST}/api/oauth/usage"
TIERS = {"max": "Claude Max 20x", "pro": "Claude Pro", "enterprise": "Claude Enterprise"}
RATE_LIMIT_TIERS = {"max": "default_claude_max_20x", "pro": "default_claude_ai",
                    "enterprise": "default_claude_zero"}
# (pool, window) -> (named window, period, limits[] kind, scope display name)
WINDOWS = {
    ("all", "5h"): ("five_hour", FIVE_HOURS, "session", None),
    ("all", "weekly"): ("seven_day", WEEK, "weekly_all", None),
    ("opus", "weekly"): ("seven_day_opus", WEEK, "weekly_scoped", "Opus"),
    ("sonnet", "weekly"): ("seven_day_sonnet", WEEK, "weekly_scoped", "Sonnet"),
}
# Keys live replies carry whose meaning is not public; the exporter must ignore them.
UNKNOWN_KEYS = ("seven_day_oauth_apps", "seven_day_cowork", "iguana_necktie", "tangelo")
SCOPES = ["user:file_upload", "user:inference", "user:mcp_servers", "user:profile",
          "user:sessions:claude_code"]
EXTRA = ("extra-usage", "monthly")
# Cents a month: a Max plan's extra usage, an Enterprise seat's spend limit.
EXTRA_USAGE_CAPS = {"max": 5000, "enterprise": 50000}


def _error(status: int, kind: str, message: str, delay: float | None = None) -> Reply:
    return cli_owned.error_reply(status, {
        "type": "error", "error": {"type": kind, "message": message},
        "request_id": "req_sim" + secrets.token_hex(8)}, delay)


def extra_usage(spec: SimAccount, left: float | None) -> dict[str, Any]:
    """The `extra_usage` object; `left` is the fraction of the cap not spent yet."""
    cap = EXTRA_USAGE_CAPS.get(spec.tier)
    if cap is None or left is None:
        return {"is_enabled": False, "monthly_limit": None, "used_credits": None,
                "utilization": None}
    used = round((1.0 - left) * cap, 2)
    doc: dict[str, Any] = {"is_enabled": True, "monthly_limit": cap, "used_credits": used,
                           "utilization": round(100 * used / cap, 4), "currency": "USD"}
    if spec.tier != "enterprise":  # what Max replies add; an Enterprise seat's is bare
        doc["disabled_reason"] = None
    return doc


def usage_body(acct: AccountState, now: float) -> dict[str, Any]:
    extra = extra_usage(acct.spec, acct.pools[EXTRA].value(now, acct.drain))
    if acct.spec.tier == "enterprise":
        return {"extra_usage": extra}
    body: dict[str, Any] = {}
    limits: list[dict[str, Any]] = []
    for key, (named, _, kind, scope) in WINDOWS.items():
        quota = acct.pools[key]
        value = quota.value(now, acct.drain)
        if value is None:
            body[named] = None
            continue
        used = round((1.0 - value) * 100.0, 4)
        resets_at = cli_owned.iso_micro(quota.reset_unix(now))
        body[named] = {"utilization": used, "resets_at": resets_at}
        limits.append({
            "kind": kind, "group": "session" if kind == "session" else "weekly",
            "percent": used, "severity": "normal" if used < 90 else "warning",
            "resets_at": resets_at,
            "scope": None if scope is None else {"model": {"id": None, "display_name": scope},
                                                 "surface": None},
            "is_active": kind == "session"})
    body.update(dict.fromkeys(UNKNOWN_KEYS))
    body["extra_usage"] = extra
    body["limits"] = limits
    return body



def mint(spec: SimAccount, expires_at: float) -> str:
    return "sk-ant-oat01-sim-" + secrets.token_urlsafe(24)


def own_doc(spec: SimAccount, access: str, refresh: str, expires_at: float) -> dict[str, Any]:
    """Claude Code's `.credentials.json`."""
    return {"claudeAiOauth": {
        "accessToken": access, "refreshToken": refresh, "expiresAt": int(expires_at * 1000),
        "scopes": SCOPES, "subscriptionType": spec.tier,
        "rateLimitTier": RATE_LIMIT_TIERS[spec.tier]}}


def proxy_doc(spec: SimAccount, access: str, refresh: str, expires_at: float) -> dict[str, Any]:
    """CLIProxyAPI's `claude-<email>.json`."""
    return {"type": "claude", "access_token": access, "refresh_token": refresh,
            "id_token": "", "email": spec.email, "expired": cli_owned.iso_micro(expires_at),
            "last_refresh": cli_owned.iso_micro(expires_at - 8 * 3600)}


FORMAT = cli_owned.CliFormat(
    mint=mint,
    own_file=lambda spec: f"{spec.name}/.credentials.json",  # a CLAUDE_CONFIG_DIR each
    own_doc=own_doc,
    proxy_file=lambda spec: f"claude-{spec.email}.json",
    proxy_doc=proxy_doc,
)


class ClaudeUpstream:
    provider = "claude"
    tiers = TIERS
    credential_styles = cli_owned.CREDENTIAL_STYLES
    methods = ("usage",)
    hosts = (HOST,)
    token_prefix = "sk-ant-oat01-sim-static-"
    model_ids: tuple[str, ...] = ()
    pool_windows = (*(f"{p}/{w}" for p, w in WINDOWS), "/".join(EXTRA))

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        base = float(math.floor(now))
        # The weekly windows reset together, as upstream shows.
        offsets = {period: 600 + math.floor(unit(spec.name, str(period)) * (period - 600))
                   for period in (FIVE_HOURS, WEEK)}
        pools: dict[tuple[str, str], Quota] = {}
        for (pool, window), (_, period, _, _) in WINDOWS.items():
            default: float | None = round(0.4 + 0.6 * unit(spec.name, pool, window), 4)
            if (pool == "opus" and spec.tier == "pro") or spec.tier == "enterprise":
                default = None  # Pro plans have no Opus limit of their own; seats no windows
            start = spec.pool_fractions.get(f"{pool}/{window}", default)
            pools[pool, window] = Quota(start, now, base + offsets[period] + 0.000412, period)
        extra = (round(1.0 - unit(spec.name, "extra"), 4)
                 if spec.tier in EXTRA_USAGE_CAPS else None)
        pools[EXTRA] = Quota(spec.pool_fractions.get("/".join(EXTRA), extra), now,
                             next_month(now), MONTH)
        return {}, pools

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return (HOST, "usage") if (verb, path) == ("GET", USAGE_PATH) else None

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        return json_reply(usage_body(acct, now))

    def unauthorized(self) -> Reply:
        return _error(401, "authentication_error", "OAuth token has expired. Please obtain a "
                                                   "new token or refresh your existing token.")

    def error(self, fault: Fault) -> Reply:
        if fault.kind == "429":
            return _error(429, "rate_limit_error", "Rate limited. Please try again later.",
                          fault.retry_delay)
        status, kind, message = {
            "401": (401, "authentication_error", "Invalid bearer token"),
            "403": (403, "permission_error",
                    "OAuth token does not meet scope requirement user:profile"),
            "403_license": (403, "permission_error", "This organization has been disabled."),
            "500": (500, "api_error", "Internal server error"),
            "503": (503, "overloaded_error", "Overloaded"),
        }[fault.kind]
        return _error(status, kind, message)

    def wrong_types(self, method: str) -> Any:
        return {"five_hour": "37%", "seven_day": [61.0], "seven_day_opus": {"utilization": "x"},
                "limits": {"kind": "session"}, "extra_usage": "off"}

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        return cli_owned.account_config(sim, spec, directory, base_url, HOST, FORMAT)


CLAUDE = ClaudeUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        # Claude Code: a Max plan whose Opus weekly limit is used up while its overall
        # limits are not; a Pro plan (no Opus limit) with a bare access token; an
        # Enterprise seat whose reply is its monthly spend limit alone (no windows).
        SimAccount("demo-claude-max", provider="claude", tier="max", drain_per_hour=0.4,
                   pool_fractions={"opus/weekly": 0.0, "all/weekly": 0.6}),
        SimAccount("demo-claude-pro", provider="claude", tier="pro",
                   credential_style="access_token", drain_per_hour=0.5),
        SimAccount("demo-claude-enterprise", provider="claude", tier="enterprise",
                   drain_per_hour=0.3, pool_fractions={"extra-usage/monthly": 0.9}),
    ]
