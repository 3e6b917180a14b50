"""GitHub Copilot: one `GET /copilot_internal/user` per fetch.

The token is the editor's GitHub OAuth token (`Authorization: token ...`), read
from `apps.json` and never refreshed: it lives until it is revoked, so a 401 is an
auth error that says to sign in again. An account without Copilot (a 404, or
`access_type_sku: no_access`) is an account error that says so.
"""

from __future__ import annotations

from typing import Any

from exporter.auth import TokenSource
from exporter.config import AccountConfig
from exporter.providers.copilot import SPEC
from exporter.providers.copilot.credentials import copilot_token_source
from exporter.providers.copilot.parse import parse_user
from exporter.providers.parsing import parse_reply
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import UpstreamError
from exporter.upstream.transport import HttpClients

SOURCE = "usage"
CALL = "copilot_internal/user"
PATH = "/copilot_internal/user"
NO_COPILOT = (
    "this GitHub account has no Copilot access{why}: subscribe (or get a seat from your "
    "organisation), or point the account at the credentials of one that has Copilot"
)


class CopilotProvider:
    name = SPEC.name

    def __init__(
        self, account: AccountConfig, clients: HttpClients, tokens: TokenSource | None = None
    ) -> None:
        self.account = account
        self._tokens = tokens or copilot_token_source(account.credentials)
        self._client = SPEC.client(account, clients, self._tokens, auth_scheme="token")

    def fetch(self, deadline: float) -> AccountData:
        """The plan and its monthly pools; `deadline` is time.monotonic(). Raises
        FetchError: the account's one source failed."""
        body = self._get(deadline)
        reply = parse_reply(body, CALL, parse_user)
        if not reply.has_access:
            raise FetchError(Reason.FORBIDDEN,
                             NO_COPILOT.format(why=f" (access_type_sku {reply.sku})"))
        return AccountData(
            info=AccountInfo(tier=reply.tier, tier_name=reply.tier_name),
            pools=reply.pools,
            sources=(SourceResult(SOURCE, skipped=reply.skipped),),
        )

    def _get(self, deadline: float) -> Any:
        try:
            return self._client.call(CALL, PATH, deadline, method="GET")
        except UpstreamError as exc:
            if exc.http_status == 404:
                raise FetchError(Reason.FORBIDDEN, NO_COPILOT.format(why=" (404)")) from None
            if exc.http_status == 403 and "rate limit" in exc.info.message.lower():
                # GitHub answers its rate limits with 403 as well as 429.
                raise FetchError(Reason.RATE_LIMITED, exc.message,
                                 retry_after=exc.retry_after) from None
            if exc.http_status == 403:
                # GitHub's own words first; the usual causes after them.
                raise FetchError(
                    Reason.FORBIDDEN,
                    f"{exc.message}; the token may lack Copilot access (a `gh` or personal "
                    "token does not have it: use the editor's apps.json), or a User-Agent "
                    "GitHub accepts (see `user_agent`)",
                    retry_after=exc.retry_after,
                ) from None
            raise
