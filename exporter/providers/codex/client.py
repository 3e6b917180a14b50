"""Codex: one `GET /wham/usage` per fetch.

The token is read from the Codex CLI's `auth.json` (or CLIProxyAPI's file) and
never refreshed (see exporter.auth.cli_owned). The ChatGPT account it belongs to
is sent as `ChatGPT-Account-Id`: from the file, else from the token's own claim,
else left out. The tier is the reply's `plan_type`, else the plan the token names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from exporter.auth.cli_owned import CliOwnedFile, cli_token_source
from exporter.auth.tokens import TokenSource
from exporter.config import AccountConfig
from exporter.providers.codex import SPEC
from exporter.providers.codex.credentials import from_token, parse_codex
from exporter.providers.codex.parse import parse_usage
from exporter.providers.parsing import parse_reply
from exporter.snapshot import AccountData, AccountInfo, SourceResult
from exporter.upstream.transport import HostGate, HttpClients

USAGE_PATH = "/wham/usage"
ACCOUNT_HEADER = "ChatGPT-Account-Id"
# plan_type -> what OpenAI calls the plan; other plans keep their raw id only.
PLAN_NAMES = {"free": "ChatGPT Free", "plus": "ChatGPT Plus", "pro": "ChatGPT Pro",
              "team": "ChatGPT Team", "business": "ChatGPT Business",
              "enterprise": "ChatGPT Enterprise", "edu": "ChatGPT Edu"}


class CodexProvider:
    name = SPEC.name

    def __init__(
        self,
        account: AccountConfig,
        clients: HttpClients,
        tokens: TokenSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.account = account
        self._clients = clients
        self._tokens = tokens or cli_token_source(account, parse_codex, "codex", clock)
        self._clock = clock
        # The 429 back-off outlives the per-fetch client below.
        self._gate = HostGate()

    def fetch(self, deadline: float) -> AccountData:
        """The plan's limits and credits; raises FetchError when the call or its reply
        fails."""
        token = self._tokens.token(deadline)
        creds = (self._tokens.credentials() if isinstance(self._tokens, CliOwnedFile)
                 else from_token(token))
        # The account id comes from the file (or token) of the moment; a configured
        # ChatGPT-Account-Id header wins over it.
        own = {ACCOUNT_HEADER: creds.account_id} if creds.account_id else {}
        client = SPEC.client(self.account, self._clients, self._tokens,
                             account_headers=own, gate=self._gate)
        body = client.call("usage", USAGE_PATH, deadline, method="GET")
        reply = parse_reply(body, "usage", partial(parse_usage, now=self._clock()))
        tier = reply.plan or creds.plan or "unknown"
        return AccountData(
            info=AccountInfo(tier=tier, tier_name=PLAN_NAMES.get(tier, ""), email=creds.email),
            pools=reply.pools,
            credits=reply.credits,
            sources=(SourceResult("usage", skipped=reply.skipped),),
        )
