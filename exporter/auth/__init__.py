"""Where access tokens come from, and how they are refreshed and cached.

One `TokenSource` per account. Steady state costs no OAuth call: an access token
is reused until shortly before it expires. A refresh token the OAuth server calls
dead (`invalid_grant`) is remembered as dead, so no scrape ever loops on it; a
new refresh token (an edited file, a reloaded config) brings the account back.
Another tool's credential file is only ever read (see borrowed.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from exporter.auth.borrowed import BorrowedFile, borrowed_accounts, parse_borrowed
from exporter.auth.credfile import CredentialFile
from exporter.auth.tokens import (
    ASSUMED_TOKEN_LIFETIME,
    EXPIRY_MARGIN,
    CredentialHints,
    DeadRefreshToken,
    OAuthRefresher,
    RefreshingToken,
    StaticToken,
    TokenSource,
)
from exporter.config import AccountConfig

__all__ = [
    "ASSUMED_TOKEN_LIFETIME", "EXPIRY_MARGIN", "BorrowedFile", "CredentialFile",
    "CredentialHints", "DeadRefreshToken", "OAuthRefresher", "RefreshingToken", "StaticToken",
    "TokenSource", "borrowed_accounts", "parse_borrowed", "token_source_for",
]


def token_source_for(
    account: AccountConfig, session: requests.Session, clock: Callable[[], float] = time.time
) -> TokenSource:
    """Build the token source an account's config asks for."""
    creds = account.credentials
    if creds.kind == "access_token":
        return StaticToken(secret=creds.secret)
    if creds.kind == "access_token_file":
        return StaticToken(path=creds.path)
    if creds.kind == "file":
        assert creds.path is not None
        return BorrowedFile(creds.path, session, account.oauth_client, account.token_url, clock,
                            user=creds.user)
    if account.oauth_client is None:
        # The config loader refuses this; kept as a guard for hand-built configs.
        raise ValueError(f"account {account.name}: refresh tokens need an oauth_client")
    refresher = OAuthRefresher(session, account.oauth_client, account.token_url, clock)
    if creds.kind == "refresh_token":
        return RefreshingToken(refresher, secret=creds.secret, clock=clock)
    return RefreshingToken(refresher, path=creds.path, clock=clock)
