"""Gemini CLI's own sign-in file, for discovery."""

from __future__ import annotations

from exporter.providers.google.discovery import read_google
from exporter.providers.places import Discovery, Env, Location, Place


def gemini_cli_places(env: Env) -> list[Place]:
    # GEMINI_CLI_HOME replaces the home folder, `.gemini` stays.
    if value := env.var("GEMINI_CLI_HOME"):
        return [Place(env.path(value, env.home) / ".gemini" / "oauth_creds.json",
                      "$GEMINI_CLI_HOME")]
    return [Place(env.home / ".gemini" / "oauth_creds.json", "default")]


DISCOVERY = Discovery(
    locations=(
        Location("Gemini CLI", ("gemini-cli",), gemini_cli_places, read_google,
                 ("gemini-cli",), refreshes=True, sign_in="gemini, then sign in with Google"),
    ),
    typed_readers={"gemini": read_google, "gemini-cli": read_google},
    client_vars=("GEMINI_CLI_OAUTH_CLIENT_ID", "GEMINI_CLI_OAUTH_CLIENT_SECRET"),
)
