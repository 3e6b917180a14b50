"""Claude Code: one `GET /api/oauth/usage` per fetch.

The endpoint is rate limited per token: a fetch makes one call, and a 429's
Retry-After closes the host for this account until it has passed (the upstream
client does that). The token is read from Claude Code's credentials file and
never refreshed (see exporter.auth.cli_owned); tier and tier name come from the
same file (`subscriptionType`, `rateLimitTier`).

Two answers get a message that says what they mean and what to do, after
Anthropic's own words: a 403 "does not meet scope requirement user:profile" (a
token made for inference only, which cannot read usage), and a 429 with no wait
(`retry-after: 0`, or none), which the endpoint gives for good to a User-Agent that
is not Claude Code's. Neither is retried in a loop: the 429 closes the host for a
few seconds and the fetch engine backs off from there.
"""

from __future__ import annotations

import re
from typing import Any

from exporter.auth.cli_owned import CliOwnedFile
from exporter.auth.tokens import TokenSource
from exporter.providers.base import BaseProvider, cli_token_source
from exporter.providers.claude.credentials import parse_claude
from exporter.providers.claude.parse import UsageReply, parse_usage
from exporter.providers.claude.spec import SPEC
from exporter.providers.parsing import parser
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import UpstreamError

USAGE_PATH = "/api/oauth/usage"
# Anthropic's words for a token without the scope the usage endpoint needs; the
# message has been seen with a line break before the scope.
_MISSING_PROFILE_SCOPE = re.compile(r"scope\s+requirement\s+user:profile", re.IGNORECASE)
INFERENCE_ONLY_TOKEN = (
    "{upstream}: this token was made for inference only (by `claude setup-token`, or "
    "an environment token such as CLAUDE_CODE_OAUTH_TOKEN) and cannot read usage; sign "
    "in with `claude` (its /login) so that ~/.claude/.credentials.json holds a token "
    "with the user:profile scope, and point this account's credentials at that file"
)
FOREIGN_USER_AGENT = (
    "{upstream}; a 429 without a wait that keeps coming usually means the endpoint "
    "does not take this User-Agent ({agent!r}): it serves Claude Code's "
    "(claude-code/<version>), set by `user_agent`"
)
CLAUDE_CODE_AGENT = "claude-code/"
OWN_USER_AGENT = (
    "{upstream}; the exporter waits and backs off; if this keeps coming, the endpoint "
    "may want a newer Claude Code User-Agent than {agent!r} (`user_agent`)"
)


class ClaudeProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        return cli_token_source(self.account, parse_claude, "claude", self._clock)

    def _setup(self) -> None:
        self._client = SPEC.client(self.account, self._clients, self._tokens)

    async def fetch(self, deadline: float) -> AccountData:
        """The plan's limits; raises FetchError when the call or its reply fails."""
        reply: UsageReply = await self._get(deadline)
        return AccountData(
            info=self._info(),
            pools=reply.pools,
            credits=reply.credits,
            sources=(SourceResult("usage", skipped=reply.skipped),),
        )

    async def _get(self, deadline: float) -> Any:
        try:
            return await self._client.call("usage", USAGE_PATH, deadline, method="GET",
                                           parse=parser("usage", parse_usage))
        except UpstreamError as exc:
            raise explained(exc, self._user_agent()) from None

    def _user_agent(self) -> str:
        """The User-Agent sent: the config's `headers:` may set one over `user_agent`."""
        return next((value for name, value in self.account.headers
                     if name.lower() == "user-agent"), self.account.user_agent)

    def _info(self) -> AccountInfo:
        """The plan the credentials file names; `unknown` for a bare token."""
        if not isinstance(self._tokens, CliOwnedFile):
            return AccountInfo(tier="unknown", tier_name="")
        creds = self._tokens.credentials()
        return AccountInfo(tier=creds.plan or "unknown", tier_name=creds.plan_name or "",
                           email=creds.email)


def explained(exc: UpstreamError, user_agent: str) -> FetchError:
    """`exc` with what it means for a Claude account and what to do about it.

    Built from the upstream's message and the configured User-Agent only: no token.
    """
    upstream = " ".join(exc.message.split())  # the scope message carries a line break
    if exc.http_status == 403 and _MISSING_PROFILE_SCOPE.search(exc.info.message):
        return FetchError(Reason.FORBIDDEN, INFERENCE_ONLY_TOKEN.format(upstream=upstream))
    if exc.http_status == 429 and not exc.retry_after:
        hint = (OWN_USER_AGENT if user_agent.lower().startswith(CLAUDE_CODE_AGENT)
                else FOREIGN_USER_AGENT)
        return FetchError(Reason.RATE_LIMITED, hint.format(upstream=upstream, agent=user_agent),
                          retry_after=exc.retry_after)
    return exc
