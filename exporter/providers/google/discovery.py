"""Reading the Google tools' credential files for discovery (Antigravity, Gemini CLI)."""

from __future__ import annotations

from pathlib import Path

from exporter.providers.google.credentials import borrowed_accounts
from exporter.providers.places import Entry, several


def read_google(text: str, path: Path) -> list[Entry]:
    accounts = borrowed_accounts(text, path)
    # opencode's file gains accounts as the user signs in more: name the one meant.
    opencode = any(a.tool == "opencode" for a in accounts)
    return several(accounts, lambda c: c.email, always=opencode)
