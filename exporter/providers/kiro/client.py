"""Kiro: one `POST /` with `X-Amz-Target: AmazonCodeWhispererService.GetUsageLimits`.

The body is `{"profileArn": ...}` when the credentials name a profile (Enterprise
and IAM Identity Center accounts need it), else `{}`. The region in that ARN picks
the host when the account keeps the default endpoint: us-east-1 keeps the
`codewhisperer` host, other regions use `q.<region>.amazonaws.com` (the
`codewhisperer.<region>` names do not resolve).

The token is read from the file or database its tool keeps and never refreshed:
Kiro's refresh tokens rotate, and a refresh from here would sign the IDE or
kiro-cli out. An expired token is an auth error that says to open Kiro or run
kiro-cli, which renews the file; the file is re-read when it changes. Kiro answers
an expired or foreign token with 403 (not 401): that 403 is an auth error too,
and the rejected token is not sent again until its file brings another.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from exporter.auth.cli_owned import CliOwnedFile, FixedToken
from exporter.auth.credfile import CredentialFile
from exporter.auth.tokens import TokenSource
from exporter.config import AccountConfig
from exporter.providers.base import BaseProvider
from exporter.providers.kiro.credentials import is_sqlite, parse_kiro, read_kiro_cli, region_of
from exporter.providers.kiro.parse import UsageReply, parse_usage
from exporter.providers.kiro.spec import SPEC
from exporter.providers.parsing import parser
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import (
    ErrorInfo,
    UpstreamClient,
    UpstreamError,
    off_loop_if_needed,
    plain_error,
)

USAGE_PATH = "/"
RENEW = ("open Kiro (or run `kiro-cli`, e.g. `kiro-cli whoami`) so it renews its sign-in; "
         "the exporter never refreshes Kiro tokens (they rotate: a refresh from here "
         "would sign Kiro out)")
# What Kiro's 403 says when the token itself is the problem (expired, revoked, foreign).
_BAD_TOKEN = ("bearer token", "token is expired", "expired token", "security token")
_NOT_AUTHORIZED = "not authorized"
_PROFILE_ADVICE = ("Enterprise and IAM Identity Center accounts need their profile ARN: "
                   "sign in again with Kiro or kiro-cli so the credentials carry it")


def decode_error(body: Any) -> ErrorInfo:
    """AWS JSON errors: `{"message": ..., "reason": null}` (or `Message`, `__type`).

    >>> decode_error({"message": "Invalid profileArn.", "reason": None}).message
    'Invalid profileArn.'
    """
    info = plain_error(body)
    if info.message or not isinstance(body, dict):
        return info
    message = body.get("Message")
    kind = body.get("__type")
    return ErrorInfo(message if isinstance(message, str) else "",
                     kind.rpartition("#")[2] if isinstance(kind, str) else "")


class KiroStore(CliOwnedFile):
    """`credentials.file` of a Kiro account: a JSON file, or kiro-cli's SQLite
    database (told apart by its first bytes), re-read only when it changes."""

    def _stamp(self) -> tuple[int, ...]:
        stamp: list[int] = []
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            try:
                st = os.stat(path)
            except FileNotFoundError:
                stamp += [0]
                continue
            except OSError as exc:
                raise FetchError(Reason.AUTH, f"cannot read credentials {path}: "
                                              f"{exc.strerror}") from None
            stamp += [st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size]
        return tuple(stamp)

    def _current(self) -> CredentialFile:
        if not is_sqlite(self.path):
            return super()._current()
        stamp = self._stamp()
        if self._creds is None or stamp != self._parsed_stamp:
            self._creds = read_kiro_cli(self.path)
            self._parsed_stamp = stamp
        return self._creds


def host_for(endpoints: tuple[str, ...], profile_arn: str | None) -> tuple[str, ...]:
    """The endpoints for the profile's region: the default host swapped for the
    region's own; endpoints the config set are kept as they are.

    >>> host_for(SPEC.endpoints, "arn:aws:codewhisperer:eu-central-1:1:profile/X")
    ('https://q.eu-central-1.amazonaws.com',)
    """
    region = region_of(profile_arn)
    if endpoints != SPEC.endpoints or region in (None, "us-east-1"):
        return endpoints
    return (f"https://q.{region}.amazonaws.com",)


class KiroProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        return _token_source(self.account, self._clock)

    def _setup(self) -> None:
        # The token Kiro last answered 403 "bearer token ... invalid" to, and what was
        # said: it is not sent again until its file brings another one.
        self._rejected: tuple[str, str] | None = None
        # One client per set of endpoints (the profile's region picks them), kept so an
        # unchanged reply is not parsed again.
        self._by_endpoints: dict[tuple[str, ...], UpstreamClient] = {}

    def _credentials(self) -> CredentialFile | None:
        return self._tokens.credentials() if isinstance(self._tokens, CliOwnedFile) else None

    async def fetch(self, deadline: float) -> AccountData:
        """The plan's credits, overage and plan name; raises FetchError."""
        # An expired or missing token fails here, before any call is made.
        token = await off_loop_if_needed(self._tokens.token, deadline)
        if self._rejected is not None and self._rejected[0] == token:
            raise FetchError(Reason.AUTH, self._rejected[1])
        creds = self._credentials()
        # A bare token carries no profile: the account's `project:` may name it.
        arn = (creds.account_id if creds else None) or (
            self.account.project if (self.account.project or "").startswith("arn:") else None)
        account = self.account
        endpoints = host_for(account.endpoints, arn)
        if endpoints != account.endpoints:
            account = replace(account, endpoints=endpoints)
        client = self._by_endpoints.get(endpoints)
        if client is None:
            client = SPEC.client(account, self._clients, self._tokens,
                                 decode_error=decode_error)
            self._by_endpoints[endpoints] = client
        try:
            reply: UsageReply = await client.call(
                "usage", USAGE_PATH, deadline, body={"profileArn": arn} if arn else {},
                parse=parser("usage", parse_usage))
        except UpstreamError as exc:
            explained = explain_error(exc, arn is not None)
            if explained.reason is Reason.AUTH:
                self._rejected = (token, explained.message.replace(
                    "; open Kiro", " (not sent again until it is renewed); open Kiro", 1))
            raise explained from None
        return AccountData(
            info=AccountInfo(tier=reply.tier or "unknown", tier_name=reply.tier_name,
                             email=creds.email if creds else None),
            pools=reply.pools, credits=reply.credits,
            sources=(SourceResult("usage", skipped=reply.skipped),),
        )


def explain_error(exc: UpstreamError, has_arn: bool) -> FetchError:
    """Kiro's 400/403 answers, with what to do about them."""
    said = exc.info.message or exc.info.status
    lower = said.lower()
    if exc.http_status == 403 and any(w in lower for w in _BAD_TOKEN):
        return FetchError(Reason.AUTH, f"usage: Kiro rejected the access token (403: {said}); "
                                       f"{RENEW}")
    if exc.http_status in (400, 403) and (_NOT_AUTHORIZED in lower or "profilearn" in lower):
        advice = ("the profile ARN in the credentials is not this account's, or the call "
                  "went to another region's host (endpoints set in the config are used as "
                  "they are; leave them out to use the profile's region): sign in again with "
                  "Kiro or kiro-cli" if has_arn else _PROFILE_ADVICE)
        return FetchError(Reason.FORBIDDEN, f"usage: Kiro refused the call "
                                            f"({exc.http_status}: {said}); {advice}")
    return exc


def _token_source(account: AccountConfig, clock: Callable[[], float]) -> TokenSource:
    creds = account.credentials
    kind = creds.kind
    if kind == "file" and creds.path is not None:
        return KiroStore(creds.path, parse_kiro, RENEW, clock)
    advice = ("put a fresh token in access_token_file (Kiro keeps its current one in "
              "~/.aws/sso/cache/kiro-auth-token.json), or point credentials.file at that file")
    if kind == "access_token":
        return FixedToken(advice, secret=creds.secret)
    if kind == "access_token_file":
        return FixedToken(advice, path=creds.path)
    raise ValueError(f"account {account.name}: kiro accounts take file, access_token or "
                     f"access_token_file, not {kind}")
