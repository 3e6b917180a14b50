"""Read every place in `LOCATIONS`, keep one file per account, name the accounts.

Files are only read, never written, and read again only when they change (inode,
mtime, ctime or size): a re-scan of an unchanged machine costs a few `stat`s. The
same account held by two tools (the same Google account in CLIProxyAPI and in
Antigravity-Manager) is served once: what identifies it (email, account id)
is read from the files and only ever compared, never shown.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from exporter.auth.tokens import EXPIRY_MARGIN
from exporter.discovery.locations import LOCATIONS, Entry, Env, Location, Unsupported
from exporter.providers import PACKAGES, REGISTRY
from exporter.redact import Redactor
from exporter.snapshot import FetchError

# A credentials file is a few KiB; anything this large is something else.
MAX_FILE_BYTES = 1024 * 1024
# Names are `<provider>-<hash>`: this many hex digits, more on a clash.
NAME_HASH_LENGTH = 8
# Providers whose refresh tokens rotate with reuse detection: the exporter never
# refreshes them, the tool that owns the file does.
OWNER_REFRESHES = tuple(n for n, p in PACKAGES.items() if p.discovery.owner_refreshes)
# Providers whose tokens an oauth_client refreshes in memory (the others never do).
CLIENT_PROVIDERS = tuple(n for n, p in PACKAGES.items() if p.discovery.client_vars)
# `alice_example_com`: how older CLIProxyAPI file names write an email.
_UNDERSCORED_EMAIL = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z0-9.+%-]+(?:_[A-Za-z0-9-]+)+_[A-Za-z]{2,12}(?=\.json$|-|$)")
# CLIProxyAPI's file names start with the type; the email follows it. The types are
# the registry's, and those of providers this exporter does not read.
_FILE_TYPES = {"antigravity", "claude", "codex", "gemini", "qwen", "iflow", "github-copilot",
               "cline", "kiro", "vertex",
               *(t for p in PACKAGES.values() for t in p.discovery.typed_readers)}
_TYPE_PREFIX = re.compile(
    "(?:" + "|".join(re.escape(t) for t in sorted(_FILE_TYPES, key=lambda t: (-len(t), t)))
    + ")-")
_NAME_SAFE = re.compile(r"[^A-Za-z0-9_.@-]+")

_Stamp = tuple[int, int, int, int]


@dataclass(frozen=True)
class Found:
    """One account discovery would serve (or lists as not served, with why)."""

    name: str
    provider: str
    tool: str  # the tool whose file is used
    # The file as found, and `credentials.user` for files that hold several accounts:
    # both may hold an email, so they stay out of repr (only the config names them).
    path: Path = field(repr=False)
    user: str | None = field(repr=False)
    shown: str  # the file as shown: `~/...`, emails masked, `#2` for a file's 2nd account
    token: str  # "current", "expired (...)", "refresh token only (...)"
    served: bool
    why_not: str = ""  # when not served
    # A Google account whose file carries no OAuth client: an oauth_client lets the
    # exporter refresh its token in memory.
    needs_client: bool = False
    # With the user's opt-in (`--names email`): the name with the email or login.
    readable_name: str = field(default="", repr=False)
    also: tuple[str, ...] = ()  # shown files of the same account that were left out


@dataclass(frozen=True)
class Skipped:
    shown: str
    tool: str
    reason: str


@dataclass(frozen=True)
class Looked:
    tool: str
    shown: str  # the place, `~/...`
    how: str  # default, $VAR, auth-dir in ...
    result: str  # "2 accounts in 2 files", "not found", "empty folder", ...
    found: bool


@dataclass(frozen=True)
class Report:
    accounts: tuple[Found, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    looked: tuple[Looked, ...] = ()
    sign_in: tuple[tuple[str, str], ...] = ()  # (tool, how to sign in)

    @property
    def served(self) -> tuple[Found, ...]:
        return tuple(a for a in self.accounts if a.served)


@dataclass(frozen=True)
class _Candidate:
    order: int  # location, then file: the tie-break between equals
    location: Location
    path: Path
    entry: Entry

    @property
    def key(self) -> tuple[str, ...]:
        """Same key, same account. Files that name no account are their own account."""
        creds = self.entry.creds
        if creds.identity:
            return (creds.provider, "id", creds.identity)
        return (creds.provider, "file", os.path.realpath(self.path), self.entry.user or "")


class _Skip(Exception):
    """Why a file gives no account."""


@dataclass
class _Cached:
    stamp: _Stamp
    entries: list[Entry] = field(default_factory=list)
    reason: str = ""  # why the file gives no account


def token_state(owner: str, entry: Entry, now: float) -> str:
    """Whether the file's token looks current, and what happens when it is not."""
    creds = entry.creds
    if creds.access_token and (creds.expires_at is None
                               or creds.expires_at - EXPIRY_MARGIN > now):
        return "current"
    if creds.provider in OWNER_REFRESHES or not creds.refresh_token:
        return f"expired: {owner} renews it when it runs"
    if not creds.access_token:
        return "refresh token only: needs an oauth_client"
    if creds.client_id:
        return "expired: refreshed in memory with the file's OAuth client"
    return f"expired: {owner} renews it when it runs, or give an oauth_client"


def _usable(location: Location, entries: list[Entry]) -> list[Entry]:
    """The entries of a file that carry a token, in the location's own formats."""
    wrong = [e for e in entries if e.creds.tool not in location.formats]
    if wrong:
        raise _Skip(f"not {location.tool}'s format (it reads as {wrong[0].creds.tool}'s)")
    usable = [e for e in entries if e.creds.access_token or e.creds.refresh_token]
    if not usable:
        raise _Skip("no token in it")
    return usable


def _stamp(st: os.stat_result) -> _Stamp:
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


class Scanner:
    """Scans the machine; keeps what it read, so re-scans parse only changed files."""

    def __init__(
        self,
        env: Env | None = None,
        *,
        providers: Collection[str] | None = None,
        locations: tuple[Location, ...] = LOCATIONS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.env = env or Env.current()
        self.providers = frozenset(REGISTRY if providers is None else providers)
        self.locations = locations
        self._clock = clock
        self._cache: dict[tuple[str, Path], _Cached] = {}
        self._chosen: dict[tuple[str, ...], Path] = {}  # sticky choice between equals

    def scan(
        self,
        *,
        configured: Mapping[tuple[Path, str | None], str] | None = None,
        taken: Collection[str] = (),
    ) -> Report:
        """What is on the machine now.

        `configured` maps (file, credentials.user) of accounts a config lists by hand to
        their names: those files, and every file of the same account, are left to it.
        `taken` are names discovered accounts must not use.
        """
        candidates: list[_Candidate] = []
        skipped: list[tuple[Path, str, str]] = []
        looked: list[Looked] = []
        # One file is read once per set of providers: a symlinked folder reaching it
        # twice counts once, but Claude Code's settings.json may hold a key for one
        # provider and be read again by each provider that looks there.
        seen: set[tuple[Path, tuple[str, ...]]] = set()
        for location in self.locations:
            for place in location.places(self.env):
                files, result = self._files(place.path, location.pattern)
                accounts = 0
                for path in files:
                    real = Path(os.path.realpath(path))
                    if (real, location.providers) in seen:
                        continue
                    seen.add((real, location.providers))
                    entries, reason = self._read(location, path)
                    if reason:
                        skipped.append((path, location.tool, reason))
                    for entry in entries:
                        if entry.user is None and len(entries) > 1:
                            skipped.append((path, location.tool, f"account #{entry.index} has "
                                            "no email or login to pick it by"))
                            continue
                        candidates.append(_Candidate(len(candidates), location, path, entry))
                        accounts += 1
                if files and location.pattern:
                    result = f"{_count(accounts, 'account')} in {_count(len(files), 'file')}"
                elif files:
                    result = f"{_count(accounts, 'account')}" if accounts else "no account"
                looked.append(Looked(location.tool, self.env.short(place.path), place.how,
                                     result, bool(files)))
        emails = {c.entry.creds.email for c in candidates if c.entry.creds.email}
        redact = Redactor(emails=emails)

        def shown(path: Path, index: int | None = None) -> str:
            folder, sep, name = self.env.short(path).rpartition("/")
            prefix = _TYPE_PREFIX.match(name)
            head = prefix.group(0) if prefix else ""
            name = head + _UNDERSCORED_EMAIL.sub("<email>", redact(name[len(head):]))
            text = redact(folder) + sep + name
            return f"{text} #{index}" if index is not None else text

        found = self._choose(candidates, configured or {}, set(taken), shown)
        return Report(
            accounts=tuple(sorted(found, key=lambda f: (f.provider, f.name))),
            skipped=tuple(Skipped(shown(p), tool, redact(_reason(reason, p)))
                          for p, tool, reason in skipped),
            looked=tuple(Looked(lk.tool, redact(lk.shown), redact(lk.how), lk.result, lk.found)
                         for lk in looked),
            sign_in=tuple((loc.tool, loc.sign_in) for loc in self.locations),
        )

    # -- reading ----------------------------------------------------------------------

    @staticmethod
    def _files(place: Path, pattern: str | None) -> tuple[list[Path], str]:
        """The files to read at a place, and what to say when there are none."""
        if pattern is None:
            try:
                os.stat(place)
            except FileNotFoundError:
                return [], "not found"
            except OSError as exc:
                return [], f"cannot read: {exc.strerror}"
            return [place], ""
        try:
            names = sorted(os.listdir(place))
        except (FileNotFoundError, NotADirectoryError):
            return [], "not found"
        except OSError as exc:
            return [], f"cannot read: {exc.strerror}"
        files = [place / n for n in names
                 if not n.startswith(".") and fnmatch.fnmatch(n, pattern)]
        return files, ("empty folder" if not names else f"no {pattern} file")

    def _read(self, location: Location, path: Path) -> tuple[list[Entry], str]:
        try:
            st = os.stat(path)
        except OSError as exc:
            return [], f"cannot read: {exc.strerror}"
        key = (location.tool, path)
        cached = self._cache.get(key)
        if cached is not None and cached.stamp == _stamp(st):
            return cached.entries, cached.reason
        cached = _Cached(_stamp(st))
        try:
            cached.entries = self._parse(location, path, st)
        except (FetchError, Unsupported, _Skip) as exc:
            cached.reason = exc.message if isinstance(exc, FetchError) else str(exc)
        self._cache[key] = cached
        return cached.entries, cached.reason

    @staticmethod
    def _parse(location: Location, path: Path, st: os.stat_result) -> list[Entry]:
        if not os.path.isfile(path):
            raise _Skip("not a file")
        if location.load is not None:
            return _usable(location, location.load(path))
        if st.st_size > MAX_FILE_BYTES:
            raise _Skip("too large for a credentials file")
        try:
            with path.open("rb") as f:  # read only; never written
                data = f.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise _Skip(f"cannot read: {exc.strerror}") from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _Skip("not UTF-8 text") from None
        return _usable(location, location.read(text, path))

    # -- choosing and naming ------------------------------------------------------------

    def _choose(
        self,
        candidates: list[_Candidate],
        configured: Mapping[tuple[Path, str | None], str],
        taken: set[str],
        shown: Callable[[Path, int | None], str],
    ) -> list[Found]:
        groups: dict[tuple[str, ...], list[_Candidate]] = {}
        for c in candidates:
            groups.setdefault(c.key, []).append(c)
        by_hand = {(Path(os.path.realpath(p)), (u or "").lower()): n
                   for (p, u), n in configured.items()}
        now = self._clock()
        found: list[Found] = []
        chosen: dict[tuple[str, ...], Path] = {}
        # Named in the order of their hashes, so a clash lengthens the same name each run.
        for key in sorted(groups, key=_digest):
            members = groups[key]
            hand = next((n for c in members for (p, u), n in by_hand.items()
                         if p == Path(os.path.realpath(c.path))
                         and u in ("", (c.entry.user or "").lower())), None)
            best = min(members, key=lambda c: self._rank(key, c, now))
            chosen[key] = best.path
            creds = best.entry.creds
            others = tuple(shown(c.path, c.entry.index) for c in members if c is not best)
            served, why_not = True, ""
            if hand is not None:
                served, why_not = False, f"configured by hand as {hand}"
            elif creds.disabled:
                served, why_not = False, f"disabled in {best.location.tool}"
            elif creds.provider not in self.providers:
                served, why_not = False, f"this version has no {creds.provider} provider"
            name = _name(creds.provider, _digest(key), taken)
            if hand is None:
                taken.add(name)
            identity = creds.email or creds.account_id
            found.append(Found(
                name=name, provider=creds.provider, tool=best.location.tool,
                path=best.path, user=best.entry.user,
                shown=shown(best.path, best.entry.index),
                token=token_state(best.location.tool, best.entry, now),
                served=served, why_not=why_not,
                needs_client=creds.provider in CLIENT_PROVIDERS and not creds.client_id,
                readable_name=(f"{creds.provider}-{_NAME_SAFE.sub('-', identity)}"
                               if identity else ""),
                also=others,
            ))
        self._chosen = chosen
        return found

    def _rank(self, key: tuple[str, ...], c: _Candidate, now: float) -> tuple[int, ...]:
        """Lower is better: enabled, current token, the file used last time (so equals
        do not swap on every scan), a tool that keeps its token fresh, table order."""
        creds = c.entry.creds
        current = token_state(c.location.tool, c.entry, now) == "current"
        return (creds.disabled, not current, self._chosen.get(key) != c.path,
                not c.location.refreshes, c.order)


def _digest(key: tuple[str, ...]) -> str:
    return hashlib.sha256("\0".join(key).encode("utf-8")).hexdigest()


def _name(provider: str, digest: str, taken: set[str]) -> str:
    length = NAME_HASH_LENGTH
    while f"{provider}-{digest[:length]}" in taken and length < len(digest):
        length += 4
    return f"{provider}-{digest[:length]}"


def _reason(message: str, path: Path) -> str:
    """A parser's message about a file, without the path (shown beside it, masked)."""
    return message.replace(f"credentials file {path}", "the file").replace(str(path), "it")


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def with_readable_names(report: Report) -> Report:
    """The report with the names the user opted into (`--names email`): the email or
    GitHub login, where the file names one; the hash otherwise."""
    taken: set[str] = set()
    accounts = []
    for found in report.accounts:
        name = found.readable_name or found.name
        while name in taken:
            name += "-2"
        taken.add(name)
        accounts.append(replace(found, name=name))
    return replace(report, accounts=tuple(accounts))

