"""The simulated Codex upstream: `GET /codex/wham/usage`, with the shapes of the example
body (tests/fixtures/upstream/codex.usage.json) and of live replies.

Pools (SimAccount.pool_fractions keys): `codex/5h`, `codex/weekly`,
`code-review/weekly`, and for `pro` accounts the additional limit
`gpt-5-3-codex-spark/5h` and `/weekly`. Windows carry `limit_window_seconds`; some
accounts get their weekly window first (`weekly_first`), as some plans do, so the
exporter must name windows by length. A reached limit leaves `used_percent` out
(`pool_fractions={...: None}`), as the credits-depleted replies do.

`team` accounts get a weekly window alone (no 5-hour one, as team plans do) and
a workspace spend cap, `spend_control.individual_limit` (pool `spend-limit/monthly`,
$50.00 a month, money as strings): at 0 the member is over the cap, as live
replies show it, with `used_percent` 107, `reached: true` and
`rate_limit_reached_type: {"type": "workspace_member_usage_limit_reached"}`.
Replies carry `rate_limit_reset_credits` (banked resets: 2 for `pro`, else 0).

Access tokens are JWTs with an `exp` the simulator sets and a random third part:
nothing checks a signature. A rejected token gets the 401 `token_expired` body
served as text/plain, as ChatGPT serves it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import secrets
import uuid
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
    unit,
)

HOST = "codex"
USAGE_PATH = f"/{HOST}/wham/usage"
TIERS = {"plus": "ChatGPT Plus", "pro": "ChatGPT Pro", "team": "ChatGPT Team"}
PERIODS = {"5h": FIVE_HOURS, "weekly": WEEK, "monthly": MONTH}
SPARK = ("gpt-5-3-codex-spark", "GPT-5.3-Codex-Spark", "codex_bengalfox")
SPEND = "spend-limit/monthly"
POOL_WINDOWS = ("codex/5h", "codex/weekly", "code-review/weekly",
                f"{SPARK[0]}/5h", f"{SPARK[0]}/weekly", SPEND)
AUTH_CLAIM = "https://api.openai.com/auth"
CREDITS = {"plus": (False, "0"), "pro": (True, "125.50"), "team": (False, "0")}
RESET_CREDITS = {"pro": 2}
SPEND_CAP = 50.0  # a team member's monthly cap, in the workspace's currency
OVER_CAP_PERCENT = 107  # how far over its cap a spent-out member is seen


def _error(status: int, payload: dict[str, Any], delay: float | None = None) -> Reply:
    return cli_owned.error_reply(status, payload, delay)


def account_id(spec: SimAccount) -> str:
    """A stable ChatGPT account id (a UUID) for the account."""
    digest = hashlib.sha256(f"codex/{spec.name}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def weekly_first(name: str) -> bool:
    """Whether the account's reply lists its weekly window as primary."""
    return unit(name, "weekly-first") < 0.5


def has_spark(spec: SimAccount) -> bool:
    return spec.tier == "pro"


def _has_pool(spec: SimAccount, key: str) -> bool:
    """Which pools a plan has: Spark for pro, a spend cap and no 5-hour window for team."""
    if key.startswith(f"{SPARK[0]}/"):
        return has_spark(spec)
    if key == SPEND:
        return spec.tier == "team"
    if key == "codex/5h":
        return spec.tier != "team"
    return True


def _window(acct: AccountState, pool: str, window: str, now: float) -> dict[str, Any]:
    quota = acct.pools[pool, window]
    value = quota.value(now, acct.drain)
    reset_at = quota.reset_unix(now)
    body: dict[str, Any] = {}
    if value is not None:
        body["used_percent"] = round((1.0 - value) * 100.0, 4)
    body.update({"limit_window_seconds": int(PERIODS[window]),
                 "reset_after_seconds": max(0, math.ceil(reset_at - now)),
                 "reset_at": int(reset_at)})
    return body


def _rate_limit(acct: AccountState, pool: str, windows: list[str], now: float) -> dict[str, Any]:
    rendered = [_window(acct, pool, w, now) for w in windows]
    reached = any(w.get("used_percent", 100.0) >= 100.0 for w in rendered)
    return {"allowed": not reached, "limit_reached": reached,
            "primary_window": rendered[0],
            "secondary_window": rendered[1] if len(rendered) > 1 else None}


def _spend_control(acct: AccountState, now: float) -> dict[str, Any]:
    """A team member's spend cap; over it (107%) once its fraction is 0."""
    if acct.spec.tier != "team":
        return {"reached": False, "individual_limit": None}
    quota = acct.pools["spend-limit", "monthly"]
    value = quota.value(now, acct.drain)
    percent = OVER_CAP_PERCENT if not value else round((1.0 - value) * 100.0, 2)
    used = SPEND_CAP * percent / 100.0
    reset_at = quota.reset_unix(now)
    return {"reached": percent >= 100, "individual_limit": {
        "source": "workspace", "limit": f"{SPEND_CAP:.2f}", "used": f"{used:.2f}",
        "remaining": f"{max(0.0, SPEND_CAP - used):.2f}", "used_percent": percent,
        "remaining_percent": max(0.0, round(100.0 - percent, 2)),
        "reset_after_seconds": max(0, math.ceil(reset_at - now)), "reset_at": int(reset_at)}}


def usage_body(acct: AccountState, now: float) -> dict[str, Any]:
    spec = acct.spec
    main = ["weekly", "5h"] if weekly_first(spec.name) else ["5h", "weekly"]
    if spec.tier == "team":
        main = ["weekly"]
    additional = []
    if has_spark(spec):
        additional.append({"limit_name": SPARK[1], "metered_feature": SPARK[2],
                           "rate_limit": _rate_limit(acct, SPARK[0], ["5h", "weekly"], now)})
    has_credits, balance = CREDITS[spec.tier]
    spend = _spend_control(acct, now)
    banked = RESET_CREDITS.get(spec.tier, 0)
    return {
        "user_id": f"user-sim{account_id(spec)[:8]}", "account_id": account_id(spec),
        "email": spec.email, "plan_type": spec.tier,
        "rate_limit": _rate_limit(acct, "codex", main, now),
        "code_review_rate_limit": _rate_limit(acct, "code-review", ["weekly"], now),
        "additional_rate_limits": additional,
        "credits": {"has_credits": has_credits, "unlimited": False, "balance": balance,
                    "approx_local_messages": [0, 0], "approx_cloud_messages": [0, 0]},
        "spend_control": spend,
        "rate_limit_reached_type": ({"type": "workspace_member_usage_limit_reached"}
                                    if spend["reached"] else None),
        "rate_limit_reset_credits": {"available_count": banked,
                                     "applicable_available_count": banked},
    }


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _auth_claims(spec: SimAccount) -> dict[str, Any]:
    return {"chatgpt_account_id": account_id(spec), "chatgpt_plan_type": spec.tier,
            "chatgpt_user_id": f"user-sim{account_id(spec)[:8]}"}


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT: its third part is random filler that nothing verifies."""
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.{secrets.token_urlsafe(32)}"


def mint(spec: SimAccount, expires_at: float) -> str:
    claims: dict[str, Any] = {
        "aud": ["https://api.openai.com/v1"], "iss": "https://auth.openai.com",
        AUTH_CLAIM: _auth_claims(spec),
        "https://api.openai.com/profile": {"email": spec.email, "email_verified": True},
        "jti": secrets.token_hex(8)}
    if math.isfinite(expires_at):
        claims["exp"] = int(expires_at)
    return jwt(claims)


def _id_token(spec: SimAccount, expires_at: float) -> str:
    claims = {"email": spec.email, AUTH_CLAIM: _auth_claims(spec)}
    return jwt({**claims, "exp": int(expires_at)} if math.isfinite(expires_at) else claims)


def own_doc(spec: SimAccount, access: str, refresh: str, expires_at: float) -> dict[str, Any]:
    """The Codex CLI's `auth.json`."""
    return {"OPENAI_API_KEY": None,
            "tokens": {"id_token": _id_token(spec, expires_at), "access_token": access,
                       "refresh_token": refresh, "account_id": account_id(spec)},
            "last_refresh": cli_owned.iso_micro(expires_at - 8 * 3600)}


def proxy_doc(spec: SimAccount, access: str, refresh: str, expires_at: float) -> dict[str, Any]:
    """CLIProxyAPI's `codex-<email>-<plan>.json`."""
    return {"type": "codex", "id_token": _id_token(spec, expires_at), "access_token": access,
            "refresh_token": refresh, "account_id": account_id(spec), "email": spec.email,
            "expired": cli_owned.iso_micro(expires_at),
            "last_refresh": cli_owned.iso_micro(expires_at - 8 * 3600)}


FORMAT = cli_owned.CliFormat(
    mint=mint,
    own_file=lambda spec: f"{spec.name}/auth.json",  # a CODEX_HOME each
    own_doc=own_doc,
    proxy_file=lambda spec: f"codex-{spec.email}-{spec.tier}.json",
    proxy_doc=proxy_doc,
)


class CodexUpstream:
    provider = "codex"
    tiers = TIERS
    credential_styles = cli_owned.CREDENTIAL_STYLES
    methods = ("usage",)
    hosts = (HOST,)
    token_prefix = "sim-codex-static-"
    model_ids: tuple[str, ...] = ()
    pool_windows = POOL_WINDOWS

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        base = float(math.floor(now))
        pools: dict[tuple[str, str], Quota] = {}
        for key in POOL_WINDOWS:
            pool, window = key.split("/")
            if not _has_pool(spec, key):
                continue
            period = PERIODS[window]
            offset = 600 + math.floor(unit(spec.name, pool, window, "reset") * (period - 600))
            default = round(0.4 + 0.6 * unit(spec.name, pool, window), 4)
            start = spec.pool_fractions.get(key, default)
            pools[pool, window] = Quota(start, now, base + offset, period)
        return {}, pools

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return (HOST, "usage") if (verb, path) == ("GET", USAGE_PATH) else None

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        return json_reply(usage_body(acct, now))

    def unauthorized(self) -> Reply:
        # ChatGPT serves this JSON body as text/plain.
        body = {"error": {
            "message": "Your authentication token has expired. Please try signing in again.",
            "type": "invalid_request_error", "param": None, "code": "token_expired"}}
        return Reply(401, json.dumps(body).encode(), content_type="text/plain; charset=utf-8")

    def error(self, fault: Fault) -> Reply:
        if fault.kind == "429":
            return _error(429, {"detail": "Too many requests, please slow down."},
                          fault.retry_delay)
        status, detail = {
            "401": (401, "Could not parse your authentication token. Please try signing in "
                         "again."),
            "403": (403, "Unusual activity has been detected from your device."),
            "403_license": (403, "Your workspace has been deactivated."),
            "500": (500, "Internal Server Error"),
            "503": (503, "Service Unavailable"),
        }[fault.kind]
        return _error(status, {"detail": detail})

    def wrong_types(self, method: str) -> Any:
        return {"plan_type": ["plus"], "rate_limit": "ok",
                "code_review_rate_limit": {"primary_window": {"used_percent": "lots"}},
                "additional_rate_limits": {"limit_name": 5}, "credits": {"balance": "many"}}

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        return cli_owned.account_config(sim, spec, directory, base_url, HOST, FORMAT)


CODEX = CodexUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        # Codex: a Plus plan low on its 5-hour window; a Pro plan with an additional
        # limit and credits; a Team seat over its workspace spend cap (107% used)
        # while its weekly window still has room.
        SimAccount("demo-codex-plus", provider="codex", tier="plus", drain_per_hour=0.5,
                   pool_fractions={"codex/5h": 0.15}),
        SimAccount("demo-codex-pro", provider="codex", tier="pro",
                   credential_style="access_token_file", drain_per_hour=0.3),
        SimAccount("demo-codex-team", provider="codex", tier="team", drain_per_hour=0.3,
                   pool_fractions={"codex/weekly": 0.7, "spend-limit/monthly": 0.0}),
    ]
