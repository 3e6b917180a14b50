"""Where Kiro's tools keep their sign-ins, for discovery.

    >>> env = Env(home=Path("/home/u"), environ={})
    >>> [str(p.path) for p in kiro_ide_places(env)]
    ['/home/u/.aws/sso/cache/kiro-auth-token.json']

CLIProxyAPIPlus's `kiro-*.json` files are read by their `type` (`typed_readers`);
kiro-cli's SQLite database is read by path, opened read-only (`load`).
"""

from __future__ import annotations

from pathlib import Path

from exporter.providers.kiro.credentials import parse_kiro, read_kiro_cli
from exporter.providers.places import Discovery, Entry, Env, Location, Place


def read_kiro(text: str, path: Path) -> list[Entry]:
    return [Entry(parse_kiro(text, path))]


def read_kiro_cli_store(path: Path) -> list[Entry]:
    return [Entry(read_kiro_cli(path))]


def kiro_ide_places(env: Env) -> list[Place]:
    return [Place(env.home / ".aws" / "sso" / "cache" / "kiro-auth-token.json", "default")]


def kiro_cli_places(env: Env) -> list[Place]:
    """kiro-cli's database: `$KIRO_DATA_DIR`, else the XDG data folder (Linux) or
    Application Support (macOS)."""
    if value := env.var("KIRO_DATA_DIR"):
        return [Place(env.path(value, env.home) / "data.sqlite3", "$KIRO_DATA_DIR")]
    xdg = env.var("XDG_DATA_HOME")
    data = Path(xdg) if xdg and Path(xdg).is_absolute() else env.home / ".local" / "share"
    return [Place(data / "kiro-cli" / "data.sqlite3", "$XDG_DATA_HOME" if xdg else "default"),
            Place(env.home / "Library" / "Application Support" / "kiro-cli" / "data.sqlite3",
                  "macOS")]


DISCOVERY = Discovery(
    locations=(
        Location("Kiro IDE", ("kiro",), kiro_ide_places, read_kiro, ("kiro-ide",),
                 refreshes=True, sign_in="open Kiro and sign in"),
        Location("kiro-cli", ("kiro",), kiro_cli_places, read_kiro, ("kiro-cli",),
                 refreshes=True, sign_in="kiro-cli login", load=read_kiro_cli_store),
    ),
    typed_readers={"kiro": read_kiro},
    owner_refreshes=True,
)
