"""Claude Code: one `GET /api/oauth/usage` per fetch.

The endpoint is rate limited per token: a fetch makes one call, and a 429's
Retry-After closes the host for this account until it has passed (the upstream
client does that). The token is read from Claude Code's credentials file and
never refreshed (see exporter.auth.cli_owned); tier and tier name come from the
same file (`subscriptionType`, `rateLimitTier`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from exporter.auth.cli_owned import CliOwnedFile, cli_token_source
from exporter.auth.tokens import TokenSource
from exporter.config import AccountConfig
from exporter.providers.claude import SPEC
from exporter.providers.claude.credentials import parse_claude
from exporter.providers.claude.parse import parse_usage
from exporter.providers.parsing import parse_reply
from exporter.snapshot import AccountData, AccountInfo, SourceResult
from exporter.upstream.transport import HttpClients

USAGE_PATH = "/api/oauth/usage"


class ClaudeProvider:
    name = SPEC.name

    def __init__(
        self,
        account: AccountConfig,
        clients: HttpClients,
        tokens: TokenSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self._tokens = tokens or cli_token_source(account, parse_claude, "claude", clock)
        self._client = SPEC.client(account, clients, self._tokens)

    def fetch(self, deadline: float) -> AccountData:
        """The plan's limits; raises FetchError when the call or its reply fails."""
        body = self._client.call("usage", USAGE_PATH, deadline, method="GET")
        reply = parse_reply(body, "usage", parse_usage)
        return AccountData(
            info=self._info(),
            pools=reply.pools,
            credits=reply.credits,
            sources=(SourceResult("usage", skipped=reply.skipped),),
        )

    def _info(self) -> AccountInfo:
        """The plan the credentials file names; `unknown` for a bare token."""
        if not isinstance(self._tokens, CliOwnedFile):
            return AccountInfo(tier="unknown", tier_name="")
        creds = self._tokens.credentials()
        return AccountInfo(tier=creds.plan or "unknown", tier_name=creds.plan_name or "",
                           email=creds.email)
