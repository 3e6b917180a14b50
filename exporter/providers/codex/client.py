"""Codex: one `GET /wham/usage` per fetch.

The token is read from the Codex CLI's `auth.json` (or CLIProxyAPI's file) and
never refreshed (see exporter.auth.cli_owned): an expired one (by its own `exp`,
or a 401 `token_expired`, which ChatGPT serves as text/plain) is an auth error
that says so and tells the user to run `codex`, which renews the file. The
ChatGPT account it belongs to is sent as `ChatGPT-Account-Id`: from the file,
else from the token's own claim, else left out. The tier is the reply's
`plan_type` as given (`prolite`, `self_serve_business_usage_based`, ...), else
the plan the token names.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from exporter.auth.cli_owned import CliOwnedFile
from exporter.auth.tokens import TokenSource
from exporter.config import AccountConfig
from exporter.providers.base import BaseProvider, cli_token_source
from exporter.providers.codex.credentials import from_token, parse_codex
from exporter.providers.codex.parse import parse_usage
from exporter.providers.codex.spec import SPEC
from exporter.providers.parsing import parse_reply
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import ErrorInfo, UpstreamError, off_loop_if_needed, plain_error
from exporter.upstream.transport import HostGate

USAGE_PATH = "/wham/usage"
ACCOUNT_HEADER = "ChatGPT-Account-Id"
# plan_type -> what OpenAI calls the plan; the tier is always the raw plan_type, and
# plans not listed here (new ones appear often) have no display name.
PLAN_NAMES = {"free": "ChatGPT Free", "go": "ChatGPT Go", "plus": "ChatGPT Plus",
              "pro": "ChatGPT Pro", "prolite": "ChatGPT Pro Lite", "team": "ChatGPT Team",
              "business": "ChatGPT Business",
              "self_serve_business_usage_based": "ChatGPT Business (usage-based)",
              "enterprise": "ChatGPT Enterprise",
              "enterprise_cbp_usage_based": "ChatGPT Enterprise (usage-based)",
              "edu": "ChatGPT Edu"}
# How the user gets a fresh token into the file: the CLI renews it when it runs.
RENEW = ("run `codex` once (or `codex login` if it asks you to sign in) so the CLI renews "
         "the file; the exporter never refreshes Codex tokens (a refresh from here would "
         "sign the CLI out)")


def _detail(info: ErrorInfo) -> str:
    return info.message or info.status


def decode_error(body: Any) -> ErrorInfo:
    """OpenAI's error bodies; `{"error": {"code": "token_expired"}}` (no message) says
    the token has expired.

    >>> decode_error({"error": {"code": "token_expired"}}).message
    'the access token has expired'
    """
    info = plain_error(body)
    err = body.get("error") if isinstance(body, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    if code == "token_expired" and not info.message:
        return ErrorInfo("the access token has expired", code, info.reasons, info.retry_delay)
    return info


class CodexProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        return _token_source(self.account, self._clock)

    def _setup(self) -> None:
        # The 429 back-off outlives the per-fetch client below.
        self._gate = HostGate()
        # What the last 401 said ("the access token has expired"): the token it
        # rejected is not sent again, and later errors keep saying why.
        self._last_401 = ""

    def _with_last_401(self, exc: FetchError) -> FetchError:
        if exc.reason is not Reason.AUTH or not self._last_401:
            return exc
        return FetchError(exc.reason, f"usage: the last answer was 401: {self._last_401}; "
                                      f"{exc.message}", retry_after=exc.retry_after)

    async def fetch(self, deadline: float) -> AccountData:
        """The plan's limits and credits; raises FetchError when the call or its reply
        fails."""
        try:
            token = await off_loop_if_needed(self._tokens.token, deadline)
        except FetchError as exc:
            raise self._with_last_401(exc) from None
        self._last_401 = ""
        creds = (self._tokens.credentials() if isinstance(self._tokens, CliOwnedFile)
                 else from_token(token))
        # The account id comes from the file (or token) of the moment; a configured
        # ChatGPT-Account-Id header wins over it.
        own = {ACCOUNT_HEADER: creds.account_id} if creds.account_id else {}
        client = SPEC.client(self.account, self._clients, self._tokens,
                             decode_error=decode_error, account_headers=own, gate=self._gate)
        try:
            body = await client.call("usage", USAGE_PATH, deadline, method="GET")
        except UpstreamError as exc:
            if exc.http_status == 401:
                self._last_401 = _detail(exc.info)
            raise
        reply = parse_reply(body, "usage", partial(parse_usage, now=self._clock()))
        tier = reply.plan or creds.plan or "unknown"
        return AccountData(
            info=AccountInfo(tier=tier, tier_name=PLAN_NAMES.get(tier, ""), email=creds.email),
            pools=reply.pools,
            credits=reply.credits,
            sources=(SourceResult("usage", skipped=reply.skipped),),
        )


def _token_source(account: AccountConfig, clock: Callable[[], float]) -> TokenSource:
    creds = account.credentials
    if creds.kind == "file" and creds.path is not None:
        return CliOwnedFile(creds.path, parse_codex, RENEW, clock)
    return cli_token_source(account, parse_codex, "codex", clock)
