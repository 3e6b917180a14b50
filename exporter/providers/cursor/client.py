"""Cursor: one `POST /aiserver.v1.DashboardService/GetCurrentPeriodUsage` per fetch.

The token is the editor's access token, read from its `state.vscdb` (or given as
`access_token` / `access_token_file`) and never refreshed: whether Cursor's refresh
tokens rotate is not known, and a refresh from here could sign the editor out. An
expired token (its own `exp`, or a 401) is an auth error saying to open Cursor,
which renews it. The tier is the store's `stripeMembershipType` (`free`, `pro`,
`enterprise`, ...), else `unknown`.

An Enterprise seat answers with the billing cycle only: the account is up, with
no pools (see parse).
"""

from __future__ import annotations

from typing import Any

from exporter.auth import TokenSource
from exporter.providers.base import BaseProvider
from exporter.providers.cursor.credentials import cursor_token_source
from exporter.providers.cursor.parse import UsageReply, parse_period_usage
from exporter.providers.cursor.spec import SPEC
from exporter.providers.parsing import parse_reply
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import ErrorInfo, UpstreamError, plain_error

SOURCE = "usage"
CALL = "GetCurrentPeriodUsage"
PATH = "/aiserver.v1.DashboardService/GetCurrentPeriodUsage"
TIER_NAMES = {"free": "Cursor Free", "hobby": "Cursor Hobby", "pro": "Cursor Pro",
              "pro_plus": "Cursor Pro+", "ultra": "Cursor Ultra", "team": "Cursor Teams",
              "business": "Cursor Business", "enterprise": "Cursor Enterprise",
              "free_trial": "Cursor Pro (trial)"}
FORBIDDEN = ("{detail}: Cursor refused the usage dashboard to this token; sign in to "
             "Cursor again with the account whose usage you want")


def decode_error(body: Any) -> ErrorInfo:
    """Connect's error body: `{"code": "unauthenticated", "message": "..."}`.

    >>> decode_error({"code": "permission_denied", "message": "no"}).status
    'permission_denied'
    """
    info = plain_error(body)
    code = body.get("code") if isinstance(body, dict) else None
    if isinstance(code, str) and not info.status:
        return ErrorInfo(message=info.message, status=code[:60])
    return info


class CursorProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        return cursor_token_source(self.account.credentials)

    def _setup(self) -> None:
        self._client = SPEC.client(self.account, self._clients, self._tokens,
                                   decode_error=decode_error)

    async def fetch(self, deadline: float) -> AccountData:
        """The billing cycle's pools; raises FetchError: the account's one source failed."""
        try:
            reply: UsageReply = await self._client.call(CALL, PATH, deadline, body={},
                                                         parse=_parse)
        except UpstreamError as exc:
            if exc.http_status == 403:
                detail = exc.message
                raise FetchError(Reason.FORBIDDEN, FORBIDDEN.format(detail=detail),
                                 retry_after=exc.retry_after) from None
            raise
        plan = self._tokens.hints().plan or "unknown"
        return AccountData(
            info=AccountInfo(tier=plan, tier_name=TIER_NAMES.get(plan, "")),
            pools=reply.pools,
            # An Enterprise seat's reply names no pools at all: not an error, and not
            # "no licence" either; the views say no quotas were reported.
            pools_available=True if reply.has_usage or reply.pools else None,
            sources=(SourceResult(SOURCE, skipped=reply.skipped),),
        )


def _parse(body: Any) -> UsageReply:
    """The reply's pools; a Connect error body, even under HTTP 200, is the upstream's
    words, never data."""
    if isinstance(body, dict) and isinstance(body.get("code"), str) and (
            "billingCycleEnd" not in body and "planUsage" not in body):
        info = decode_error(body)
        raise FetchError(Reason.UPSTREAM, f"{CALL}: Cursor answered {info.status}: "
                                          f"{info.message or 'no message'}")
    return parse_reply(body, CALL, parse_period_usage)
