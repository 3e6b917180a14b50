"""The simulated Kimi Code upstream: `GET /kimi/coding/v1/usages`, in the shapes of
the example bodies (tests/fixtures/upstream/kimi.*.json).

Pools (SimAccount.pool_fractions keys): `kimi/weekly` (`usage`) and `kimi/5h` (the
300-minute entry of `limits[]`). Numbers are strings. Tiers are membership levels
and pick the shape:
- `advanced` (Allegro): a limit of "100" with `used` and `remaining`;
- `intermediate` (Allegretto): `used` left out of `limits[]`, `user.region`, and
  `totalQuota` (which the exporter does not read);
- `moderato` (Moderato): the January 2026 shape, request counts (2048 a week,
  200 per 5 hours) and no `user`.

Credentials: a Kimi Code API key (`api_key`, `api_key_file`), kimi-code's
`credentials/kimi-code.json` (`file`), CLIProxyAPI's `kimi-<ms>.json`
(`cliproxyapi`), or Claude Code's settings.json pointing at api.kimi.com
(`claude_settings`). A `revoked` account with a file is an idle CLI: the file holds
an access token that expired a minute ago.
"""

from __future__ import annotations

import math
import secrets
from pathlib import Path
from typing import Any

from exporter.simkit import cli_owned
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
    unit,
)

HOST = "kimi"
PATH = f"/{HOST}/coding/v1/usages"
METHOD = "usages"
TIERS = {"advanced": "Allegro", "intermediate": "Allegretto", "moderato": "Moderato"}
LEVELS = {"advanced": "LEVEL_ADVANCED", "intermediate": "LEVEL_INTERMEDIATE",
          "moderato": "LEVEL_STANDARD"}
POOL_WINDOWS = ("kimi/weekly", "kimi/5h")
PERIODS = {"weekly": WEEK, "5h": FIVE_HOURS}
# (weekly, 5-hour) limits: "100" since 2026; request counts before.
LIMITS = {"moderato": (2048, 200)}
PLAIN = (100, 100)
CREDENTIAL_STYLES = ("api_key", "file", "cliproxyapi", "api_key_file", "claude_settings")


def _detail(quota: Quota, limit: int, drain: float, now: float, used: bool) -> dict[str, str]:
    value = quota.value(now, drain) or 0.0
    left = math.floor(value * limit)
    detail = {"limit": str(limit), "used": str(limit - left), "remaining": str(left),
              "resetTime": quota.reset_time(now)}
    if not used:
        del detail["used"]
    return detail


def usages_body(acct: AccountState, now: float) -> dict[str, Any]:
    tier = acct.spec.tier
    weekly, five = LIMITS.get(tier, PLAIN)
    body: dict[str, Any] = {}
    if tier != "moderato":
        user: dict[str, Any] = {"membership": {"level": LEVELS[tier]}}
        if tier == "intermediate":
            user = {"userId": f"sim-{acct.spec.name}", "region": "REGION_CN", **user}
        body["user"] = user
    body["usage"] = _detail(acct.pools["kimi", "weekly"], weekly, acct.drain, now, True)
    body["limits"] = [{"window": {"duration": 300, "timeUnit": "TIME_UNIT_MINUTE"},
                       "detail": _detail(acct.pools["kimi", "5h"], five, acct.drain, now,
                                         tier != "intermediate")}]
    if tier == "intermediate":
        body["totalQuota"] = {"limit": "100", "remaining": "99"}
    if tier == "advanced":
        body["parallel"] = {"limit": "30"}
    return body


def mint(spec: SimAccount, expires_at: float) -> str:
    return f"sim-kimi-oauth-{secrets.token_urlsafe(24)}"


def own_doc(spec: SimAccount, access: str, refresh: str, expires_at: float) -> dict[str, Any]:
    """kimi-code's `credentials/kimi-code.json`."""
    return {"access_token": access, "refresh_token": refresh, "expires_at": expires_at,
            "expires_in": 900.0, "scope": "kimi-code", "token_type": "Bearer"}


def proxy_doc(spec: SimAccount, access: str, refresh: str, expires_at: float) -> dict[str, Any]:
    """CLIProxyAPI's `kimi-<unix-ms>.json`."""
    return {"type": "kimi", "access_token": access, "refresh_token": refresh,
            "token_type": "Bearer", "scope": "kimi-code",
            "timestamp": int((expires_at - 900) * 1000),
            "expired": cli_owned.iso_micro(expires_at), "device_id": f"sim-device-{spec.name}"}


FORMAT = cli_owned.CliFormat(
    mint=mint,
    own_file=lambda spec: f"{spec.name}/.kimi-code/credentials/kimi-code.json",
    own_doc=own_doc,
    proxy_file=lambda spec: f"kimi-{int(unit(spec.name) * 1e12)}.json",
    proxy_doc=proxy_doc,
)


def kimi_error(status: int, message: str, kind: str,
               headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    return json_reply({"error": {"message": message, "type": kind}}, status, headers)


class KimiUpstream:
    provider = "kimi"
    tiers = TIERS
    credential_styles = CREDENTIAL_STYLES
    methods = (METHOD,)
    hosts = (HOST,)
    token_prefix = "sk-kimi-sim"
    model_ids: tuple[str, ...] = ()
    pool_windows = POOL_WINDOWS

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        base = float(math.floor(now))
        pools: dict[tuple[str, str], Quota] = {}
        for key in POOL_WINDOWS:
            pool, window = key.split("/")
            period = PERIODS[window]
            offset = 600 + math.floor(unit(spec.name, key, "reset") * (period - 600))
            default = round(0.4 + 0.6 * unit(spec.name, key), 4)
            pools[pool, window] = Quota(spec.pool_fractions.get(key, default), base,
                                        base + offset, period, fractional=True)
        return {}, pools

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return (HOST, METHOD) if (verb, path) == ("GET", PATH) else None

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        return json_reply(usages_body(acct, now))

    def unauthorized(self) -> Reply:
        return kimi_error(401, "Invalid Authentication", "invalid_authentication_error")

    def error(self, fault: Fault) -> Reply:
        if fault.kind == "429":
            return kimi_error(429, "Too many requests", "rate_limit_reached_error",
                              retry_after(fault))
        status, message, kind = {
            "401": (401, "Invalid Authentication", "invalid_authentication_error"),
            "403": (403, "permission denied", "permission_denied_error"),
            "403_license": (403, "no Kimi Code membership", "permission_denied_error"),
            "500": (500, "internal error", "server_error"),
            "503": (503, "service unavailable", "engine_overloaded_error"),
        }[fault.kind]
        return kimi_error(status, message, kind)

    def wrong_types(self, method: str) -> Any:
        return {"usage": "plenty", "limits": {"window": 300}}

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        style = spec.credential_style
        endpoints = [f"{base_url}/{HOST}"]
        if style in ("file", "cliproxyapi"):
            entry = cli_owned.account_config(sim, spec, directory, base_url, HOST, FORMAT)
            if spec.revoked:  # an idle CLI: its token expired a minute ago
                sim.renew_credentials(spec.name, ttl=-60.0)
            return entry
        _, key, _ = sim.credentials(spec.name, expiring=False)  # a key lives until revoked
        credentials = key_credentials(
            style, key, directory, spec.name,
            settings=lambda k: {"env": {"ANTHROPIC_BASE_URL": "https://api.kimi.com/coding/",
                                        "ANTHROPIC_AUTH_TOKEN": k},
                                "model": "kimi-for-coding"})
        return {"name": spec.name, "provider": spec.provider, "credentials": credentials,
                "endpoints": endpoints}


KIMI = KimiUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        # Kimi Code: a healthy key; a plan low on its 5-hour window (the old
        # request-count shape); a weekly quota used up; an idle kimi-code whose
        # 15-minute token expired (an auth error saying what to do).
        SimAccount("demo-kimi", provider="kimi", drain_per_hour=0.3),
        SimAccount("demo-kimi-low", provider="kimi", tier="moderato",
                   credential_style="api_key_file", drain_per_hour=0.3,
                   pool_fractions={"kimi/5h": 0.12}),
        SimAccount("demo-kimi-exhausted", provider="kimi", tier="intermediate",
                   drain_per_hour=0.3, pool_fractions={"kimi/weekly": 0.0}),
        SimAccount("demo-kimi-idle-cli", provider="kimi", credential_style="file",
                   revoked=True),
    ]
