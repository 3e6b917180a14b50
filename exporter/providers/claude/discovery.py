"""Claude Code's credentials file, for discovery."""

from __future__ import annotations

from pathlib import Path

from exporter.providers.claude.credentials import parse_claude
from exporter.providers.places import Discovery, Entry, Env, Location, Place


def read_claude(text: str, path: Path) -> list[Entry]:
    return [Entry(parse_claude(text, path))]


def claude_places(env: Env) -> list[Place]:
    """Claude Code reads `.credentials.json` from the first of these that is set."""
    for name in ("CLAUDE_SECURESTORAGE_CONFIG_DIR", "CLAUDE_CONFIG_DIR"):
        if value := env.var(name):
            return [Place(env.path(value, env.home) / ".credentials.json", f"${name}")]
    return [Place(env.home / ".claude" / ".credentials.json", "default")]


DISCOVERY = Discovery(
    locations=(
        Location("Claude Code", ("claude",), claude_places, read_claude, ("claude-code",),
                 refreshes=True, sign_in="claude, then /login (Linux; macOS keeps it in the "
                                         "Keychain)"),
    ),
    typed_readers={"claude": read_claude},
    owner_refreshes=True,
)
