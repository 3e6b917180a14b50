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

from pathlib import Path

from exporter.auth.credfile import CredentialFile, load_object, number, text
from exporter.snapshot import FetchError, Reason
from exporter.timefmt import parse_rfc3339


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
