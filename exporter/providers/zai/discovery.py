"""Where z.ai keys already sit, for discovery: Claude Code's settings pointed at z.ai,
opencode's auth.json, and CLIProxyAPI-fork auth files of `type` `zai`."""

from __future__ import annotations

from pathlib import Path

from exporter.providers.keyfiles import (
    CLAUDE_SETTINGS_TOOL,
    OPENCODE_TOOL,
    claude_settings_places,
    opencode_places,
)
from exporter.providers.places import Discovery, Entry, Location, Unsupported, several
from exporter.providers.zai.credentials import OPENCODE_NAMES, key_files


def read_keys(text: str, path: Path) -> list[Entry]:
    found = [k.creds for k in key_files(text, path)]
    if not found:
        raise Unsupported("no z.ai key in it (ANTHROPIC_BASE_URL elsewhere, or no "
                          f"{' / '.join(OPENCODE_NAMES)} entry)")
    if found[0].tool == OPENCODE_TOOL:
        return several(found, lambda c: c.account_id, always=True)
    return [Entry(c) for c in found]


DISCOVERY = Discovery(
    locations=(
        Location("Claude Code settings (z.ai key)", ("zai",), claude_settings_places, read_keys,
                 (CLAUDE_SETTINGS_TOOL,),
                 sign_in="set env ANTHROPIC_BASE_URL https://api.z.ai/api/anthropic and "
                         "ANTHROPIC_AUTH_TOKEN in ~/.claude/settings.json"),
        Location("opencode (z.ai key)", ("zai",), opencode_places, read_keys, (OPENCODE_TOOL,),
                 sign_in="opencode auth login, then Z.AI Coding Plan"),
    ),
    typed_readers={"zai": read_keys},
)
