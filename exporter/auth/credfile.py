"""What another tool's credentials file holds, read only: the shared shape every
provider's file parser returns, and the helpers they share.

The exporter reads these files and never writes them. A `CredentialFile` never
prints a token: its repr names only the tool and the provider.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter.snapshot import FetchError, Reason


@dataclass(frozen=True)
class CredentialFile:
    """One account's credentials as another tool keeps them."""

    tool: str  # the format: "cliproxyapi", "claude-code", "codex-cli", "copilot", ...
    provider: str  # the exporter provider these credentials serve
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: float | None = None  # wall clock; None when the file does not say
    email: str | None = None
    project: str | None = None  # Google Cloud project
    account_id: str | None = None  # ChatGPT account id, GitHub login, Anthropic account uuid
    plan: str | None = None  # "max", "plus", "individual_pro", ... where the file names one
    plan_name: str | None = None  # its display name ("Claude Max 20x") where the file says enough
    client_id: str | None = None  # an OAuth client some Google files carry
    client_secret: str | None = None
    disabled: bool = False  # the owning tool marked the account disabled

    def __repr__(self) -> str:  # never show tokens, emails or ids
        return f"CredentialFile(tool={self.tool!r}, provider={self.provider!r})"

    @property
    def identity(self) -> str | None:
        """What says two files hold the same account (never shown): the email and the
        account id, either when only one is known. Both when both: one email can sign in
        to several ChatGPT workspaces, each with its own limits."""
        parts = [v.strip().lower() for v in (self.email, self.account_id) if v and v.strip()]
        return "|".join(parts) or None


def load_object(text: str, path: Path, what: str = "credentials file") -> dict[str, Any]:
    """The JSON object in a credentials file; an AUTH FetchError naming the file (and
    the line of a syntax error) but never its contents."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", 0)
        raise FetchError(Reason.AUTH, f"{what} {path} is not JSON (line {line})") from None
    if not isinstance(doc, dict):
        raise FetchError(Reason.AUTH, f"{what} {path} is not a JSON object")
    return doc


def text(value: Any) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value.strip() else None


def number(value: Any) -> float | None:
    """A number, or a numeric string; None for anything else (booleans included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The claims of a JWT, unverified (only read for expiry, email and plan hints);
    {} for anything that is not a JWT.

    >>> jwt_claims("x." + base64.urlsafe_b64encode(b'{"exp": 5}').decode().rstrip("=") + ".y")
    {'exp': 5}
    """
    parts = (token or "").split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError):
        return {}
    return claims if isinstance(claims, dict) else {}
