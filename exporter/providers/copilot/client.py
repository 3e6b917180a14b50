"""GitHub Copilot: one `GET /copilot_internal/user` per fetch.

The token is the editor's GitHub OAuth token (`Authorization: token ...`), read
from `apps.json` and never refreshed: it lives until it is revoked, so a 401 is an
auth error that says to sign in again. Account errors that say what to do:
`access_type_sku: no_access` (no Copilot), `subscription_ended` (it ended), and a
404 `{"message": "Not Found"}`: the token's OAuth app may not read
`copilot_internal` (tokens of some newer editor clients, of `gh`, personal
tokens), so the message names the credential file that works.
"""

from __future__ import annotations

from typing import Any

from exporter.auth import TokenSource
from exporter.providers.base import BaseProvider
from exporter.providers.copilot.credentials import copilot_token_source
from exporter.providers.copilot.parse import UserReply, parse_user
from exporter.providers.copilot.spec import SPEC
from exporter.providers.parsing import parser
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import UpstreamError

SOURCE = "usage"
CALL = "copilot_internal/user"
PATH = "/copilot_internal/user"
NO_COPILOT = (
    "this GitHub account has no Copilot access{why}: subscribe (or get a seat from your "
    "organisation), or point the account at the credentials of one that has Copilot"
)
ENDED = (
    "the Copilot subscription of this GitHub account has ended (access_type_sku "
    "subscription_ended): renew it (or ask your organisation for a seat again) in "
    "GitHub's Copilot settings, or remove this account from the config"
)
# GitHub answers 404 when the token's OAuth app may not read copilot_internal.
NOT_FOUND = (
    "GitHub answered 404 Not Found for copilot_internal/user: the OAuth app that issued "
    "this token has no access to Copilot's internal API (tokens of some newer editor "
    "clients, of `gh` and personal access tokens get this), or the account has no "
    "Copilot. Use the token the VS Code or JetBrains Copilot plugin keeps in "
    "~/.config/github-copilot/apps.json (credentials.file), signed in to an account "
    "with Copilot"
)


class CopilotProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        return copilot_token_source(self.account.credentials)

    def _setup(self) -> None:
        self._client = SPEC.client(self.account, self._clients, self._tokens,
                                   auth_scheme="token")

    async def fetch(self, deadline: float) -> AccountData:
        """The plan and its monthly pools; `deadline` is time.monotonic(). Raises
        FetchError: the account's one source failed."""
        reply: UserReply = await self._get(deadline)
        if reply.ended:
            raise FetchError(Reason.FORBIDDEN, ENDED)
        if not reply.has_access:
            raise FetchError(Reason.FORBIDDEN,
                             NO_COPILOT.format(why=f" (access_type_sku {reply.sku})"))
        return AccountData(
            info=AccountInfo(tier=reply.tier, tier_name=reply.tier_name),
            pools=reply.pools,
            sources=(SourceResult(SOURCE, skipped=reply.skipped),),
        )

    async def _get(self, deadline: float) -> Any:
        try:
            return await self._client.call(CALL, PATH, deadline, method="GET",
                                           parse=parser(CALL, parse_user))
        except UpstreamError as exc:
            if exc.http_status == 404:
                raise FetchError(Reason.FORBIDDEN, NOT_FOUND) from None
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
