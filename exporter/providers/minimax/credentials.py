"""MiniMax keys where users keep them, read only: Claude Code's `settings.json` whose
`ANTHROPIC_BASE_URL` is a MiniMax host (the vendor's Claude Code guide), or
opencode's `auth.json` entry `minimax-coding-plan`. MiniMax has no store of its own.

The key is a Coding / Token Plan subscription key: static, never refreshed; the
file is re-read when its owner changes it.

    >>> body = '{"env": {"ANTHROPIC_BASE_URL": "https://api.minimax.io/anthropic", ' \\
    ...        '"ANTHROPIC_AUTH_TOKEN": "sk-cp-1"}}'
    >>> minimax_keys(body, Path("settings.json"))[0].tool
    'claude-code-settings'
"""

from __future__ import annotations

from pathlib import Path

from exporter.auth.cli_owned import CliOwnedFile
from exporter.auth.credfile import CredentialFile, load_object
from exporter.auth.tokens import TokenSource
from exporter.providers.keyfiles import claude_settings_keys, opencode_keys

PROVIDER = "minimax"
# The international platform and the China one (api.minimaxi.com).
HOSTS = ("minimax.io", "minimaxi.com")
OPENCODE_ENTRIES = ("minimax-coding-plan",)
RENEW = ("put a current MiniMax Coding / Token Plan key in it (the exporter never changes "
         "this file)")


def minimax_keys(text: str, path: Path) -> list[CredentialFile]:
    """The MiniMax keys a Claude Code settings file or an opencode auth.json holds;
    [] when it holds none (another vendor's settings, say)."""
    doc = load_object(text, path)
    if isinstance(doc.get("env"), dict):
        return claude_settings_keys(text, path, PROVIDER, HOSTS)
    return opencode_keys(text, path, PROVIDER, OPENCODE_ENTRIES)


def parse_minimax(text: str, path: Path) -> CredentialFile:
    """The one MiniMax key of `credentials.file`; an empty one when it holds none
    (the token source then says what to put there)."""
    found = minimax_keys(text, path)
    return found[0] if found else CredentialFile(tool="none", provider=PROVIDER)


def file_token_source(path: Path) -> TokenSource:
    """`credentials.file`: the key in Claude Code's settings or opencode's auth.json."""
    advice = ("it needs a MiniMax key: Claude Code's settings.json with ANTHROPIC_BASE_URL "
              "https://api.minimax.io/anthropic (or api.minimaxi.com) and "
              "ANTHROPIC_AUTH_TOKEN, or opencode's auth.json with a minimax-coding-plan "
              "entry; else " + RENEW)
    return CliOwnedFile(path, parse_minimax, advice)
