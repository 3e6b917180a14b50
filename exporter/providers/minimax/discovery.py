"""Where MiniMax keys are found: Claude Code's settings pointed at MiniMax, opencode's
auth.json. CLIProxyAPI keeps MiniMax keys only in its config, not as auth files, so
there is no `type` to read."""

from __future__ import annotations

from pathlib import Path

from exporter.providers.keyfiles import (
    CLAUDE_SETTINGS_TOOL,
    OPENCODE_TOOL,
    claude_settings_places,
    opencode_places,
)
from exporter.providers.minimax.credentials import minimax_keys
from exporter.providers.places import Discovery, Entry, Location, Unsupported


def read_minimax(text: str, path: Path) -> list[Entry]:
    found = minimax_keys(text, path)
    if not found:
        raise Unsupported("no MiniMax key in it")
    return [Entry(c) for c in found]


DISCOVERY = Discovery(
    locations=(
        Location("Claude Code settings (MiniMax key)", ("minimax",), claude_settings_places,
                 read_minimax, (CLAUDE_SETTINGS_TOOL,),
                 sign_in="MiniMax's Claude Code guide: ANTHROPIC_BASE_URL "
                         "https://api.minimax.io/anthropic and the plan key in settings.json"),
        Location("opencode (MiniMax key)", ("minimax",), opencode_places, read_minimax,
                 (OPENCODE_TOOL,), sign_in="opencode auth login (MiniMax Coding Plan)"),
    ),
)
