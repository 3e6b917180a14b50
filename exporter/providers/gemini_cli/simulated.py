"""The simulated Gemini CLI upstream: loadCodeAssist and retrieveUserQuota on the same
Cloud Code paths as Antigravity (an account's token says which of the two answers).

A daily quota per model, all resetting together, in the shape gemini-cli sees:
`remainingAmount` only below 100% (it is left out at 100%), a used-up bucket with
an explicit integer `0` (as live replies carry it), a bucket without its fraction
when the account sets a model's fraction to None (as upstream does for new
models: unknown), and `gemini-3-pro-preview` twice, as a `REQUESTS` and an
`INPUT_TOKENS` bucket (key `gemini-3-pro-preview/INPUT_TOKENS`).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exporter.providers.google import simulated as google
from exporter.simkit.common import (
    DAY,
    AccountState,
    Fault,
    Quota,
    Reply,
    SimAccount,
    SimContext,
    fraction_json,
    json_reply,
    unit,
)
from exporter.timefmt import rfc3339

QUOTA_METHOD = "retrieveUserQuota"
TIERS = {t: google.TIER_NAMES[t] for t in ("standard-tier", "free-tier")}
REQUESTS = "REQUESTS"
TOKENS_BUCKET = "gemini-3-pro-preview/INPUT_TOKENS"
# Requests per day by tier; made-up numbers of a plausible size.
DAILY_REQUESTS: Mapping[str, Mapping[str, int]] = {
    "standard-tier": {"gemini-2.5-pro": 1500, "gemini-2.5-flash": 1500,
                      "gemini-2.5-flash-lite": 1500, "gemini-3-pro-preview": 1000},
    "free-tier": {"gemini-2.5-pro": 100, "gemini-2.5-flash": 250,
                  "gemini-2.5-flash-lite": 1000, "gemini-3-pro-preview": 50},
}
MODEL_IDS = (*DAILY_REQUESTS["standard-tier"], TOKENS_BUCKET)
_WRONG_TYPES: Mapping[str, object] = {
    "loadCodeAssist": {"cloudaicompanionProject": 42, "currentTier": "standard-tier"},
    QUOTA_METHOD: {"buckets": {"modelId": 5, "remainingFraction": "lots"}},
}


def quota_body(acct: AccountState, now: float) -> dict[str, Any]:
    limits = DAILY_REQUESTS[acct.spec.tier]
    buckets = []
    for key, quota in acct.models.items():
        model, _, token_type = key.partition("/")
        token_type = token_type or REQUESTS
        bucket: dict[str, Any] = {"modelId": model, "tokenType": token_type}
        value = quota.value(now, acct.drain)
        if value is not None:  # None: the fraction is left out
            bucket["remainingFraction"] = fraction_json(value)
            amount = math.floor(value * limits[model])
            if token_type == REQUESTS and value < 1.0 and amount:
                bucket["remainingAmount"] = str(amount)  # int64 as a string, as upstream
        bucket["resetTime"] = quota.reset_time(now)
        buckets.append(bucket)
    return {"buckets": buckets}


def _jwt(claims: Mapping[str, Any]) -> str:
    def part(obj: Mapping[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.sim-signature"


def oauth_creds(sim: SimContext, spec: SimAccount,
                tokens: google.SimTokens) -> tuple[str, dict[str, Any], bool]:
    """gemini-cli's `$GEMINI_CLI_HOME/.gemini/oauth_creds.json` (one home per account)."""
    document = {
        "access_token": tokens.access, "refresh_token": tokens.refresh,
        "scope": google.TOKEN_SCOPE, "token_type": "Bearer",
        "id_token": _jwt({"email": spec.email, "email_verified": True,
                          "iat": int(tokens.issued), "exp": int(tokens.expires_at)}),
        "expiry_date": int(tokens.expires_at * 1000),
    }
    return f"gemini-cli-{spec.name}/.gemini/oauth_creds.json", document, False


def cliproxyapi_gemini(sim: SimContext, spec: SimAccount,
                       tokens: google.SimTokens) -> tuple[str, dict[str, Any], bool]:
    """CLIProxyAPI's `<email>-<project>.json` for a Gemini CLI login: the token nested,
    with the OAuth client it was issued to."""
    document = {
        "token": {"access_token": tokens.access, "token_type": "Bearer",
                  "refresh_token": tokens.refresh, "expiry": rfc3339(tokens.expires_at),
                  "token_uri": "https://oauth2.googleapis.com/token",
                  "client_id": sim.client_id, "client_secret": sim.client_secret,
                  "scopes": google.TOKEN_SCOPE.split(), "universe_domain": "googleapis.com"},
        "project_id": spec.project or "", "email": spec.email, "auto": True, "checked": True,
        "type": "gemini",
    }
    return f"{spec.email}-{spec.project or 'all'}.json", document, True


class GeminiCliUpstream(google.GoogleErrors):
    provider = "gemini-cli"
    tiers = TIERS
    credential_styles = (*google.CREDENTIAL_STYLES, "cliproxyapi")
    methods = ("loadCodeAssist", QUOTA_METHOD)
    hosts = google.HOSTS
    token_prefix = "ya29.sim-gcli-"
    model_ids = MODEL_IDS
    pool_windows: tuple[str, ...] = ()

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        # One daily reset for every bucket of an account, as upstream shows.
        reset_at = float(math.floor(now)) + 600 + math.floor(unit(spec.name, "daily") * (DAY - 600))
        models: dict[str, Quota] = {}
        for key in MODEL_IDS:
            default = round(0.55 + 0.45 * unit(spec.name, key), 4)
            models[key] = Quota(spec.model_fractions.get(key, default), now, reset_at, DAY)
        return models, {}

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return google.route(verb, path)

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        onboarded = fault is None or fault.kind != "not_onboarded"
        project = acct.spec.project if onboarded else None
        if method == "loadCodeAssist":
            return json_reply(google.load_code_assist(acct.spec, project))
        if method != QUOTA_METHOD:
            return google.google_error(404, "NOT_FOUND", f"Method {method!r} not found.")
        refusal = google.project_refusal(body, project)
        if refusal is not None:
            return refusal
        return json_reply(quota_body(acct, now))

    def wrong_types(self, method: str) -> Any:
        return _WRONG_TYPES.get(method, {"buckets": "wrong"})

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        # gemini-cli's default is the prod host alone.
        return google.account_config(
            sim, spec, directory, base_url,
            {"file": oauth_creds, "cliproxyapi": cliproxyapi_gemini}, hosts=("prod",))


GEMINI_CLI = GeminiCliUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        # Gemini CLI from its own oauth_creds.json; a free account whose Pro quota
        # is used up (an explicit 0) and whose Flash Lite entry comes without a
        # fraction (unknown: Gemini CLI has no pools to tell it).
        SimAccount("demo-gemini-cli", provider="gemini-cli", credential_style="file",
                   drain_per_hour=0.5),
        SimAccount("demo-gemini-cli-free", provider="gemini-cli", tier="free-tier",
                   drain_per_hour=0.4,
                   model_fractions={"gemini-2.5-pro": 0.0, "gemini-2.5-flash-lite": None}),
    ]
