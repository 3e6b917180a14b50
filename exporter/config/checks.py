"""The checks every config value goes through: types, `${VAR}` expansion, durations,
URLs, files. Each returns the typed value, or None after recording a problem that
names its key path; what the user wrote is quoted before expansion, so an
environment variable's value never appears in an error.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from exporter.config.model import Secret
from exporter.redact import mask_emails
from exporter.timefmt import parse_duration

_VAR_RE = re.compile(r"\$\$\{|\$\{([^}]*)(\}?)")
_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A token file is a few KiB at most; the cap keeps a mistaken /dev/zero from eating memory.
_MAX_SECRET_BYTES = 64 * 1024
_TYPE_NAMES: dict[type, str] = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null",
}

_T = TypeVar("_T")
Parse = Callable[[object, str], _T | None]


def reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def type_name(value: object) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def quote(raw: object) -> str:
    """Quote what the user wrote, before `${VAR}` expansion, so env values never leak."""
    if not isinstance(raw, str):
        return repr(raw)
    shown = '"' + raw.replace('"', '\\"') + '"'
    return shown + " (after ${...} expansion)" if "${" in raw else shown


class Checks:
    """Problems collected while walking a document, and the checks that find them."""

    def __init__(self, env: Mapping[str, str], base_dir: Path) -> None:
        self.env = env
        self.base_dir = base_dir
        self.problems: list[tuple[str, str]] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def field(
        self,
        m: dict[object, object],
        path: str,
        key: str,
        parse: Parse[_T],
        required: bool = False,
    ) -> _T | None:
        key_path = join(path, key)
        if key in m:
            return parse(m[key], key_path)
        if required:
            self.problem(key_path, "required key is missing")
        return None

    def mapping(
        self, value: object, path: str, allowed: tuple[str, ...]
    ) -> dict[object, object] | None:
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {type_name(value)}")
            return None
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                expected = ", ".join(allowed)
                self.problem(join(path, key), f"unknown key{hint}; expected one of {expected}")
        return value

    def nonempty_list(self, value: object, path: str, what: str) -> list[object] | None:
        if isinstance(value, list) and value:
            return value
        got = "an empty list" if isinstance(value, list) else type_name(value)
        self.problem(path, f"expected a non-empty list of {what}, got {got}")
        return None

    # -- scalars -----------------------------------------------------------

    def string(self, value: object, path: str) -> str | None:
        if not isinstance(value, str):
            self.problem(path, f"expected a string, got {type_name(value)}")
            return None
        return self.expand(value, path)

    def text(self, value: object, path: str) -> str | None:
        s = self.string(value, path)
        if s is not None and not s.strip():
            self.problem(path, "must not be empty")
            return None
        return s

    def secret(self, value: object, path: str) -> Secret | None:
        s = self.text(value, path)
        return None if s is None else Secret(s.strip())

    def expand(self, raw: str, path: str) -> str | None:
        """`${VAR}` -> its value from env; `$${` -> a literal `${`."""
        ok = True

        def substitute(match: re.Match[str]) -> str:
            nonlocal ok
            name, closed = match.group(1), match.group(2)
            if match.group(0) == "$${":
                return "${"
            if not closed:
                self.problem(path, "unterminated ${ (write $${ for a literal ${)")
            elif not _VAR_NAME_RE.fullmatch(name):
                self.problem(path, "invalid ${...} reference: use letters, digits and _")
            elif name not in self.env:
                self.problem(path, f"environment variable {name} is not set")
            else:
                return self.env[name]
            ok = False
            return ""

        expanded = _VAR_RE.sub(substitute, raw)
        return expanded if ok else None

    def boolean(self, value: object, path: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.problem(path, f"expected true or false, got {type_name(value)}")
        return None

    def positive_int(self, value: object, path: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected an integer >= 1, got {type_name(value)}")
        elif value < 1:
            self.problem(path, f"must be at least 1, got {value}")
        else:
            return value
        return None

    def duration(self, value: object, path: str) -> float | None:
        """`30s`-style text, or a non-negative number of seconds."""
        if isinstance(value, str):
            text = self.expand(value, path)
            if text is None:
                return None
            try:
                seconds = parse_duration(text)
            except ValueError:
                self.problem(path, f"{quote(value)} is not a duration (e.g. 500ms, 30s, 1h30m)")
                return None
        elif isinstance(value, int | float) and not isinstance(value, bool):
            # float(10**400) overflows; such a value is as invalid as inf.
            seconds = float(value) if abs(value) < 1e300 else math.inf
        else:
            self.problem(path, f"expected a duration such as 30s, got {type_name(value)}")
            return None
        if not math.isfinite(seconds) or seconds < 0:
            self.problem(path, f"{quote(value)} must be a finite, non-negative duration")
            return None
        return seconds

    def timeout(self, value: object, path: str) -> float | None:
        seconds = self.duration(value, path)
        if seconds == 0:
            self.problem(path, f"{quote(value)} must be greater than zero")
            return None
        return seconds

    def url(self, value: object, path: str) -> str | None:
        s = self.string(value, path)
        if s is None:
            return None
        try:
            parts = urlsplit(s)
            ok = parts.scheme in ("http", "https") and bool(parts.netloc)
        except ValueError:
            ok = False
        if not ok:
            # The URL is not echoed: it may carry user:password.
            self.problem(path, "expected an http:// or https:// URL with a host")
            return None
        return s

    # -- files -------------------------------------------------------------

    def path(self, value: object, path: str) -> Path | None:
        s = self.text(value, path)
        if s is None:
            return None
        p = Path(os.path.expanduser(s))
        return p if p.is_absolute() else self.base_dir / p

    def opens(self, file_path: Path, path: str) -> bool:
        try:
            with file_path.open("rb"):
                return True
        except (OSError, ValueError) as exc:
            self.problem(path, f"cannot read {mask_emails(str(file_path))}: {reason(exc)}")
            return False

    def read_secret_file(self, file_path: Path, path: str) -> str | None:
        """The stripped contents, or None after reporting why not (never the contents)."""
        shown = mask_emails(str(file_path))
        try:
            with file_path.open("rb") as f:
                data = f.read(_MAX_SECRET_BYTES + 1)
        except (OSError, ValueError) as exc:
            self.problem(path, f"cannot read {shown}: {reason(exc)}")
            return None
        try:
            text = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            text = None
        if len(data) > _MAX_SECRET_BYTES:
            self.problem(path, f"{shown} is over 64 KiB; expected just the secret")
        elif text is None:
            self.problem(path, f"cannot read {shown}: not UTF-8 text")
        elif not text:
            self.problem(path, f"{shown} is empty")
        else:
            return text
        return None
