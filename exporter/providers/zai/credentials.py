"""z.ai's credentials, read only: an API key of a GLM Coding Plan.

In the config (`api_key`, `api_key_file`, `api_key_env`), or `file` pointing at one
of the files users already keep it in:

- Claude Code's `settings.json`, whose `env` points Claude Code at z.ai
  (`ANTHROPIC_BASE_URL` `https://api.z.ai/api/anthropic`, or BigModel's
  `https://open.bigmodel.cn/api/anthropic`) with the key in `ANTHROPIC_AUTH_TOKEN`;
- opencode's `auth.json`, entry `zai-coding-plan` (or `zhipuai-coding-plan` for
  BigModel), `{"type": "api", "key": ...}`;
- a CLIProxyAPI-fork auth file `{"type": "zai", "provider": "zai"|"bigmodel",
  "access_token": ...}`.

A key does not expire and nothing refreshes it: a refused key is an `auth` error,
and the file is re-read when its owner changes it. The file also says the region:
its base URL's host (or BigModel's names) picks `https://open.bigmodel.cn`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from exporter.auth.cli_owned import CliOwnedFile
from exporter.auth.credfile import CredentialFile, load_object, text
from exporter.auth.tokens import TokenSource
from exporter.config import AccountConfig
from exporter.providers.base import api_key_source
from exporter.providers.keyfiles import (
    CLAUDE_SETTINGS_TOOL,
    claude_settings_keys,
    host_of,
    opencode_keys,
)
from exporter.snapshot import FetchError, Reason

PROVIDER = "zai"
HOSTS = ("z.ai", "bigmodel.cn")
INTERNATIONAL = "https://api.z.ai"
CHINA = "https://open.bigmodel.cn"
OPENCODE_NAMES = ("zai-coding-plan", "zhipuai-coding-plan")
_CHINA_NAMES = ("zhipuai-coding-plan",)
CLIPROXY_TYPE = "zai"
RENEW = ("put the current Coding Plan API key in that file (Claude Code's settings "
         "env ANTHROPIC_AUTH_TOKEN, or `opencode auth login`); API keys are never refreshed")


@dataclass(frozen=True)
class KeyFile:
    """The key a file holds and the base URL its region says (None: the default)."""

    creds: CredentialFile
    origin: str | None = None


def origin_of(url: str) -> str | None:
    """The API origin of a z.ai or BigModel base URL; None for any other host.

    >>> origin_of("https://open.bigmodel.cn/api/anthropic"), origin_of("https://x.io")
    ('https://open.bigmodel.cn', None)
    """
    host = host_of(url)
    if any(host == h or host.endswith("." + h) for h in HOSTS):
        return f"https://{host}"
    return None


def _claude_settings(body: str, path: Path) -> list[KeyFile]:
    found = claude_settings_keys(body, path, PROVIDER, HOSTS)
    env = load_object(body, path, "Claude Code settings").get("env")
    base = text(env.get("ANTHROPIC_BASE_URL")) if isinstance(env, dict) else None
    return [KeyFile(c, origin_of(base or "")) for c in found]


def _opencode(body: str, path: Path) -> list[KeyFile]:
    return [KeyFile(c, CHINA if c.account_id in _CHINA_NAMES else None)
            for c in opencode_keys(body, path, PROVIDER, OPENCODE_NAMES)]


def _cliproxy(doc: dict[str, object]) -> list[KeyFile]:
    key = text(doc.get("access_token")) or text(doc.get("api_key"))
    if key is None:
        return []
    creds = CredentialFile(tool="cliproxyapi", provider=PROVIDER, access_token=key.strip(),
                           email=text(doc.get("email")), disabled=doc.get("disabled") is True)
    return [KeyFile(creds, CHINA if doc.get("provider") == "bigmodel" else None)]


def key_files(body: str, path: Path) -> list[KeyFile]:
    """Every z.ai key the file holds, whichever of the three formats it is."""
    doc = load_object(body, path)
    if "env" in doc or path.name == "settings.json":
        return _claude_settings(body, path)
    if doc.get("type") == CLIPROXY_TYPE:
        return _cliproxy(doc)
    return _opencode(body, path)


def parse_key_file(body: str, path: Path, user: str | None = None) -> KeyFile:
    """The one key to use: the only one, or the opencode entry named `user`."""
    found = key_files(body, path)
    if user is not None:
        found = [k for k in found if k.creds.account_id == user]
    if not found:
        raise FetchError(Reason.AUTH, (
            f"credentials file {path} holds no z.ai key: Claude Code's settings need "
            "env ANTHROPIC_BASE_URL on api.z.ai or open.bigmodel.cn and "
            "ANTHROPIC_AUTH_TOKEN; opencode's auth.json an entry "
            f"{' or '.join(OPENCODE_NAMES)}{'' if user is None else ' named as credentials.user'}"))
    if len(found) > 1:
        raise FetchError(Reason.AUTH, f"credentials file {path} holds {len(found)} z.ai keys; "
                                      "set credentials.user to the entry name to use")
    return found[0]


class ZaiKeyFile(CliOwnedFile):
    """`credentials.file`: the key (and its region) in another tool's file, re-read
    when it changes, never written."""

    def __init__(self, path: Path, user: str | None = None) -> None:
        self._origin: str | None = None
        self._user = user
        super().__init__(path, self._parse, RENEW)

    def _parse(self, body: str, path: Path) -> CredentialFile:
        found = parse_key_file(body, path, self._user)
        self._origin = found.origin
        return found.creds

    def origin(self) -> str | None:
        """The base URL the file's region says; None when it says none (or is unreadable
        now: the fetch then reports why)."""
        try:
            self.credentials()
        except FetchError:
            return None
        return self._origin


def zai_token_source(account: AccountConfig) -> TokenSource:
    """`api_key`, `api_key_file`, `api_key_env`, or `file` (see the module docstring)."""
    keyed = api_key_source(account)
    if keyed is not None:
        return keyed
    creds = account.credentials
    if creds.kind == "file" and creds.path is not None:
        return ZaiKeyFile(creds.path, creds.user)
    raise ValueError(f"z.ai cannot use {creds.kind} credentials")


__all__ = ["CLAUDE_SETTINGS_TOOL", "KeyFile", "ZaiKeyFile", "key_files", "parse_key_file",
           "zai_token_source"]
