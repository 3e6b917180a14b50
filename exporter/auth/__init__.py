"""Where access tokens come from, and how they are refreshed and cached.

One `TokenSource` per account. Steady state costs no OAuth call: an access token
is reused until shortly before it expires. A refresh token the OAuth server calls
dead (`invalid_grant`) is remembered as dead, so no scrape ever loops on it; a
new refresh token (an edited file, a reloaded config) brings the account back.
Another tool's credential file is only ever read. Auth knows
nothing of config: it is handed paths, secrets and the OAuth client.
"""

from __future__ import annotations

from exporter.auth.credfile import CredentialFile
from exporter.auth.tokens import (
    ASSUMED_TOKEN_LIFETIME,
    EXPIRY_MARGIN,
    ApiKey,
    CredentialHints,
    DeadRefreshToken,
    OAuthRefresher,
    RefreshingToken,
    StaticToken,
    TokenSource,
)

__all__ = [
    "ASSUMED_TOKEN_LIFETIME",
    "EXPIRY_MARGIN",
    "ApiKey",
    "CredentialFile",
    "CredentialHints",
    "DeadRefreshToken",
    "OAuthRefresher",
    "RefreshingToken",
    "StaticToken",
    "TokenSource",
]

