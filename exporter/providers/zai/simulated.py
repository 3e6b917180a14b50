"""The simulated z.ai upstream: `GET /zai/api/monitor/usage/quota/limit`.

Plans, in the shapes z.ai answered in 2026:
- `pro` (GLM Coding Pro): `TOKENS_LIMIT` windows 5h and weekly carrying only
  `percentage` (integer percent used), and the month's MCP tool calls
  (`TIME_LIMIT`, 1000 calls, with `usageDetails`);
- `lite` (GLM Coding Lite): `CREDIT_LIMIT` windows with counts (2000 credits per
  5 hours, 10000 a week); an idle 5-hour window comes without `nextResetTime`;
- `no_plan`: a key whose account has no Coding Plan: HTTP 200, `success: false`,
  code 500 and z.ai's Chinese message.

The key goes in `Authorization` as it is. Credentials: the key in the config
(`api_key`, `api_key_file`), or in Claude Code's `settings.json` pointed at z.ai
(`claude_settings`), or in opencode's `auth.json` (`opencode`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

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
    key_credentials,
    retry_after,
    unit,
)

HOST = "zai"
PATH = "/zai/api/monitor/usage/quota/limit"
METHOD = "quota_limit"
TIERS = {"pro": "GLM Coding Pro", "lite": "GLM Coding Lite", "no_plan": "No Coding Plan"}
WINDOWS = {("glm", "5h"): (3, 5, FIVE_HOURS), ("glm", "weekly"): (6, 1, WEEK),
           ("mcp", "monthly"): (5, 1, MONTH)}
LITE_CREDITS = {"5h": 2000, "weekly": 10000}
MCP_CALLS = 1000
NO_PLAN = {"code": 500, "msg": "当前用户不存在coding plan", "success": False}


def envelope(code: int, msg: str, status: int = 200,
             headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return json_reply({"code": code, "msg": msg, "success": False}, status, headers)


def _ms(ts: float) -> int:
    return int(ts * 1000)


def _entry(kind: str, pool: str, window: str, quota: Quota, acct: AccountState,
           now: float) -> dict[str, Any]:
    unit_code, number, _ = WINDOWS[pool, window]
    left = quota.value(now, acct.drain)
    fraction = 1.0 if left is None else left
    used = math.ceil(100 * (1.0 - fraction) - 1e-9)  # z.ai rounds what is used up
    entry: dict[str, Any] = {"type": kind, "unit": unit_code, "number": number,
                             "percentage": max(0, min(100, used))}
    total = MCP_CALLS if kind == "TIME_LIMIT" else (
        LITE_CREDITS[window] if acct.spec.tier == "lite" else None)
    if total is not None:  # Pro's GLM windows carry the percentage alone
        remaining = math.floor(fraction * total)
        entry |= {"usage": total, "currentValue": total - remaining, "remaining": remaining}
    idle = acct.spec.tier == "lite" and window == "5h" and fraction >= 1.0
    if not idle:  # an unused 5-hour window has no reset yet
        entry["nextResetTime"] = _ms(quota.reset_unix(now))
    if kind == "TIME_LIMIT":
        entry["usageDetails"] = [{"modelCode": code, "usage": 0}
                                 for code in ("search-prime", "web-reader", "zread")]
    return entry


def quota_body(acct: AccountState, now: float) -> dict[str, Any]:
    tier = acct.spec.tier
    if tier == "no_plan":
        return dict(NO_PLAN)
    kind = "CREDIT_LIMIT" if tier == "lite" else "TOKENS_LIMIT"
    limits = [_entry(kind, "glm", w, acct.pools["glm", w], acct, now) for w in ("5h", "weekly")]
    if tier == "pro":
        limits.append(_entry("TIME_LIMIT", "mcp", "monthly", acct.pools["mcp", "monthly"],
                             acct, now))
    return {"code": 200, "msg": "Operation successful",
            "data": {"limits": limits, "level": tier}, "success": True}


class ZaiUpstream:
    provider = "zai"
    tiers = TIERS
    credential_styles = ("claude_settings", "opencode", "api_key", "api_key_file")
    methods = (METHOD,)
    hosts = (HOST,)
    token_prefix = "zai-sim-key."
    model_ids: tuple[str, ...] = ()
    pool_windows = tuple(f"{p}/{w}" for p, w in WINDOWS)

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        pools: dict[tuple[str, str], Quota] = {}
        for (pool, window), (_, _, period) in WINDOWS.items():
            key = f"{pool}/{window}"
            default = round(0.3 + 0.7 * unit(spec.name, key), 4)
            # Resets carry the subscription's time of day, not a round hour.
            offset = 60 + math.floor(unit(spec.name, key, "reset") * (period - 60))
            pools[pool, window] = Quota(spec.pool_fractions.get(key, default), now,
                                        float(math.floor(now)) + offset, period)
        return {}, pools

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return (HOST, METHOD) if (verb, path) == ("GET", PATH) else None

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        return json_reply(quota_body(acct, now))

    def unauthorized(self) -> Reply:
        return envelope(401, "token expired or incorrect", 401)

    def error(self, fault: Fault) -> Reply:
        if fault.kind == "429":
            return envelope(429, "Too many requests", 429, retry_after(fault))
        if fault.kind == "403_license":
            return json_reply(dict(NO_PLAN))  # HTTP 200: the envelope says it
        status, msg = {"401": (401, "Unauthorized"), "403": (403, "Forbidden"),
                       "500": (500, "Internal Server Error"),
                       "503": (503, "Service Unavailable")}[fault.kind]
        return envelope(status, msg, status)

    def wrong_types(self, method: str) -> Any:
        return {"code": 200, "msg": "Operation successful", "success": True,
                "data": {"limits": {"type": "TOKENS_LIMIT"}, "level": 7}}

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        _, key, _ = sim.credentials(spec.name, expiring=False)  # a key never expires
        credentials = key_credentials(
            spec.credential_style, key, directory, spec.name,
            settings=lambda k: {"env": {
                "ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic",
                "ANTHROPIC_AUTH_TOKEN": k, "API_TIMEOUT_MS": "3000000"}, "model": "opus"},
            opencode=lambda k: {
                "openai": {"type": "oauth", "refresh": "sim-other-refresh", "access": "x"},
                "zai-coding-plan": {"type": "api", "key": k}},
            opencode_user="zai-coding-plan")
        return {"name": spec.name, "provider": spec.provider, "credentials": credentials,
                "endpoints": [f"{base_url}/{HOST}"]}


ZAI = ZaiUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        # z.ai GLM Coding Plan: a Pro plan with room left; a Lite plan counted in
        # credits whose weekly window runs low; a Pro plan whose 5-hour window is used
        # up; and a key whose account has no Coding Plan (an account error).
        SimAccount("demo-zai-pro", provider="zai", drain_per_hour=0.3,
                   pool_fractions={"glm/5h": 0.7, "glm/weekly": 0.85}),
        SimAccount("demo-zai-lite", provider="zai", tier="lite", credential_style="opencode",
                   drain_per_hour=0.3, pool_fractions={"glm/5h": 1.0, "glm/weekly": 0.12}),
        SimAccount("demo-zai-exhausted", provider="zai", credential_style="api_key",
                   drain_per_hour=0.3, pool_fractions={"glm/5h": 0.0}),
        SimAccount("demo-zai-no-plan", provider="zai", tier="no_plan",
                   credential_style="api_key", drain_per_hour=0.3),
    ]
