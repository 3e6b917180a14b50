"""Claude Code's credentials, read only: `~/.claude/.credentials.json` (or
`$CLAUDE_CONFIG_DIR/.credentials.json`) and CLIProxyAPI's `claude-<email>.json`.

Claude's refresh tokens rotate with reuse detection: refreshing from outside would
log the user's own CLI out, so the exporter never refreshes them. It reads the
access token, and re-reads the file when the CLI renews it.

>>> creds = parse_claude('{"claudeAiOauth": {"accessToken": "a", "expiresAt": 1.8e12, '
...                      '"subscriptionType": "max"}}', Path("c.json"))
>>> creds.tool, creds.expires_at, creds.plan
('claude-code', 1800000000.0, 'max')
"""

from __future__ import annotations

import re
from pathlib import Path

from exporter.auth.credfile import CredentialFile, load_object, number, text
from exporter.snapshot import FetchError, Reason
from exporter.timefmt import parse_rfc3339

# subscriptionType -> what Anthropic calls the plan.
_PLAN_NAMES = {"free": "Claude Free", "pro": "Claude Pro", "max": "Claude Max",
               "team": "Claude Team", "enterprise": "Claude Enterprise"}
# The Max usage multiplier in rateLimitTier ("default_claude_max_20x").
_MAX_MULTIPLIER = re.compile(r"(?:^|_)max_(\d+x)(?:_|$)")


def plan_name(subscription: str | None, rate_limit_tier: str | None) -> str | None:
    """The plan's display name from the file's `subscriptionType` and `rateLimitTier`;
    None for a plan this code does not know (no name is made up).

    >>> plan_name("max", "default_claude_max_20x"), plan_name("pro", "default_claude_ai")
    ('Claude Max 20x', 'Claude Pro')
    >>> plan_name("max", None), plan_name("galaxy", "default_claude_max_5x")
    ('Claude Max', None)
    """
    plan = (subscription or "").lower()
    name = _PLAN_NAMES.get(plan)
    if name is None:
        return None
    match = _MAX_MULTIPLIER.search(rate_limit_tier or "")
    if plan == "max" and match:
        return f"{name} {match.group(1)}"
    return name


def parse_claude(text_: str, path: Path) -> CredentialFile:
    """Claude Code's `claudeAiOauth` object, or CLIProxyAPI's flat `type: claude` file."""
    doc = load_object(text_, path)
    oauth = doc.get("claudeAiOauth")
    if isinstance(oauth, dict):
        expires_ms = number(oauth.get("expiresAt"))
        return CredentialFile(
            tool="claude-code",
            provider="claude",
            access_token=text(oauth.get("accessToken")),
            refresh_token=text(oauth.get("refreshToken")),
            expires_at=None if expires_ms is None else expires_ms / 1000.0,
            plan=text(oauth.get("subscriptionType")),
            plan_name=plan_name(text(oauth.get("subscriptionType")),
                                text(oauth.get("rateLimitTier"))),
        )
    if doc.get("type") == "claude":
        expired = text(doc.get("expired"))
        try:
            expires_at = parse_rfc3339(expired) if expired else None
        except ValueError:
            expires_at = None
        return CredentialFile(
            tool="cliproxyapi",
            provider="claude",
            access_token=text(doc.get("access_token")),
            refresh_token=text(doc.get("refresh_token")),
            expires_at=expires_at,
            email=text(doc.get("email")),
            account_id=text(doc.get("account_uuid")),
            disabled=doc.get("disabled") is True,
        )
    raise FetchError(
        Reason.AUTH,
        f"credentials file {path} is not a Claude Code credentials file "
        "(no claudeAiOauth object, and not a CLIProxyAPI file of type claude)",
    )
