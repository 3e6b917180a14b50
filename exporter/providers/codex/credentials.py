"""Codex CLI's credentials, read only: `$CODEX_HOME/auth.json` (default
`~/.codex/auth.json`) and CLIProxyAPI's `codex-<email>[-<plan>].json`.

Codex's refresh tokens rotate with reuse detection: the exporter never refreshes
them. The access token is a JWT; its `exp` says when it expires, and its claims
name the ChatGPT account (sent as `ChatGPT-Account-Id`) and the plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exporter.auth.credfile import CredentialFile, jwt_claims, load_object, number, text
from exporter.snapshot import FetchError, Reason

# The claim namespace OpenAI puts its own claims under.
_AUTH_CLAIM = "https://api.openai.com/auth"
_PROFILE_CLAIM = "https://api.openai.com/profile"


def _openai(claims: dict[str, Any]) -> dict[str, Any]:
    value = claims.get(_AUTH_CLAIM)
    return value if isinstance(value, dict) else {}


def from_token(access_token: str) -> CredentialFile:
    """What a bare access token says of itself (`access_token`, `access_token_file`):
    its expiry, ChatGPT account and plan claims.

    >>> from_token("not-a-jwt").account_id is None
    True
    """
    claims = jwt_claims(access_token)
    openai = _openai(claims)
    return CredentialFile(
        tool="token", provider="codex", access_token=access_token,
        expires_at=number(claims.get("exp")),
        account_id=text(openai.get("chatgpt_account_id")),
        plan=text(openai.get("chatgpt_plan_type")),
    )


def parse_codex(text_: str, path: Path) -> CredentialFile:
    """Codex's `{"tokens": {...}}` file, or CLIProxyAPI's flat `type: codex` file."""
    doc = load_object(text_, path)
    nested = doc.get("tokens")
    if isinstance(nested, dict):
        tokens, tool = nested, "codex-cli"
    elif doc.get("type") == "codex":
        tokens, tool = doc, "cliproxyapi"
    elif text(doc.get("OPENAI_API_KEY")):
        raise FetchError(
            Reason.AUTH,
            f"credentials file {path} holds only an API key: plan quotas need a ChatGPT "
            "sign-in (run `codex login` and choose ChatGPT)",
        )
    else:
        raise FetchError(
            Reason.AUTH, f"credentials file {path} is not a Codex auth.json (no tokens object)")
    access = text(tokens.get("access_token"))
    id_token = text(tokens.get("id_token"))
    access_claims, id_claims = jwt_claims(access), jwt_claims(id_token)
    openai = _openai(id_claims) or _openai(access_claims)
    profile = access_claims.get(_PROFILE_CLAIM)
    email = text(tokens.get("email")) or text(id_claims.get("email")) or (
        text(profile.get("email")) if isinstance(profile, dict) else None)
    return CredentialFile(
        tool=tool,
        provider="codex",
        access_token=access,
        refresh_token=text(tokens.get("refresh_token")),
        expires_at=number(access_claims.get("exp")),
        email=email,
        account_id=text(tokens.get("account_id")) or text(openai.get("chatgpt_account_id")),
        plan=text(openai.get("chatgpt_plan_type")),
        disabled=doc.get("disabled") is True,
    )
