"""The simulated Antigravity upstream: loadCodeAssist, fetchAvailableModels and
retrieveUserQuotaSummary, with the shapes of the example bodies (tests/fixtures/upstream).

Fractions are reported in 20% steps, rounded up, as the real upstream does since
January 2026 (`SimAccount.fraction_step=None` reports them exactly).

The traps the exporter exists for can be set per account: a model at 100% whose
pool is empty (`pool_fractions={"claude-gpt/5h": 0.0}`); a model whose fraction is
left out (`model_fractions={"claude-opus-4-5-thinking": None}`), as upstream does
for fresh accounts and new models; a pool bucket whose fraction is left out
(`pool_fractions={"claude-gpt/5h": None}`), the summary's way of saying 0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporter.providers.google import simulated as google
from exporter.simkit.common import (
    FIVE_HOURS,
    WEEK,
    AccountState,
    Fault,
    Quota,
    Reply,
    SimAccount,
    SimContext,
    fraction_json,
    json_reply,
    stepped,
    unit,
)


@dataclass(frozen=True)
class _Model:
    id: str
    display_name: str
    provider: str
    reset_group: str  # models of one group share their reset time, as upstream shows
    extras: Mapping[str, object] = field(default_factory=dict)


MODELS = (
    _Model("gemini-3-pro-high", "Gemini 3 Pro (High)", "MODEL_PROVIDER_GOOGLE", "pro", {
        "recommended": True, "supportsImages": True, "supportsThinking": True,
        "maxTokens": 1048576, "maxOutputTokens": 65535}),
    _Model("gemini-3-flash", "Gemini 3 Flash", "MODEL_PROVIDER_GOOGLE", "flash"),
    _Model("claude-sonnet-4-5", "Claude Sonnet 4.5", "MODEL_PROVIDER_ANTHROPIC", "3p"),
    _Model("claude-opus-4-5-thinking", "Claude Opus 4.5 (Thinking)", "MODEL_PROVIDER_ANTHROPIC",
           "3p", {"supportsThinking": True}),
    _Model("gpt-oss-120b-medium", "GPT-OSS 120B (Medium)", "MODEL_PROVIDER_OPENAI", "3p"),
)
# Internal entries real replies carry without quotaInfo: not quotas.
INTERNAL_MODELS: Mapping[str, Mapping[str, object]] = {
    "chat_20706": {}, "tab_flash_lite_preview": {"displayName": ""}}
# pool slug -> (group displayName, description, bucketId prefix)
POOLS = {
    "gemini": ("Gemini Models", "Models within this group: Gemini Flash, Gemini Pro", "gemini"),
    "claude-gpt": ("Claude and GPT models",
                   "Models within this group: Claude Sonnet, Claude Opus, GPT-OSS", "3p"),
}
WINDOWS = {"5h": ("5 Hour Limit", FIVE_HOURS), "weekly": ("Weekly Limit", WEEK)}
QUOTA_METHODS = ("fetchAvailableModels", "retrieveUserQuotaSummary")
# Valid JSON whose types are wrong where a parser looks: lists for objects, strings for numbers.
_WRONG_TYPES: Mapping[str, object] = {
    "loadCodeAssist": {"cloudaicompanionProject": 42, "currentTier": "g1-pro-tier",
                       "paidTier": ["g1-pro-tier"]},
    "fetchAvailableModels": {"models": [{"gemini-3-flash": {
        "displayName": 3, "quotaInfo": {"remainingFraction": "lots", "resetTime": 1234}}}]},
    "retrieveUserQuotaSummary": {"groups": {"displayName": "Gemini Models", "buckets": "none"}},
    "token": {"access_token": 12345, "expires_in": "soon", "token_type": ["Bearer"]},
}


def models_body(acct: AccountState, now: float) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for m in MODELS:
        quota = acct.models[m.id]
        info: dict[str, Any] = {"resetTime": quota.reset_time(now)}
        value = quota.value(now, acct.drain)
        # proto3 JSON: a zero is left out, like an unset field.
        if value:
            shown = stepped(value, acct.spec.fraction_step)
            info = {"remainingFraction": fraction_json(shown), **info}
        models[m.id] = {"displayName": m.display_name, "modelProvider": m.provider,
                        **m.extras, "quotaInfo": info}
    models.update({k: dict(v) for k, v in INTERNAL_MODELS.items()})
    return {"models": models, "defaultAgentModelId": "gemini-3-pro-high",
            "deprecatedModelIds": {"gemini-3-pro-low": {"newModelId": "gemini-3-pro-high"}}}


def summary_body(acct: AccountState, now: float) -> dict[str, Any]:
    groups = []
    for pool, (display, description, prefix) in POOLS.items():
        buckets = []
        for window, (window_name, _) in WINDOWS.items():
            quota = acct.pools[pool, window]
            bucket: dict[str, Any] = {"bucketId": f"{prefix}-{window}",
                                      "displayName": window_name, "window": window}
            value = quota.value(now, acct.drain)
            # Summary replies carry an explicit 0 (as the example bodies show);
            # `pool_fractions={...: None}` leaves it out instead.
            if value is not None:
                bucket["remainingFraction"] = fraction_json(
                    stepped(value, acct.spec.fraction_step))
            bucket["resetTime"] = quota.reset_time(now)
            buckets.append(bucket)
        groups.append({"displayName": display, "description": description, "buckets": buckets})
    return {"groups": groups}


class AntigravityUpstream(google.GoogleErrors):
    provider = "antigravity"
    reports_in_steps = True  # SimAccount.fraction_step: 20% since January 2026
    tiers = google.TIER_NAMES
    credential_styles = google.CREDENTIAL_STYLES
    methods = ("loadCodeAssist", *QUOTA_METHODS)
    hosts = google.HOSTS
    token_prefix = "ya29.sim-static-"
    model_ids = tuple(m.id for m in MODELS)
    pool_windows = tuple(f"{p}/{w}" for p in POOLS for w in WINDOWS)

    def quotas(
        self, spec: SimAccount, now: float
    ) -> tuple[dict[str, Quota], dict[tuple[str, str], Quota]]:
        base = float(math.floor(now))
        models: dict[str, Quota] = {}
        for m in MODELS:
            default = round(0.55 + 0.45 * unit(spec.name, m.id), 4)
            start = spec.model_fractions.get(m.id, default)
            offset = 600 + math.floor(unit(spec.name, m.reset_group) * (FIVE_HOURS - 600))
            fractional = m.id == "gemini-3-flash"
            reset_at = base + offset + (0.123456 if fractional else 0.0)
            models[m.id] = Quota(start, now, reset_at, FIVE_HOURS, fractional)
        pools: dict[tuple[str, str], Quota] = {}
        for pool in POOLS:
            for window, (_, period) in WINDOWS.items():
                default = round(0.5 + 0.5 * unit(spec.name, pool, window), 4)
                start = spec.pool_fractions.get(f"{pool}/{window}", default)
                offset = 600 + math.floor(unit(spec.name, pool, window, "reset") * (period - 600))
                pools[pool, window] = Quota(start, now, base + offset, period)
        return models, pools

    def route(self, verb: str, path: str) -> tuple[str, str] | None:
        return google.route(verb, path)

    def answer(self, acct: AccountState, method: str, body: bytes, now: float,
               fault: Fault | None) -> Reply:
        onboarded = fault is None or fault.kind != "not_onboarded"
        project = acct.spec.project if onboarded else None
        if fault is not None and fault.kind == "403_identity":
            return google.google_error(
                403, "PERMISSION_DENIED", f"Permission denied on resource project "
                f"{acct.spec.project} for user {acct.spec.email}.")
        if method == "loadCodeAssist":
            return json_reply(google.load_code_assist(acct.spec, project))
        if method not in QUOTA_METHODS:
            return google.google_error(404, "NOT_FOUND", f"Method {method!r} not found.")
        refusal = google.project_refusal(body, project)
        if refusal is not None:
            return refusal
        if method == "fetchAvailableModels":
            return json_reply(models_body(acct, now))
        if acct.spec.tier == "free-tier":
            return google.google_error(403, "PERMISSION_DENIED", google.NO_LICENSE)
        return json_reply(summary_body(acct, now))

    def wrong_types(self, method: str) -> Any:
        return _WRONG_TYPES.get(method, {"models": "wrong"})

    def account_config(self, sim: SimContext, spec: SimAccount, directory: Path,
                       base_url: str) -> dict[str, object]:
        return google.account_config(sim, spec, directory, base_url,
                                     {"file": google.cliproxyapi_antigravity})


ANTIGRAVITY = AntigravityUpstream()


def demo_accounts() -> list[SimAccount]:
    """This upstream's accounts in the demo: every state the exporter knows of it."""
    return [
        SimAccount("demo-ultra", tier="g1-ultra-tier", drain_per_hour=0.6),
        SimAccount("demo-pro", credential_style="file", drain_per_hour=1.2),
        SimAccount("demo-pro-2", credential_style="access_token", drain_per_hour=1.5,
                   model_fractions={"claude-sonnet-4-5": 0.06},
                   pool_fractions={"claude-gpt/5h": 0.12}),
        SimAccount("demo-standard", tier="standard-tier",
                   credential_style="refresh_token_file", drain_per_hour=0.3),
        SimAccount("demo-free", tier="free-tier", drain_per_hour=0.4),
        SimAccount("demo-revoked", revoked=True),
        SimAccount("demo-not-onboarded", tier="free-tier", project=None,
                   credential_style="access_token_file"),
        # The traps: a model at 100% whose 5-hour pool is empty; a fresh account
        # whose models come without a fraction while its pools are fine (unknown of
        # their own, resolved from the pools: no page); an empty pool whose bucket
        # and models all leave the fraction out (exhausted: it pages); a new model
        # without a fraction on a free account, which has no pools to tell it
        # (unknown, said so); a pool summary that fails while the models answer.
        SimAccount("demo-pool-empty", drain_per_hour=0.3,
                   model_fractions={"claude-sonnet-4-5": 1.0},
                   pool_fractions={"claude-gpt/5h": 0.0}),
        SimAccount("demo-fresh", drain_per_hour=0.3,
                   model_fractions=dict.fromkeys(
                       ("gemini-3-pro-high", "gemini-3-flash", "claude-sonnet-4-5",
                        "claude-opus-4-5-thinking", "gpt-oss-120b-medium")),
                   pool_fractions={"gemini/5h": 1.0, "gemini/weekly": 1.0,
                                   "claude-gpt/5h": 0.8, "claude-gpt/weekly": 0.6}),
        SimAccount("demo-omitted", drain_per_hour=0.3,
                   model_fractions={"claude-sonnet-4-5": None,
                                    "claude-opus-4-5-thinking": None,
                                    "gpt-oss-120b-medium": None},
                   pool_fractions={"claude-gpt/5h": None}),
        SimAccount("demo-free-new-model", tier="free-tier", drain_per_hour=0.3,
                   model_fractions={"claude-opus-4-5-thinking": None}),
        SimAccount("demo-summary-down", drain_per_hour=0.3,
                   failing_methods=("retrieveUserQuotaSummary",)),
    ]
