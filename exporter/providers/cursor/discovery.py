"""Cursor's `state.vscdb`, for discovery: where the editor keeps it on each system.

    >>> env = Env(home=Path("/home/u"), environ={})
    >>> [str(p.path) for p in cursor_places(env)]
    ['/home/u/.config/Cursor/User/globalStorage/state.vscdb', \
'/home/u/Library/Application Support/Cursor/User/globalStorage/state.vscdb']
"""

from __future__ import annotations

from pathlib import Path

from exporter.providers.cursor.credentials import parse_state_db
from exporter.providers.places import Discovery, Entry, Env, Location, Place

STORE = Path("Cursor") / "User" / "globalStorage" / "state.vscdb"


def load_cursor(path: Path) -> list[Entry]:
    """The store's one sign-in (read with SQLite, read only)."""
    return [Entry(parse_state_db(path))]


def read_cursor(text: str, path: Path) -> list[Entry]:
    return load_cursor(path)


def cursor_places(env: Env) -> list[Place]:
    if env.windows:
        appdata = env.var("APPDATA")
        base = Path(appdata) if appdata else env.home / "AppData" / "Roaming"
        return [Place(base / STORE, "%APPDATA%" if appdata else "default")]
    return [Place(env.xdg_config() / STORE,
                  "$XDG_CONFIG_HOME" if env.var("XDG_CONFIG_HOME") else "default"),
            Place(env.home / "Library" / "Application Support" / STORE, "macOS")]


DISCOVERY = Discovery(
    locations=(
        Location("Cursor", ("cursor",), cursor_places, read_cursor, ("cursor",),
                 refreshes=True, sign_in="sign in to Cursor (the editor)", load=load_cursor),
    ),
    owner_refreshes=True,
)
