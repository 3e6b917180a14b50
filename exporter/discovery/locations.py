"""Where other tools keep their sign-ins: one row per tool in `LOCATIONS`.

A row names the tool, the places it keeps credentials (after the environment
variables that tool honours move them), and the parser of its format, which is
the one its provider uses: discovery never reads a format a second way.

    >>> env = Env(home=Path("/home/u"), environ={"CODEX_HOME": "/srv/codex"})
    >>> [str(p.path) for p in codex_places(env)]
    ['/srv/codex/auth.json']
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from exporter.auth.borrowed import borrowed_accounts
from exporter.auth.credfile import CredentialFile, load_object
from exporter.providers.claude.credentials import parse_claude
from exporter.providers.codex.credentials import parse_codex
from exporter.providers.copilot.credentials import copilot_accounts
from exporter.snapshot import FetchError, Reason

# Another tool's config is read for one key; a file this large is not that config.
_MAX_TOOL_CONFIG_BYTES = 1024 * 1024
_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_TYPE_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,30}")


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


# -- readers: the providers' own parsers ---------------------------------------------


def _several(accounts: list[CredentialFile], user_of: Callable[[CredentialFile], str | None],
             always: bool) -> list[Entry]:
    if len(accounts) == 1 and not always:
        return [Entry(accounts[0])]
    several = len(accounts) > 1
    return [Entry(c, user=user_of(c), index=i if several else None)
            for i, c in enumerate(accounts, 1)]


def read_google(text: str, path: Path) -> list[Entry]:
    accounts = borrowed_accounts(text, path)
    # opencode's file gains accounts as the user signs in more: name the one meant.
    opencode = any(a.tool == "opencode" for a in accounts)
    return _several(accounts, lambda c: c.email, always=opencode)


def read_claude(text: str, path: Path) -> list[Entry]:
    return [Entry(parse_claude(text, path))]


def read_codex(text: str, path: Path) -> list[Entry]:
    return [Entry(parse_codex(text, path))]


def read_copilot(text: str, path: Path) -> list[Entry]:
    accounts = copilot_accounts(text, path)
    if not accounts:
        raise FetchError(Reason.AUTH, f"credentials file {path} holds no github.com oauth_token")
    return _several(accounts, lambda c: c.account_id, always=True)


# CLIProxyAPI's `type` -> the reader of that provider's format.
_TYPED_READERS: dict[str, Reader] = {
    "antigravity": read_google,
    "gemini": read_google,
    "gemini-cli": read_google,
    "claude": read_claude,
    "codex": read_codex,
}


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


# -- places: where each tool keeps its files, as that tool decides it ----------------


def _auth_dir_in(config: Path, env: Env) -> Path | None:
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


def _configured_dirs(env: Env, configs: list[tuple[Path, str]], default: Place) -> list[Place]:
    places = [default]
    for config, how in configs:
        found = _auth_dir_in(config, env)
        if found is not None and all(found != p.path for p in places):
            places.append(Place(found, f"auth-dir in {how}"))
    return places


def cliproxyapi_places(env: Env) -> list[Place]:
    configs = [(Path(v), f"${name}") for name in ("CLIPROXY_CONFIG", "CLIPROXY_CONFIG_PATH")
               if (v := env.var(name))]
    configs += [
        (env.home / ".cli-proxy-api" / "config.yaml", "~/.cli-proxy-api/config.yaml"),
        (env.system("/opt/homebrew/etc/cliproxyapi.conf"), "Homebrew's cliproxyapi.conf"),
        (env.system("/usr/local/etc/cliproxyapi.conf"), "Homebrew's cliproxyapi.conf"),
    ]
    places = _configured_dirs(env, configs, Place(env.home / ".cli-proxy-api", "default"))
    packaged = env.system("/var/lib/cli-proxy-api/auths")
    if all(packaged != p.path for p in places):
        places.append(Place(packaged, "distribution package"))
    return places


def llm_mux_places(env: Env) -> list[Place]:
    base = env.xdg_config() / "llm-mux"
    how = "$XDG_CONFIG_HOME" if env.var("XDG_CONFIG_HOME") else "default"
    return _configured_dirs(env, [(base / "config.yaml", env.short(base / "config.yaml"))],
                            Place(base / "auth", how))


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


def claude_places(env: Env) -> list[Place]:
    """Claude Code reads `.credentials.json` from the first of these that is set."""
    for name in ("CLAUDE_SECURESTORAGE_CONFIG_DIR", "CLAUDE_CONFIG_DIR"):
        if value := env.var(name):
            return [Place(env.path(value, env.home) / ".credentials.json", f"${name}")]
    return [Place(env.home / ".claude" / ".credentials.json", "default")]


def codex_places(env: Env) -> list[Place]:
    if value := env.var("CODEX_HOME"):
        return [Place(env.path(value, env.home) / "auth.json", "$CODEX_HOME")]
    return [Place(env.home / ".codex" / "auth.json", "default"),
            Place(env.home / ".config" / "codex" / "auth.json", "older Codex CLI")]


def gemini_cli_places(env: Env) -> list[Place]:
    # GEMINI_CLI_HOME replaces the home folder, `.gemini` stays.
    if value := env.var("GEMINI_CLI_HOME"):
        return [Place(env.path(value, env.home) / ".gemini" / "oauth_creds.json",
                      "$GEMINI_CLI_HOME")]
    return [Place(env.home / ".gemini" / "oauth_creds.json", "default")]


def copilot_places(env: Env) -> list[Place]:
    if env.windows:
        local = env.var("LOCALAPPDATA")
        base = (Path(local) if local else env.home / "AppData" / "Local") / "github-copilot"
        how = "%LOCALAPPDATA%" if local else "default"
    else:
        base = env.xdg_config() / "github-copilot"
        how = "$XDG_CONFIG_HOME" if env.var("XDG_CONFIG_HOME") else "default"
    return [Place(base / "apps.json", how), Place(base / "hosts.json", how)]


LOCATIONS: tuple[Location, ...] = (
    Location("CLIProxyAPI", ("antigravity", "gemini-cli", "claude", "codex"),
             cliproxyapi_places, read_typed, ("cliproxyapi",), pattern="*.json",
             refreshes=True, sign_in="cli-proxy-api -antigravity-login (or -claude-login, "
                                     "-codex-login, -login)"),
    Location("llm-mux", ("antigravity", "gemini-cli", "claude", "codex"),
             llm_mux_places, read_typed, ("cliproxyapi",), pattern="*.json",
             refreshes=True, sign_in="llm-mux --antigravity-login (or --claude-login, ...)"),
    Location("Antigravity-Manager", ("antigravity",), antigravity_manager_places, read_google,
             ("antigravity-manager",), pattern="*.json", refreshes=True,
             sign_in="add the account in Antigravity-Manager"),
    Location("agy", ("antigravity",), agy_places, read_google, ("agy",), refreshes=True,
             sign_in="agy login (its file fallback; the keyring is not read)"),
    Location("opencode-antigravity-auth", ("antigravity",), opencode_places, read_google,
             ("opencode",), sign_in="opencode auth login"),
    Location("Claude Code", ("claude",), claude_places, read_claude, ("claude-code",),
             refreshes=True, sign_in="claude, then /login (Linux; macOS keeps it in the "
                                     "Keychain)"),
    Location("Codex CLI", ("codex",), codex_places, read_codex, ("codex-cli",),
             refreshes=True, sign_in="codex login (with ChatGPT)"),
    Location("Gemini CLI", ("gemini-cli",), gemini_cli_places, read_google, ("gemini-cli",),
             refreshes=True, sign_in="gemini, then sign in with Google"),
    Location("GitHub Copilot", ("copilot",), copilot_places, read_copilot, ("copilot",),
             sign_in="sign in to Copilot in your editor"),
)
