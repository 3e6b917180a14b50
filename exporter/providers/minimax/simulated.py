"""The simulated MiniMax upstream: `GET /minimax/v1/api/openplatform/coding_plan/remains`.

Plans, as MiniMax answers them:
- `token-plan`: the current shape: `general` (text) with percent remaining for the
  interval (5 h, from `start_time`/`end_time`) and the week, counts 0, and a
  `video` entry the plan does not include (status 3); an exhausted window has
  status 2 and 0 %;
- `coding-plan`: the older count shape (`model: "MiniMax-M*"`), where
  `usage_count` is what is left (1500 a window, 15000 a week);
- `no-plan`: HTTP 200 with `base_resp.status_code` 1004, MiniMax's account error.

Credentials: an `api_key` or `api_key_file`, or the key in Claude Code's
`settings.json` (`claude_settings`) or opencode's `auth.json` (`opencode`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from exporter.simkit.common import (
    FIVE_HOURS,
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
)

HOST = "minimax"
PATH = f"/{HOST}/v1/api/openplatform/coding_plan/remains"
METHOD = "remains"
TIERS = {"token-plan": "Token Plan", "coding-plan": "Coding Plan (counts)",
         "no-plan": "No active plan"}
POOLS = {"token-plan": "general", "coding-plan": "minimax-m", "no-plan": "general"}
POOL_WINDOWS = ("general/5h", "general/weekly", "minimax-m/5h", "minimax-m/weekly")
INTERVAL_COUNT, WEEKLY_COUNT = 1500, 15000
LOGIN_FAIL = ("login fail: Please carry the API secret key in the 'Authorization' field of "
              "the request header")


def error_body(code: int, message: str) -> dict[str, Any]:
    return {"base_resp": {"status_code": code, "status_msg": message}}


def _ms(ts: float) -> int:
    return round(ts * 1000)


def _percent(value: float) -> tuple[int, int]:
    """(percent left, status): MiniMax rounds down to whole percents; 0 is status 2."""
    percent = math.floor(value * 100 + 1e-9)
    return percent, 2 if percent <= 0 else 1


def _token_plan(acct: AccountState, now: float) -> dict[str, Any]:
    interval = acct.pools["general", "5h"]
    weekly = acct.pools["general", "weekly"]
    i_left, i_status = _percent(interval.value(now, acct.drain) or 0.0)
    w_left, w_status = _percent(weekly.value(now, acct.drain) or 0.0)
    i_end, w_end = interval.reset_unix(now), weekly.reset_unix(now)
    general = {
        "start_time": _ms(i_end - FIVE_HOURS), "end_time": _ms(i_end),
        "remains_time": _ms(i_end - now), "current_interval_total_count": 0,
        "current_interval_usage_count": 0, "model_name": "general",
        "current_weekly_total_count": 0, "current_weekly_usage_count": 0,
        "weekly_start_time": _ms(w_end - WEEK), "weekly_end_time": _ms(w_end),
        "weekly_remains_time": _ms(w_end - now), "current_interval_status": i_status,
        "current_interval_remaining_percent": i_left, "current_weekly_status": w_status,
        "current_weekly_remaining_percent": w_left, "weekly_boost_permille": 1000}
    video = {"model_name": "video", "current_interval_status": 3,
             "current_interval_remaining_percent": 100, "current_weekly_status": 3,
             "current_weekly_remaining_percent": 100}
    return {"model_remains": [general, video],
            "base_resp": {"status_code": 0, "status_msg": "success"}}


def _coding_plan(acct: AccountState, now: float) -> dict[str, Any]:
    interval = acct.pools["minimax-m", "5h"]
    weekly = acct.pools["minimax-m", "weekly"]
    i_end, w_end = interval.reset_unix(now), weekly.reset_unix(now)
    entry = {
        "model": "MiniMax-M*",
        "current_interval_total_count": INTERVAL_COUNT,
        # Named "usage", but what is left (the international endpoint).
        "current_interval_usage_count": math.floor(
            (interval.value(now, acct.drain) or 0.0) * INTERVAL_COUNT),
        "end_time": _ms(i_end), "remains_time": _ms(i_end - now),
        "current_weekly_total_count": WEEKLY_COUNT,
        "current_weekly_usage_count": math.floor(
            (weekly.value(now, acct.drain) or 0.0) * WEEKLY_COUNT),
        "weekly_end_time": _ms(w_end), "weekly_remains_time": _ms(w_end - now)}
    return {"base_resp": {"status_code": 0, "status_msg": ""}, "model_remains": [entry]}


def remains_body(acct: AccountState, now: float) -> dict[str, Any]:
    tier = acct.spec.tier
    if tier == "no-plan":
        return error_body(1004, "cookie is missing, log in again")
    return _coding_plan(acct, now) if tier == "coding-plan" else _token_plan(acct, now)


class MiniMaxUpstream:
    provider = "minimax"
    tiers = TIERS
    credential_styles = ("api_key_file", "api_key", "claude_settings", "opencode")
    methods = (METHOD,)
    hosts = (HOST,)
    token_prefix = "sk-cp-sim"
    model_ids: tuple[str, ...] = ()
    pool_windows = POOL_WINDOWS

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        pool = POOLS[spec.tier]
        # The interval started a while ago; the week began on a Monday, more or less.
        defaults = {"5h": (0.8, now + 0.6 * FIVE_HOURS, FIVE_HOURS),
                    "weekly": (0.6, now + 3.5 * 86400.0, WEEK)}
        pools = {}
        for window, (start, reset_at, period) in defaults.items():
            fraction = spec.pool_fractions.get(f"{pool}/{window}", start)
            pools[pool, window] = Quota(fraction, now, reset_at, period)
        return {}, pools

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return (HOST, METHOD) if (verb, path) == ("GET", PATH) else None

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        return json_reply(remains_body(acct, now))

    def unauthorized(self) -> Reply:
        # MiniMax answers a missing or unknown key with HTTP 200 and code 1004.
        return json_reply(error_body(1004, LOGIN_FAIL))

    def error(self, fault: Fault) -> Reply:
        if fault.kind == "429":
            return json_reply(error_body(1002, "rate limit exceeded"), 429,
                              retry_after(fault))
        status, code, message = {
            "401": (401, 1004, LOGIN_FAIL),
            "403": (403, 0, "Forbidden"),
            "403_license": (200, 1004, "no active plan"),
            "500": (500, 1000, "unknown error"),
            "503": (503, 1000, "service unavailable"),
        }[fault.kind]
        return json_reply(error_body(code, message), status)

    def wrong_types(self, method: str) -> Any:
        return {"base_resp": {"status_code": 0, "status_msg": "success"},
                "model_remains": {"general": 7}}

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        _, key, _ = sim.credentials(spec.name, expiring=False)  # a static key
        credentials = key_credentials(
            spec.credential_style, key, directory, spec.name,
            settings=lambda k: {"env": {
                "ANTHROPIC_BASE_URL": "https://api.minimax.io/anthropic",
                "ANTHROPIC_AUTH_TOKEN": k, "API_TIMEOUT_MS": "3000000",
                "ANTHROPIC_MODEL": "MiniMax-M2.7"}},
            opencode=lambda k: {"minimax-coding-plan": {"type": "api", "key": k}})
        return {"name": spec.name, "provider": spec.provider, "credentials": credentials,
                "endpoints": [f"{base_url}/{HOST}"]}


MINIMAX = MiniMaxUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        # MiniMax Token Plan: healthy, and one whose 5-hour interval is used up
        # (status 2) while the week still has room.
        SimAccount("demo-minimax", provider="minimax", drain_per_hour=0.3),
        SimAccount("demo-minimax-exhausted", provider="minimax", drain_per_hour=0.3,
                   credential_style="claude_settings",
                   pool_fractions={"general/5h": 0.0, "general/weekly": 0.45}),
        # The older count shape, low on its weekly requests.
        SimAccount("demo-minimax-counts", provider="minimax", tier="coding-plan",
                   credential_style="opencode", drain_per_hour=0.3,
                   pool_fractions={"minimax-m/weekly": 0.12}),
        # A key without an active plan: MiniMax's HTTP 200 error 1004.
        SimAccount("demo-minimax-noplan", provider="minimax", tier="no-plan",
                   credential_style="api_key", drain_per_hour=0.3),
    ]
