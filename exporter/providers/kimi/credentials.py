"""Kimi Code's credentials, read only.

- kimi-code's `credentials/kimi-code.json` (`$KIMI_CODE_HOME`, default `~/.kimi-code`;
  the older Python kimi-cli keeps the same file under `$KIMI_SHARE_DIR`, default
  `~/.kimi`): `access_token`, `refresh_token`, `expires_at` (Unix seconds, some
  writers milliseconds);
- CLIProxyAPI's `kimi-<unix-ms>.json`: `type: "kimi"`, `access_token`, `expired`
  (RFC 3339);
- opencode's `auth.json`: its `kimi-for-coding` entry's key;
- Claude Code's `settings.json` whose `ANTHROPIC_BASE_URL` is Kimi Code's
  (`https://api.kimi.com/coding/`): the Kimi Code API key beside it.

Kimi's refresh tokens rotate: the exporter never sends one anywhere. Access tokens
live 10-15 minutes, so the file only helps while the CLI (or the proxy) that renews
it runs; an API key suits unattended monitoring.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from exporter.auth.cli_owned import CliOwnedFile
from exporter.auth.credfile import CredentialFile, load_object, number, text
from exporter.providers.keyfiles import (
    CLAUDE_SETTINGS_TOOL,
    OPENCODE_TOOL,
    claude_settings_keys,
    opencode_keys,
)
from exporter.providers.parsing import ParseError, parse_time
from exporter.snapshot import FetchError, Reason

HOSTS = ("api.kimi.com",)
# opencode's entry for Kimi Code (the Moonshot platform's `moonshotai` is another key).
OPENCODE_NAMES = ("kimi-for-coding",)
TOOL = "kimi-code"
RENEW = ("Kimi Code access tokens live 10-15 minutes: keep `kimi` (the Kimi Code CLI) "
         "running so it renews the file, or use a Kimi Code API key (api_key_file) for "
         "unattended monitoring; the exporter never refreshes Kimi tokens (a refresh from "
         "here would sign the CLI out)")
KEY_ADVICE = ("put a current Kimi Code key (sk-kimi-...) there: Moonshot platform keys are "
              "not Kimi Code keys and get 401")
_MS_ABOVE = 1e11


def _expiry(value: object) -> float | None:
    seconds = number(value)
    if seconds is None or seconds <= 0:
        return None
    return seconds / 1000.0 if seconds > _MS_ABOVE else seconds


def _rfc3339(value: object) -> float | None:
    try:
        return parse_time(value, "expired") if isinstance(value, str) else None
    except ParseError:
        return None


def parse_kimi(body: str, path: Path) -> CredentialFile:
    """kimi-code's file, CLIProxyAPI's `type: kimi` file, or Claude Code's settings
    with a Kimi Code key; an AUTH FetchError naming the file for anything else."""
    doc = load_object(body, path)
    if isinstance(doc.get("env"), dict):
        keys = claude_settings_keys(body, path, "kimi", HOSTS)
        if not keys:
            raise FetchError(Reason.AUTH, f"Claude Code settings {path} hold no Kimi Code "
                                          "key (ANTHROPIC_BASE_URL is not api.kimi.com, or "
                                          "no ANTHROPIC_AUTH_TOKEN / ANTHROPIC_API_KEY)")
        return keys[0]
    if any(isinstance(doc.get(name), dict) for name in OPENCODE_NAMES):
        found = opencode_keys(body, path, "kimi", OPENCODE_NAMES)
        if not found:
            raise FetchError(Reason.AUTH, f"opencode auth.json {path}: its Kimi For Coding "
                                          "entry holds no API key")
        return found[0]
    kind = doc.get("type")
    if kind is not None and kind != "kimi":
        raise FetchError(Reason.AUTH, f"credentials file {path} is not a Kimi file")
    if kind == "kimi":
        return CredentialFile(
            tool="cliproxyapi", provider="kimi", access_token=text(doc.get("access_token")),
            refresh_token=text(doc.get("refresh_token")),
            expires_at=_rfc3339(doc.get("expired")), email=text(doc.get("email")),
            account_id=text(doc.get("device_id")), disabled=doc.get("disabled") is True)
    if "access_token" not in doc and "refresh_token" not in doc:
        raise FetchError(Reason.AUTH, f"credentials file {path} is not a kimi-code "
                                      "credentials file (no access_token)")
    return CredentialFile(
        tool=TOOL, provider="kimi", access_token=text(doc.get("access_token")),
        refresh_token=text(doc.get("refresh_token")), expires_at=_expiry(doc.get("expires_at")))


class KimiFile(CliOwnedFile):
    """`credentials.file`: the CLI's or the proxy's file (renewed by its owner), or
    Claude Code's settings or opencode's auth.json (a key, renewed by nobody)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        super().__init__(path, parse_kimi, RENEW, clock)

    def _advice(self, creds: CredentialFile) -> str:
        if creds.tool in (CLAUDE_SETTINGS_TOOL, OPENCODE_TOOL):
            return KEY_ADVICE
        return super()._advice(creds)
