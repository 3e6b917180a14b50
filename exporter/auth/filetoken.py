"""A token another tool keeps in its credentials file, read only and never refreshed.

For tools whose tokens the exporter must not renew itself: GitHub Copilot's OAuth
token does not expire on a timer (a 401 means it was revoked), and tools whose
refresh tokens rotate would be logged out by a refresh from outside. The file is
re-read when it changes, so a token the owning tool renews is used at the next
fetch, without a restart.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from exporter.auth.credfile import CredentialFile
from exporter.auth.tokens import CredentialHints, WatchedFile
from exporter.snapshot import FetchError, Reason

# (file text, path) -> what the file holds; raises an AUTH FetchError naming the file.
Parser = Callable[[str, Path], CredentialFile]


class FileToken:
    """`credentials.file` of a tool that renews its own token.

    `renew` tells the user how to get a new token, e.g. "sign in to GitHub
    Copilot again in your editor".
    """

    def __init__(
        self, path: Path, parse: Parser, renew: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._file = WatchedFile(path)
        self._parse = parse
        self._renew = renew
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp: tuple[int, ...] | None = None
        self._creds: CredentialFile | None = None

    @property
    def path(self) -> Path:
        return self._file.path

    def _current(self) -> CredentialFile:
        with self._lock:
            text = self._file.read_text()
            if self._creds is None or self._file.changed_stamp != self._stamp:
                self._creds = self._parse(text, self.path)
                self._stamp = self._file.changed_stamp
            return self._creds

    @property
    def can_refresh(self) -> bool:
        return False

    def token(self, deadline: float) -> str:
        creds = self._current()
        if not creds.access_token:
            raise FetchError(Reason.AUTH, f"credentials file {self.path} holds no access "
                                          f"token: {self._renew}")
        if creds.expires_at is not None and creds.expires_at <= self._clock():
            raise FetchError(Reason.AUTH, f"the access token in {self.path} has expired: "
                                          f"{self._renew}; the file is read again when it "
                                          "changes")
        return creds.access_token

    def refresh(self, deadline: float, rejected: str) -> str:
        creds = self._current()
        if creds.access_token and creds.access_token != rejected:
            return creds.access_token  # the owning tool wrote a new one meanwhile
        raise FetchError(Reason.AUTH, f"the token in {self.path} was rejected (401): "
                                      f"{self._renew}; the file is read again when it changes")

    def hints(self) -> CredentialHints:
        try:
            creds = self._current()
        except FetchError:
            return CredentialHints()
        return CredentialHints(email=creds.email, project=creds.project, plan=creds.plan)
