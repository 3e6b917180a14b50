"""Where other tools keep their sign-ins: one row per tool in `LOCATIONS`.

Each provider hands the registry the tools that sign in to it (its
`discovery.py`); the tools that serve several providers, CLIProxyAPI and its
forks, are here: one file per account, read by the reader of the provider its
`type` names.
"""

from __future__ import annotations

import re
from pathlib import Path

from exporter.auth.credfile import load_object
from exporter.providers import PACKAGES
from exporter.providers.places import (
    Entry,
    Env,
    Location,
    Place,
    Reader,
    Unsupported,
    configured_dirs,
)
from exporter.snapshot import FetchError, Reason

__all__ = ["LOCATIONS", "Entry", "Env", "Location", "Place", "Unsupported", "read_typed"]

_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,30}")

# CLIProxyAPI's `type` -> the reader of that provider's format.
_TYPED_READERS: dict[str, Reader] = {
    kind: read
    for package in PACKAGES.values()
    for kind, read in package.discovery.typed_readers.items()
}
# The providers whose files CLIProxyAPI and its forks keep.
_TYPED_PROVIDERS = tuple(
    name for name, package in PACKAGES.items() if package.discovery.typed_readers)


def read_typed(text: str, path: Path) -> list[Entry]:
    """CLIProxyAPI and its forks: one file per account, its provider in `type`."""
    kind = load_object(text, path).get("type")
    if not isinstance(kind, str) or not kind:
        raise FetchError(Reason.AUTH, f"credentials file {path} has no `type`: not a "
                                      "CLIProxyAPI auth file")
    read = _TYPED_READERS.get(kind)
    if read is None:
        shown = kind if _TYPE_RE.fullmatch(kind) else "an unknown type"
        raise Unsupported(f"type {shown}: no provider of this exporter reads it")
    return read(text, path)


def cliproxyapi_places(env: Env) -> list[Place]:
    configs = [(Path(v), f"${name}") for name in ("CLIPROXY_CONFIG", "CLIPROXY_CONFIG_PATH")
               if (v := env.var(name))]
    configs += [
        (env.home / ".cli-proxy-api" / "config.yaml", "~/.cli-proxy-api/config.yaml"),
        (env.system("/opt/homebrew/etc/cliproxyapi.conf"), "Homebrew's cliproxyapi.conf"),
        (env.system("/usr/local/etc/cliproxyapi.conf"), "Homebrew's cliproxyapi.conf"),
    ]
    places = configured_dirs(env, configs, Place(env.home / ".cli-proxy-api", "default"))
    packaged = env.system("/var/lib/cli-proxy-api/auths")
    if all(packaged != p.path for p in places):
        places.append(Place(packaged, "distribution package"))
    return places


def llm_mux_places(env: Env) -> list[Place]:
    base = env.xdg_config() / "llm-mux"
    how = "$XDG_CONFIG_HOME" if env.var("XDG_CONFIG_HOME") else "default"
    return configured_dirs(env, [(base / "config.yaml", env.short(base / "config.yaml"))],
                            Place(base / "auth", how))


LOCATIONS: tuple[Location, ...] = (
    Location("CLIProxyAPI", _TYPED_PROVIDERS,
             cliproxyapi_places, read_typed, ("cliproxyapi",), pattern="*.json",
             refreshes=True, sign_in="cli-proxy-api -antigravity-login (or -claude-login, "
                                     "-codex-login, -login)"),
    Location("llm-mux", _TYPED_PROVIDERS,
             llm_mux_places, read_typed, ("cliproxyapi",), pattern="*.json",
             refreshes=True, sign_in="llm-mux --antigravity-login (or --claude-login, ...)"),
    *(location for package in PACKAGES.values() for location in package.discovery.locations),
)
