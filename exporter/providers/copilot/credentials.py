"""GitHub Copilot's credentials, read only: `~/.config/github-copilot/apps.json`
(`{"github.com:<client id>": {user, oauth_token, githubAppId}}`) or the older
`hosts.json` (`{"github.com": {user, oauth_token}}`), under `$XDG_CONFIG_HOME`
when set. A file may hold several signed-in users; `user` picks one.

The OAuth token does not expire on a timer; a 401 means it was revoked.
"""

from __future__ import annotations

from pathlib import Path

from exporter.auth.cli_owned import CliOwnedFile, FixedToken
from exporter.auth.credfile import CredentialFile, load_object, text
from exporter.auth.tokens import TokenSource
from exporter.config import Credentials
from exporter.snapshot import FetchError, Reason

RENEW = "sign in to GitHub Copilot again in your editor"


def copilot_accounts(text_: str, path: Path) -> list[CredentialFile]:
    """Every GitHub sign-in the file holds, in file order (github.com hosts only)."""
    doc = load_object(text_, path)
    found: list[CredentialFile] = []
    for key, entry in doc.items():
        host = key.split(":", 1)[0]
        if host != "github.com" or not isinstance(entry, dict):
            continue
        token = text(entry.get("oauth_token"))
        if token is None:
            continue
        found.append(CredentialFile(
            tool="copilot", provider="copilot", access_token=token,
            account_id=text(entry.get("user")),
        ))
    return found


def parse_copilot(text_: str, path: Path, user: str | None = None) -> CredentialFile:
    """The one sign-in to use: the only one, or the one whose GitHub login is `user`."""
    accounts = copilot_accounts(text_, path)
    if user is not None:
        accounts = [a for a in accounts if (a.account_id or "").lower() == user.lower()]
        if not accounts:
            # The login is not repeated: error text never names an account.
            raise FetchError(Reason.AUTH, f"credentials file {path} has no sign-in of the "
                                          "GitHub login set as credentials.user")
    if not accounts:
        raise FetchError(
            Reason.AUTH,
            f"credentials file {path} holds no github.com oauth_token: sign in to Copilot "
            "in your editor (or `gh copilot`) first",
        )
    if len(accounts) > 1:
        raise FetchError(
            Reason.AUTH,
            f"credentials file {path} holds {len(accounts)} GitHub sign-ins; set "
            "credentials.user to the login of the one this account is",
        )
    return accounts[0]


def copilot_token_source(creds: Credentials) -> TokenSource:
    """`file` (apps.json / hosts.json, `user` picking a login), `access_token` or
    `access_token_file`. Never refreshed: GitHub's token lives until it is revoked."""
    if creds.kind == "file":
        assert creds.path is not None
        user = creds.user
        return CliOwnedFile(
            creds.path, lambda text_, path: parse_copilot(text_, path, user), RENEW)
    revoked = "GitHub revoked it: supply a new one, or use credentials.file"
    if creds.kind == "access_token":
        return FixedToken(revoked, secret=creds.secret)
    if creds.kind == "access_token_file":
        return FixedToken(revoked, path=creds.path)
    raise ValueError(f"Copilot cannot use {creds.kind} credentials")
