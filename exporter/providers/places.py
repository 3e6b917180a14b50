"""Where other tools keep their sign-ins, as rows a provider hands the registry.

A `Location` names a tool, the places it keeps credentials (after the environment
variables that tool honours move them) and the reader of its format, which is the
one its provider uses: discovery never reads a format a second way. Each provider
folder lists its tools' locations in its `discovery.py`; `exporter.discovery`
loops over the registry.

    >>> env = Env(home=Path("/home/u"), environ={"XDG_CONFIG_HOME": "/x"})
    >>> str(env.xdg_config() / "tool")
    '/x/tool'
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from exporter.auth.credfile import CredentialFile

# Another tool's config is read for one key; a file this large is not that config.
_MAX_TOOL_CONFIG_BYTES = 1024 * 1024
_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Env:
    """The machine as the other tools see it: home, environment, file system root."""

    home: Path
    environ: Mapping[str, str] = field(default_factory=dict)
    root: Path = Path("/")  # system-wide places (Homebrew, distribution packages)
    windows: bool = False

    @classmethod
    def current(cls) -> Env:
        return cls(home=Path.home(), environ=dict(os.environ), windows=os.name == "nt")

    def var(self, name: str) -> str | None:
        value = self.environ.get(name, "").strip()
        return value or None

    def xdg_config(self) -> Path:
        """`$XDG_CONFIG_HOME`, else `~/.config` (an empty or relative value is ignored,
        as the XDG spec says)."""
        value = self.var("XDG_CONFIG_HOME")
        return Path(value) if value and os.path.isabs(value) else self.home / ".config"

    def system(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def path(self, text: str, base: Path) -> Path:
        """A path as another tool's config writes it: `~`, `$VAR` and `${VAR}`
        expanded (`$XDG_CONFIG_HOME` falls back to `~/.config`), relative to `base`."""
        def var(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if name == "XDG_CONFIG_HOME":
                return str(self.xdg_config())
            if name == "HOME":
                return str(self.home)
            return self.var(name) or ""

        expanded = _VAR_RE.sub(var, text.strip().strip("\"'"))
        if expanded == "~" or expanded.startswith(("~/", "~\\")):
            expanded = str(self.home) + expanded[1:]
        path = Path(expanded)
        return path if path.is_absolute() else base / path

    def short(self, path: Path) -> str:
        """The path with the home directory written `~`."""
        try:
            return "~/" + str(path.relative_to(self.home)) if path != self.home else "~"
        except ValueError:
            return str(path)


@dataclass(frozen=True)
class Place:
    path: Path
    how: str  # why here: "default", "$CODEX_HOME", "auth-dir in ~/.cli-proxy-api/config.yaml"


@dataclass(frozen=True)
class Entry:
    """One account read from a file."""

    creds: CredentialFile
    user: str | None = None  # `credentials.user`: picks it out of a file holding several
    index: int | None = None  # its place in such a file (1-based), the only way it is shown


class Unsupported(Exception):
    """A file that is fine but holds nothing the exporter reads (another provider's)."""


Reader = Callable[[str, Path], list[Entry]]


@dataclass(frozen=True)
class Location:
    tool: str  # as people call it
    providers: tuple[str, ...]  # what its files may serve
    places: Callable[[Env], list[Place]]
    read: Reader
    formats: tuple[str, ...]  # the `CredentialFile.tool` values its own files parse as
    pattern: str | None = None  # places are folders of files matching it; None: files
    refreshes: bool = False  # the tool renews the tokens in its files while it runs
    sign_in: str = ""  # how a user signs in with it
    # A store that is not text (a SQLite database), read by path instead of `read`;
    # it must open the file read-only.
    read_store: Callable[[Path], list[Entry]] | None = None



@dataclass(frozen=True)
class Discovery:
    """What discovery knows of a provider: the tools that sign in to it, the CLIProxyAPI
    `type`s of its files (and their reader), who refreshes its tokens, and where an
    OAuth client for it comes from."""

    locations: tuple[Location, ...] = ()
    typed_readers: Mapping[str, Reader] = field(default_factory=dict)
    # The tool that owns the file renews it: refresh tokens rotate with reuse detection,
    # so the exporter never refreshes them.
    owner_refreshes: bool = False
    # (id, secret) variables an oauth_client of zero-config mode and written configs
    # comes from; None: its tokens are never refreshed in memory.
    client_vars: tuple[str, str] | None = None


def several(accounts: list[CredentialFile], user_of: Callable[[CredentialFile], str | None],
            always: bool) -> list[Entry]:
    """A file's accounts; told apart by `user_of` when it holds several (or `always`)."""
    if len(accounts) == 1 and not always:
        return [Entry(accounts[0])]
    many = len(accounts) > 1
    return [Entry(c, user=user_of(c), index=i if many else None)
            for i, c in enumerate(accounts, 1)]


def auth_dir_in(config: Path, env: Env) -> Path | None:
    """`auth-dir` of a CLIProxyAPI-style config.yaml (config v8: `oauth: {auth-dir}`);
    None when the file is missing, unreadable or does not set it."""
    try:
        with config.open("rb") as f:
            data = yaml.safe_load(f.read(_MAX_TOOL_CONFIG_BYTES))
    except (OSError, yaml.YAMLError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    oauth = data.get("oauth")
    value = oauth.get("auth-dir") if isinstance(oauth, dict) else None
    value = value or data.get("auth-dir")
    return env.path(value, config.parent) if isinstance(value, str) and value.strip() else None


def configured_dirs(env: Env, configs: list[tuple[Path, str]], default: Place) -> list[Place]:
    places = [default]
    for config, how in configs:
        found = auth_dir_in(config, env)
        if found is not None and all(found != p.path for p in places):
            places.append(Place(found, f"auth-dir in {how}"))
    return places
