"""The Codex CLI's auth.json, for discovery.

    >>> env = Env(home=Path("/home/u"), environ={"CODEX_HOME": "/srv/codex"})
    >>> [str(p.path) for p in codex_places(env)]
    ['/srv/codex/auth.json']
"""

from __future__ import annotations

from pathlib import Path

from exporter.providers.codex.credentials import parse_codex
from exporter.providers.places import Discovery, Entry, Env, Location, Place


def read_codex(text: str, path: Path) -> list[Entry]:
    return [Entry(parse_codex(text, path))]


def codex_places(env: Env) -> list[Place]:
    if value := env.var("CODEX_HOME"):
        return [Place(env.path(value, env.home) / "auth.json", "$CODEX_HOME")]
    return [Place(env.home / ".codex" / "auth.json", "default"),
            Place(env.home / ".config" / "codex" / "auth.json", "older Codex CLI")]


DISCOVERY = Discovery(
    locations=(
        Location("Codex CLI", ("codex",), codex_places, read_codex, ("codex-cli",),
                 refreshes=True, sign_in="codex login (with ChatGPT)"),
    ),
    typed_readers={"codex": read_codex},
    owner_refreshes=True,
)
