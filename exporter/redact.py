"""Identity out of error text: emails and project ids, unless an account opts in.

Error text comes from many places (upstream error bodies, credential file paths
such as `antigravity-alice@example.com.json`, OAuth replies). Every message an
account's fetch produces passes through its `Redactor` before anything stores,
shows or logs it.

>>> Redactor()("cannot read /h/.cli-proxy-api/antigravity-alice@example.com.json")
'cannot read /h/.cli-proxy-api/<email>.json'
>>> Redactor()("Permission denied on resource project bright-harbor-x4k2p.")
'Permission denied on resource project <project>.'
"""

from __future__ import annotations

import re
from collections.abc import Iterable

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# "project my-proj-123", "projects/my-proj-123", "project_id=my-proj": Google's
# messages name projects these ways. Ids are 6-30 lower-case letters, digits, dashes.
_PROJECT_RE = re.compile(
    r"(?P<lead>\bprojects?(?:/|\s+|_id[=:]\s*|Id[=:]\s*))(?P<id>[a-z][a-z0-9-]{4,61}[a-z0-9])\b"
)
EMAIL_MASK = "<email>"
PROJECT_MASK = "<project>"


# A file name's extension is not part of the address it carries.
_EXTENSIONS = (".json", ".yaml", ".yml", ".txt", ".token")


def _mask(match: re.Match[str]) -> str:
    found = match.group(0)
    for ext in _EXTENSIONS:
        if found.lower().endswith(ext) and "." in found[found.index("@"):-len(ext)]:
            return EMAIL_MASK + found[-len(ext):]
    return EMAIL_MASK


def mask_emails(text: str) -> str:
    return EMAIL_RE.sub(_mask, text)


class Redactor:
    """Masks emails and project ids in text, except what the account opted to expose.

    Known identities (an email, a project id read from a credentials file) are
    masked wherever they appear, also in forms a pattern would miss (a file name
    that writes `alice_example_com` for `alice@example.com`).
    """

    def __init__(
        self,
        *,
        expose_email: bool = False,
        expose_project: bool = False,
        emails: Iterable[str] = (),
        projects: Iterable[str] = (),
    ) -> None:
        self.expose_email = expose_email
        self.expose_project = expose_project
        self._known: list[tuple[str, str]] = []
        if not expose_email:
            for email in emails:
                if email:
                    self._known.append((email, EMAIL_MASK))
                    self._known.append((re.sub(r"[@.]", "_", email), EMAIL_MASK))
        if not expose_project:
            self._known.extend((p, PROJECT_MASK) for p in projects if p and len(p) >= 4)
        # Longest first, so a project id inside an email never leaves half of it.
        self._known.sort(key=lambda pair: -len(pair[0]))

    def __call__(self, text: str) -> str:
        for value, mask in self._known:
            text = text.replace(value, mask)
        if not self.expose_email:
            text = mask_emails(text)
        if not self.expose_project:
            text = _PROJECT_RE.sub(lambda m: m.group("lead") + PROJECT_MASK, text)
        return text
