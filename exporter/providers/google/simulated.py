"""What the simulated Google upstreams (Antigravity, Gemini CLI) share: the Cloud Code
API's paths and error bodies, the OAuth token endpoint's credentials, config entries."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter.simkit.common import (
    Fault,
    Reply,
    SimAccount,
    SimContext,
    json_error,
    write_secret,
)
from exporter.timefmt import rfc3339

# Two fake hosts on one port, told apart by a path prefix; a bare path is "prod".
V1INTERNAL = re.compile(r"^(?:/(daily|prod))?/v1internal:([A-Za-z]+)$")
HOSTS = ("daily", "prod")
NO_LICENSE = "You do not have a valid license of this product."
BAD_TOKEN = ("Request had invalid authentication credentials. Expected OAuth 2 access token, "
             "login cookie or other valid authentication credential.")
TOKEN_SCOPE = (
    "https://www.googleapis.com/auth/cloud-platform "
    "https://www.googleapis.com/auth/userinfo.email"
)
CREDENTIAL_STYLES = (
    "refresh_token", "refresh_token_file", "access_token", "access_token_file", "file")
# Paid tiers first: the first is Antigravity's default.
TIER_NAMES = {
    "g1-pro-tier": "Google AI Pro",
    "g1-ultra-tier": "Google AI Ultra",
    "standard-tier": "Gemini Code Assist",
    "free-tier": "Gemini Code Assist for individuals",
}


google_error = json_error


def unauthorized() -> Reply:
    return google_error(401, "UNAUTHENTICATED", BAD_TOKEN)


def fault_error(fault: Fault) -> Reply:
    """A Google-style error body for an error fault, RetryInfo included for a 429."""
    if fault.kind == "429":
        delay = f"{fault.retry_delay:g}s"
        return google_error(429, "RESOURCE_EXHAUSTED",
                            "Resource has been exhausted (e.g. check quota).", [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
             "domain": "cloudcode-pa.googleapis.com", "metadata": {"quotaResetDelay": delay}},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}])
    code, status, message = {
        "401": (401, "UNAUTHENTICATED", BAD_TOKEN),
        "403": (403, "PERMISSION_DENIED", "Verify your account to continue."),
        "403_license": (403, "PERMISSION_DENIED", NO_LICENSE),
        "500": (500, "INTERNAL", "Internal error encountered."),
        "503": (503, "UNAVAILABLE", "The service is currently unavailable."),
    }[fault.kind]
    return google_error(code, status, message)


def is_paid(tier: str) -> bool:
    return tier.startswith("g1-")


def load_code_assist(spec: SimAccount, project: str | None) -> dict[str, Any]:
    """The loadCodeAssist reply: paid tiers as paidTier over standard-tier, like upstream."""
    def tier(tier_id: str, default: bool = False) -> dict[str, Any]:
        return {"id": tier_id, "name": TIER_NAMES[tier_id], "isDefault": default}

    free = tier("free-tier", default=True)
    if project is None:
        return {"allowedTiers": [free], "ineligibleTiers": [{
            "reasonCode": "VALIDATION_REQUIRED",
            "reasonMessage": "Verify your account to continue.",
            "tierId": "standard-tier", "tierName": TIER_NAMES["standard-tier"]}]}
    if spec.tier == "free-tier":
        return {"cloudaicompanionProject": {"id": project, "name": project},
                "currentTier": free, "allowedTiers": [free]}
    reply: dict[str, Any] = {"cloudaicompanionProject": project,
                             "currentTier": {**tier("standard-tier"),
                                             "description": "Unlimited coding assistant"},
                             "allowedTiers": [tier("standard-tier", default=True)]}
    if is_paid(spec.tier):
        reply["paidTier"] = {"id": spec.tier, "name": spec.tier_name,
                             "description": spec.tier_name}
        if spec.tier == "g1-ultra-tier":
            reply["paidTier"]["availableCredits"] = [{
                "creditType": "GOOGLE_ONE_AI", "creditAmount": "25000",
                "minimumCreditAmountForUsage": "50"}]
    return reply


def route(verb: str, path: str) -> tuple[str, str] | None:
    """(host, method) of a Cloud Code call; any method name, so an unknown one gets
    the upstream's own 404 (and is counted)."""
    match = V1INTERNAL.match(path)
    if verb != "POST" or not match:
        return None
    return match.group(1) or "prod", match.group(2)


def project_refusal(body: bytes, project: str | None) -> Reply | None:
    """The error upstream gives a quota call whose body names no project, or one that
    is not the account's (`project` None: never onboarded); None when it is right."""
    try:
        asked = json.loads(body or b"{}").get("project")
    except (ValueError, AttributeError):
        return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    if not asked or not isinstance(asked, str):
        return google_error(400, "INVALID_ARGUMENT",
                            "Request contains an invalid argument: project is required.")
    if project is None or asked != project:
        return google_error(403, "PERMISSION_DENIED",
                            f"Permission denied on resource project {asked}.")
    return None


class GoogleErrors:
    """How the Google upstreams answer a bad token and the error faults; the simulator's
    OAuth token endpoint is Google's, and answers with this scope."""

    token_scope = TOKEN_SCOPE

    def unauthorized(self) -> Reply:
        return unauthorized()

    def error(self, fault: Fault) -> Reply:
        return fault_error(fault)


@dataclass(frozen=True)
class SimTokens:
    """What a credential file of a simulated Google account carries."""

    refresh: str
    access: str
    expires_at: float  # wall clock
    issued: float


# (sim, account, tokens) -> (file path under the config directory, JSON document,
# whether the file carries the OAuth client, as CLIProxyAPI's gemini files do).
FileWriter = Callable[[SimContext, SimAccount, SimTokens], tuple[str, dict[str, Any], bool]]


def cliproxyapi_antigravity(sim: SimContext, spec: SimAccount,
                            tokens: SimTokens) -> tuple[str, dict[str, Any], bool]:
    """CLIProxyAPI's `~/.cli-proxy-api/antigravity-<email>.json`."""
    auth: dict[str, Any] = {
        "type": spec.provider, "access_token": tokens.access, "refresh_token": tokens.refresh,
        "expires_in": int(sim.token_ttl), "timestamp": int(tokens.issued * 1000),
        "expired": rfc3339(tokens.expires_at), "email": spec.email}
    if spec.project:
        auth["project_id"] = spec.project
    return f"antigravity-{spec.email}.json", auth, False


def account_config(sim: SimContext, spec: SimAccount, directory: Path, base_url: str,
                   files: Mapping[str, FileWriter],
                   hosts: Sequence[str] = HOSTS) -> dict[str, object]:
    """A Google account's config entry. `files` writes the credential file of each
    style that borrows one (e.g. "file": CLIProxyAPI's antigravity file); `hosts` are
    the fake hosts its endpoints name, in order."""
    style = spec.credential_style
    refresh, access, expires_at = sim.credentials(spec.name, expiring=style in files)
    credentials: dict[str, str]
    carries_client = False
    if style in ("refresh_token", "access_token"):
        credentials = {style: refresh if style == "refresh_token" else access}
    elif style in ("refresh_token_file", "access_token_file"):
        path = directory / f"{spec.name}.{style.removesuffix('_file')}"
        write_secret(path, (refresh if style == "refresh_token_file" else access) + "\n")
        credentials = {style: str(path)}
    else:
        tokens = SimTokens(refresh, access, expires_at, expires_at - sim.token_ttl)
        name, document, carries_client = files[style](sim, spec, tokens)
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_secret(path, json.dumps(document, indent=2) + "\n")
        credentials = {"file": str(path)}
    entry: dict[str, object] = {"name": spec.name, "provider": spec.provider,
                                "credentials": credentials}
    if not style.startswith("access_token") and not carries_client:
        entry["oauth_client"] = {"client_id": sim.client_id, "client_secret": sim.client_secret}
    entry["endpoints"] = [f"{base_url}/{host}" for host in hosts]
    entry["token_url"] = f"{base_url}/token"
    return entry
