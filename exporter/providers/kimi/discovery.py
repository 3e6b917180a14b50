"""Where Kimi Code sign-ins are kept, for discovery: kimi-code's file (current and
legacy homes), CLIProxyAPI's `type: kimi` files, and Kimi Code keys in Claude Code's
settings and opencode's auth.json.

    >>> env = Env(home=Path("/home/u"), environ={"KIMI_CODE_HOME": "/srv/kc"})
    >>> [str(p.path) for p in kimi_code_places(env)]
    ['/srv/kc/credentials/kimi-code.json']
    >>> [str(p.path) for p in kimi_cli_places(Env(home=Path("/home/u")))]
    ['/home/u/.kimi/credentials/kimi-code.json']
"""

from __future__ import annotations

from pathlib import Path

from exporter.providers.keyfiles import (
    CLAUDE_SETTINGS_TOOL,
    OPENCODE_TOOL,
    claude_settings_keys,
    claude_settings_places,
    opencode_keys,
    opencode_places,
)
from exporter.providers.kimi.credentials import HOSTS, OPENCODE_NAMES, TOOL, parse_kimi
from exporter.providers.places import Discovery, Entry, Env, Location, Place

FILE = Path("credentials") / "kimi-code.json"


def read_kimi(text: str, path: Path) -> list[Entry]:
    return [Entry(parse_kimi(text, path))]


def read_settings(text: str, path: Path) -> list[Entry]:
    return [Entry(c) for c in claude_settings_keys(text, path, "kimi", HOSTS)]


def read_opencode(text: str, path: Path) -> list[Entry]:
    return [Entry(c) for c in opencode_keys(text, path, "kimi", OPENCODE_NAMES)]


def kimi_code_places(env: Env) -> list[Place]:
    if value := env.var("KIMI_CODE_HOME"):
        return [Place(env.path(value, env.home) / FILE, "$KIMI_CODE_HOME")]
    return [Place(env.home / ".kimi-code" / FILE, "default")]


def kimi_cli_places(env: Env) -> list[Place]:
    if value := env.var("KIMI_SHARE_DIR"):
        return [Place(env.path(value, env.home) / FILE, "$KIMI_SHARE_DIR")]
    return [Place(env.home / ".kimi" / FILE, "default")]


DISCOVERY = Discovery(
    locations=(
        Location("Kimi Code CLI", ("kimi",), kimi_code_places, read_kimi, (TOOL,),
                 refreshes=True, sign_in="kimi login (Kimi Code CLI)"),
        Location("Kimi CLI (legacy)", ("kimi",), kimi_cli_places, read_kimi, (TOOL,),
                 refreshes=True, sign_in="kimi login (kimi-cli)"),
        Location("Claude Code settings (Kimi key)", ("kimi",), claude_settings_places,
                 read_settings, (CLAUDE_SETTINGS_TOOL,),
                 sign_in="a Kimi Code key as ANTHROPIC_AUTH_TOKEN in ~/.claude/settings.json"),
        Location("opencode (Kimi key)", ("kimi",), opencode_places, read_opencode,
                 (OPENCODE_TOOL,), sign_in="opencode auth login (Kimi For Coding)"),
    ),
    typed_readers={"kimi": read_kimi},
    owner_refreshes=True,
)
