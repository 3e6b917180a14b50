"""Credentials a CLI owns and renews itself: read, never refreshed, never written.

GitHub Copilot's editor plugin keeps a token that lives until it is revoked;
Claude Code and Codex rotate their refresh tokens with reuse detection: one refresh
from outside retires the token the CLI holds and signs the user's own CLI out. So
for these accounts the exporter only reads the access token from the CLI's file
and never sends the refresh token anywhere. When the file says the token has
expired, no upstream call is made; when upstream rejects it (401), it is not sent
again. Either way the account fails with reason `auth` and a message saying to
run the CLI once, which renews the file; the file is re-read when it changes, so
the next fetch works without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from exporter.auth.credfile import CredentialFile
from exporter.auth.tokens import CredentialHints, StaticToken, WatchedFile
from exporter.secret import Secret
from exporter.snapshot import FetchError, Reason
from exporter.timefmt import human_duration, rfc3339

# tool (CredentialFile.tool) -> who renews its files, when it is not the CLI itself.
_RENEWED_BY = {"cliproxyapi": "CLIProxyAPI"}

Parser = Callable[[str, Path], CredentialFile]


class CliOwnedFile:
    """`credentials.file` of a tool that renews its own tokens (Claude Code, Codex,
    Copilot's editor plugin).

    `renew` tells the user how to get the file renewed: "run `claude` once ...".
    """

    def __init__(
        self, path: Path, parse: Parser, renew: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._file = WatchedFile(path)
        self._parse = parse
        self._renew = renew
        self._clock = clock
        self._lock = threading.Lock()
        self._parsed_stamp: tuple[int, ...] | None = None
        self._creds: CredentialFile | None = None
        self._rejected: str | None = None  # the access token upstream answered 401 to

    @property
    def path(self) -> Path:
        return self._file.path

    @property
    def can_refresh(self) -> bool:
        return False

    def credentials(self) -> CredentialFile:
        """The file as it is now (re-parsed only when it changed); raises FetchError."""
        with self._lock:
            return self._current()

    def _current(self) -> CredentialFile:
        text = self._file.read_text()
        if self._creds is None or self._file.changed_stamp != self._parsed_stamp:
            self._creds = self._parse(text, self._file.path)
            self._parsed_stamp = self._file.changed_stamp
        return self._creds

    def _advice(self, creds: CredentialFile) -> str:
        owner = _RENEWED_BY.get(creds.tool)
        if owner is not None:
            return f"{owner} renews this file itself: check that it runs, or sign in there again"
        return self._renew

    def _usable(self, creds: CredentialFile) -> str:
        path = self._file.path
        if not creds.access_token:
            raise FetchError(Reason.AUTH, f"credentials file {path} holds no access token; "
                                          f"{self._advice(creds)}")
        if creds.access_token == self._rejected:
            raise FetchError(Reason.AUTH, f"upstream rejected the access token in {path} "
                                          f"(401; not sent again until the file changes); "
                                          f"{self._advice(creds)}")
        now = self._clock()
        if creds.expires_at is not None and creds.expires_at <= now:
            ago = human_duration(now - creds.expires_at)
            raise FetchError(Reason.AUTH, f"the access token in {path} expired at "
                                          f"{rfc3339(creds.expires_at)} ({ago} ago); "
                                          f"{self._advice(creds)}")
        return creds.access_token

    def token(self, deadline: float) -> str:
        with self._lock:
            return self._usable(self._current())

    def refresh(self, deadline: float, rejected: str) -> str:
        """Never a refresh: the file's newer token if the CLI renewed it meanwhile,
        else an auth error (and `rejected` is not sent again)."""
        with self._lock:
            creds = self._current()
            if creds.access_token != rejected:
                return self._usable(creds)
            self._rejected = rejected
            return self._usable(creds)

    def hints(self) -> CredentialHints:
        with self._lock:
            try:
                creds = self._current()
            except FetchError:
                return CredentialHints()
            return CredentialHints(email=creds.email, plan=creds.plan)


class FixedToken(StaticToken):
    """`access_token` / `access_token_file` of such an account: nothing refreshes it.

    `advice` says where a fresh token comes from once upstream rejects this one.
    """

    def __init__(self, advice: str, secret: Secret | None = None,
                 path: Path | None = None) -> None:
        super().__init__(secret=secret, path=path)
        self._advice = advice

    def refresh(self, deadline: float, rejected: str) -> str:
        raise FetchError(Reason.AUTH, f"upstream rejected the access token (401); {self._advice}")

