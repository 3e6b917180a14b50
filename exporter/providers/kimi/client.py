"""Kimi Code: one `GET /coding/v1/usages` per fetch.

The credential is a Kimi Code API key (`api_key`, `api_key_file`, `api_key_env`, or
`file` pointing at Claude Code's settings or opencode's auth.json that hold one) or
an OAuth access token read from kimi-code's or CLIProxyAPI's file and never
refreshed: Kimi's refresh tokens rotate, and its access tokens live 10-15 minutes,
so an expired one is an auth error saying to keep the CLI running or to use an API
key. Errors in a 200 reply are account errors with the upstream's words.
"""

from __future__ import annotations

from typing import Any

from exporter.auth.cli_owned import FixedToken
from exporter.auth.tokens import TokenSource
from exporter.providers.base import BaseProvider, api_key_source
from exporter.providers.kimi.credentials import KimiFile
from exporter.providers.kimi.parse import UpstreamMessage, Usages, parse_usages
from exporter.providers.kimi.spec import SPEC
from exporter.providers.parsing import parser
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import UpstreamError

SOURCE = "usage"
CALL = "coding/v1/usages"
PATH = "/coding/v1/usages"
FORBIDDEN = ("Kimi Code answered 403 (permission or quota denied): check that the account "
             "has a Kimi Code plan and that the key is a Kimi Code key (sk-kimi-...), not a "
             "Moonshot platform key")
TOKEN_ADVICE = ("put a fresh one in it (kimi-code keeps its current token in "
                "credentials/kimi-code.json; tokens live 10-15 minutes), or use a Kimi Code "
                "API key (api_key_file) for unattended monitoring")


class KimiProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        key = api_key_source(self.account)
        if key is not None:
            return key
        creds = self.account.credentials
        if creds.kind == "file" and creds.path is not None:
            return KimiFile(creds.path, self._clock)
        if creds.kind == "access_token_file":
            return FixedToken(TOKEN_ADVICE, path=creds.path)
        return FixedToken(TOKEN_ADVICE, secret=creds.secret)

    def _setup(self) -> None:
        self._client = SPEC.client(self.account, self._clients, self._tokens)

    async def fetch(self, deadline: float) -> AccountData:
        """The weekly quota and the rate windows; raises FetchError when the one call
        or its reply fails."""
        reply = await self._usages(deadline)
        return AccountData(
            info=AccountInfo(tier=reply.tier or "unknown", tier_name=reply.tier_name),
            pools=reply.pools,
            sources=(SourceResult(SOURCE, skipped=reply.skipped),),
        )

    async def _usages(self, deadline: float) -> Usages:
        try:
            reply: Usages = await self._get(deadline)
        except UpstreamMessage as exc:
            reason = Reason.AUTH if "auth" in exc.kind else Reason.UPSTREAM
            raise FetchError(reason, f"{CALL}: Kimi Code answered with an error: "
                                     f"{exc.message}") from None
        return reply

    async def _get(self, deadline: float) -> Any:
        try:
            return await self._client.call(CALL, PATH, deadline, method="GET",
                                           parse=parser(CALL, parse_usages))
        except UpstreamError as exc:
            if exc.http_status == 403:
                detail = f" ({exc.info.message})" if exc.info.message else ""
                raise FetchError(Reason.FORBIDDEN, FORBIDDEN + detail,
                                 retry_after=exc.retry_after) from None
            raise
