"""API keys where users already keep them, for providers that take a static key
(z.ai, Kimi Code, MiniMax): Claude Code's `settings.json` and opencode's `auth.json`.

Those vendors tell Claude Code users to point it at their Anthropic-compatible
endpoint, so the key sits in Claude Code's settings beside the base URL that says
whose it is::

    {"env": {"ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic",
             "ANTHROPIC_AUTH_TOKEN": "<key>"}}

and opencode keeps one entry per provider it signs in to::

    {"zai-coding-plan": {"type": "api", "key": "<key>"}}

Both files are read only. Each provider hands its own hosts or entry names, so one
file can serve several providers without any of them knowing the others.

>>> settings = '{"env": {"ANTHROPIC_BASE_URL": "https://api.z.ai/api/anthropic",' \\
...            ' "ANTHROPIC_AUTH_TOKEN": "k1"}}'
>>> [c.provider for c in claude_settings_keys(settings, Path("s.json"), "zai", ("api.z.ai",))]
['zai']
>>> claude_settings_keys(settings, Path("s.json"), "kimi", ("api.kimi.com",))
[]
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from exporter.auth.credfile import CredentialFile, load_object, text
from exporter.providers.places import Env, Place

CLAUDE_SETTINGS_TOOL = "claude-code-settings"
OPENCODE_TOOL = "opencode"
# Claude Code sends ANTHROPIC_AUTH_TOKEN as a Bearer token, else ANTHROPIC_API_KEY as
# x-api-key; vendors document either.
_KEY_VARS = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY")


def host_of(url: str) -> str:
    """The lower-case host of a base URL, "" when it has none.

    >>> host_of("https://API.Kimi.com/coding/"), host_of("not a url")
    ('api.kimi.com', '')
    """
    try:
        return (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return ""


def _matches(host: str, hosts: Iterable[str]) -> bool:
    return any(host == h or host.endswith("." + h) for h in hosts)


def claude_settings_keys(
    body: str, path: Path, provider: str, hosts: tuple[str, ...]
) -> list[CredentialFile]:
    """The key in Claude Code's settings when its `ANTHROPIC_BASE_URL` is one of
    `hosts` (or a subdomain); [] when it points elsewhere or holds no key."""
    doc = load_object(body, path, "Claude Code settings")
    env = doc.get("env")
    if not isinstance(env, dict):
        return []
    base = text(env.get("ANTHROPIC_BASE_URL"))
    if base is None or not _matches(host_of(base), hosts):
        return []
    key = next((k for k in (text(env.get(v)) for v in _KEY_VARS) if k), None)
    if key is None:
        return []
    return [CredentialFile(tool=CLAUDE_SETTINGS_TOOL, provider=provider, access_token=key.strip())]


def opencode_keys(
    body: str, path: Path, provider: str, names: tuple[str, ...]
) -> list[CredentialFile]:
    """The API keys opencode keeps under any of `names` (`{"type": "api", "key"}`)."""
    doc = load_object(body, path, "opencode auth.json")
    found: list[CredentialFile] = []
    for name in names:
        entry = doc.get(name)
        if not isinstance(entry, dict) or entry.get("type", "api") != "api":
            continue
        key = text(entry.get("key"))
        if key is not None:
            found.append(CredentialFile(tool=OPENCODE_TOOL, provider=provider,
                                        access_token=key.strip(), account_id=name))
    return found


def claude_settings_places(env: Env) -> list[Place]:
    """Claude Code's user settings (`$CLAUDE_CONFIG_DIR` moves them)."""
    if value := env.var("CLAUDE_CONFIG_DIR"):
        return [Place(env.path(value, env.home) / "settings.json", "$CLAUDE_CONFIG_DIR")]
    return [Place(env.home / ".claude" / "settings.json", "default")]


def opencode_places(env: Env) -> list[Place]:
    """opencode's `auth.json` under `$XDG_DATA_HOME` (default `~/.local/share`)."""
    data = env.var("XDG_DATA_HOME")
    if data and Path(data).is_absolute():
        return [Place(Path(data) / "opencode" / "auth.json", "$XDG_DATA_HOME")]
    return [Place(env.home / ".local" / "share" / "opencode" / "auth.json", "default")]
