"""The tools that sign in to Antigravity, and where they keep their files."""

from __future__ import annotations

from pathlib import Path

from exporter.providers.google.discovery import read_google
from exporter.providers.places import Discovery, Env, Location, Place


def antigravity_manager_places(env: Env) -> list[Place]:
    """Its data folder: `$ABV_DATA_DIR`, else the path in `~/.antigravity_tools_location`,
    else `~/.antigravity_tools` (the order the app itself follows)."""
    if value := env.var("ABV_DATA_DIR"):
        return [Place(env.path(value, env.home) / "accounts", "$ABV_DATA_DIR")]
    pointer = env.home / ".antigravity_tools_location"
    try:
        named = pointer.read_text(encoding="utf-8-sig").strip()
    except (OSError, ValueError):
        named = ""
    if named:
        return [Place(env.path(named, env.home) / "accounts",
                      "named in ~/.antigravity_tools_location")]
    return [Place(env.home / ".antigravity_tools" / "accounts", "default")]


def agy_places(env: Env) -> list[Place]:
    # agy has no variable for it; people point HOME at a profile instead.
    return [Place(env.home / ".gemini" / "antigravity-cli" / "antigravity-oauth-token",
                  "default")]


def opencode_places(env: Env) -> list[Place]:
    if env.windows:
        appdata = env.var("APPDATA")
        base = Path(appdata) if appdata else env.home / "AppData" / "Roaming"
        return [Place(base / "opencode" / "antigravity-accounts.json",
                      "%APPDATA%" if appdata else "default")]
    how = "$XDG_CONFIG_HOME" if env.var("XDG_CONFIG_HOME") else "default"
    return [Place(env.xdg_config() / "opencode" / "antigravity-accounts.json", how)]


DISCOVERY = Discovery(
    locations=(
        Location("Antigravity-Manager", ("antigravity",), antigravity_manager_places,
                 read_google, ("antigravity-manager",), pattern="*.json", refreshes=True,
                 sign_in="add the account in Antigravity-Manager"),
        Location("agy", ("antigravity",), agy_places, read_google, ("agy",), refreshes=True,
                 sign_in="agy login (its file fallback; the keyring is not read)"),
        Location("opencode-antigravity-auth", ("antigravity",), opencode_places, read_google,
                 ("opencode",), sign_in="opencode auth login"),
    ),
    typed_readers={"antigravity": read_google},
    client_vars=("ANTIGRAVITY_OAUTH_CLIENT_ID", "ANTIGRAVITY_OAUTH_CLIENT_SECRET"),
)
