"""Kiro's credentials, read only, in the three places its tools keep them:

- CLIProxyAPIPlus's `kiro-*.json` (`type: "kiro"`, snake_case: `access_token`,
  `refresh_token`, `profile_arn`, `expires_at`, `email`);
- the Kiro IDE's `~/.aws/sso/cache/kiro-auth-token.json` (camelCase: `accessToken`,
  `refreshToken`, `profileArn`, `expiresAt`);
- kiro-cli's SQLite store `data.sqlite3`: table `auth_kv` (`kirocli:odic:token`,
  `kirocli:social:token`, the older `codewhisperer:*` rows; JSON with
  `access_token`, `expires_at`, ...) and table `state` (`api.codewhisperer.profile`
  -> `{"arn": ...}`). It is opened read-only (`mode=ro`) and never written.

Kiro's refresh tokens rotate: the exporter never refreshes them. The profile ARN
(kept in `account_id`, never shown) names the account and its region.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from exporter.auth.credfile import CredentialFile, load_object, text
from exporter.providers.parsing import ParseError, parse_time
from exporter.snapshot import FetchError, Reason

SQLITE_MAGIC = b"SQLite format 3\x00"
# kiro-cli's token rows, preferred first: the kirocli rows over the ones it copied
# from Amazon Q (`codewhisperer:*`) when it migrated.
TOKEN_KEYS = ("kirocli:odic:token", "kirocli:social:token",
              "codewhisperer:odic:token", "codewhisperer:social:token")
PROFILE_KEY = "api.codewhisperer.profile"
_ARN_REGION = re.compile(r"arn:aws[a-z-]*:codewhisperer:([a-z0-9-]+):")
# SQLite waits this long for kiro-cli's write lock before giving up for this fetch.
_BUSY_SECONDS = 0.25


def region_of(profile_arn: str | None) -> str | None:
    """The AWS region a profile ARN names (its 4th field).

    >>> region_of("arn:aws:codewhisperer:eu-central-1:123456789012:profile/ABC")
    'eu-central-1'
    """
    found = _ARN_REGION.match(profile_arn or "")
    return found.group(1) if found else None


def _expiry(value: Any) -> float | None:
    try:
        return parse_time(value, "expires_at")
    except ParseError:
        return None  # unreadable: treated as unknown (upstream then says if it is stale)


def _from_fields(doc: dict[str, Any], tool: str, snake: bool) -> CredentialFile:
    def get(snake_key: str, camel_key: str) -> Any:
        first, second = (snake_key, camel_key) if snake else (camel_key, snake_key)
        value = doc.get(first)
        return value if value is not None else doc.get(second)

    return CredentialFile(
        tool=tool, provider="kiro",
        access_token=text(get("access_token", "accessToken")),
        refresh_token=text(get("refresh_token", "refreshToken")),
        expires_at=_expiry(get("expires_at", "expiresAt")),
        email=text(doc.get("email")),
        account_id=text(get("profile_arn", "profileArn")),
        plan=None,
        disabled=doc.get("disabled") is True,
    )


def parse_kiro(text_: str, path: Path) -> CredentialFile:
    """CLIProxyAPIPlus's `type: kiro` file or the Kiro IDE's `kiro-auth-token.json`."""
    doc = load_object(text_, path)
    if doc.get("type") == "kiro":
        return _from_fields(doc, "cliproxyapi", snake=True)
    if "accessToken" in doc or "refreshToken" in doc:
        return _from_fields(doc, "kiro-ide", snake=False)
    raise FetchError(Reason.AUTH, f"credentials file {path} is not a Kiro sign-in "
                                  "(no `type: kiro`, no accessToken)")


def _rows(db: sqlite3.Connection, table: str, keys: tuple[str, ...]) -> dict[str, str]:
    marks = ",".join("?" * len(keys))
    found = db.execute(f"SELECT key, value FROM {table} WHERE key IN ({marks})", keys)
    return {k: v for k, v in found.fetchall() if isinstance(v, str | bytes)
            for v in [v.decode("utf-8", "replace") if isinstance(v, bytes) else v]}


def _json(value: str | None) -> Any:
    try:
        return json.loads(value) if value else None
    except ValueError:
        return None


def read_kiro_cli(path: Path) -> CredentialFile:
    """kiro-cli's `data.sqlite3`, opened read-only: its newest token row and profile.

    A WAL database opened read-only while kiro-cli is not running would get fresh
    `-wal` and `-shm` files in kiro-cli's folder: without a `-wal` beside it the
    file is idle and is opened `immutable`, so nothing is created there.
    """
    idle = not path.with_name(path.name + "-wal").exists()
    uri = f"file:{quote(str(path))}?mode=ro" + ("&immutable=1" if idle else "")
    try:
        db = sqlite3.connect(uri, uri=True, timeout=_BUSY_SECONDS)
    except sqlite3.Error as exc:
        raise FetchError(Reason.AUTH, f"cannot open kiro-cli's database {path}: {exc}") from None
    try:
        tokens = _rows(db, "auth_kv", TOKEN_KEYS)
        try:
            state = _rows(db, "state", (PROFILE_KEY,))
        except sqlite3.Error:
            state = {}
    except sqlite3.Error as exc:
        raise FetchError(Reason.AUTH, f"cannot read kiro-cli's database {path}: "
                                      f"{type(exc).__name__}") from None
    finally:
        db.close()
    candidates = [(key, doc) for key in TOKEN_KEYS
                  if isinstance(doc := _json(tokens.get(key)), dict)]
    if not candidates:
        raise FetchError(Reason.AUTH, f"kiro-cli's database {path} holds no sign-in; "
                                      "run `kiro-cli login`")
    # kiro-cli's own rows first; among them the one that expires last.
    own = [c for c in candidates if c[0].startswith("kirocli:")] or candidates
    _, doc = max(own, key=lambda c: _expiry(c[1].get("expires_at")) or 0.0)
    creds = _from_fields(doc, "kiro-cli", snake=True)
    profile = _json(state.get(PROFILE_KEY))
    arn = text(profile.get("arn")) if isinstance(profile, dict) else None
    return CredentialFile(
        tool="kiro-cli", provider="kiro", access_token=creds.access_token,
        refresh_token=creds.refresh_token, expires_at=creds.expires_at,
        email=creds.email, account_id=arn or creds.account_id)


def is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


__all__ = ["is_sqlite", "parse_kiro", "read_kiro_cli", "region_of"]
