"""GitHub Copilot's apps.json and hosts.json, for discovery."""

from __future__ import annotations

from pathlib import Path

from exporter.providers.copilot.credentials import copilot_accounts
from exporter.providers.places import Discovery, Entry, Env, Location, Place, several
from exporter.snapshot import FetchError, Reason


def read_copilot(text: str, path: Path) -> list[Entry]:
    accounts = copilot_accounts(text, path)
    if not accounts:
        raise FetchError(Reason.AUTH, f"credentials file {path} holds no github.com oauth_token")
    return several(accounts, lambda c: c.account_id, always=True)


def copilot_places(env: Env) -> list[Place]:
    if env.windows:
        local = env.var("LOCALAPPDATA")
        base = (Path(local) if local else env.home / "AppData" / "Local") / "github-copilot"
        how = "%LOCALAPPDATA%" if local else "default"
    else:
        base = env.xdg_config() / "github-copilot"
        how = "$XDG_CONFIG_HOME" if env.var("XDG_CONFIG_HOME") else "default"
    return [Place(base / "apps.json", how), Place(base / "hosts.json", how)]


DISCOVERY = Discovery(
    locations=(
        Location("GitHub Copilot", ("copilot",), copilot_places, read_copilot, ("copilot",),
                 sign_in="sign in to Copilot in your editor"),
    ),
)
