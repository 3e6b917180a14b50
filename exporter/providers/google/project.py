"""A Google account's Cloud Code project and tier (`loadCodeAssist`), cached; shared by
Antigravity and Gemini CLI.

The answer changes rarely, so it is cached for `project_cache_ttl` (an hour by
default); a "no project" answer only briefly, so signing in shows up soon.
`onboardUser` is never called: it changes the account.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.auth import TokenSource
from exporter.config import AccountConfig
from exporter.providers.google.codeassist import ProjectInfo, parse_load_code_assist
from exporter.providers.parsing import ParseError
from exporter.snapshot import FetchError, Reason
from exporter.upstream.client import UpstreamError

log = logging.getLogger(__name__)

# A not-onboarded answer is cached briefly, so signing in shows up soon.
NOT_ONBOARDED_TTL = 300.0
# A VPC Service Controls perimeter refuses loadCodeAssist with this reason; gemini-cli
# then takes the account as standard-tier on the project it was given.
_VPC_SC_REASON = "SECURITY_POLICY_VIOLATED"

# (method, body, deadline) -> decoded JSON; raises FetchError.
MethodCall = Callable[[str, Mapping[str, Any], float], Awaitable[Any]]


@dataclass
class _Cached:
    info: ProjectInfo
    until: float  # time.monotonic()


class CodeAssistProject:
    """One account's loadCodeAssist answer, and the project its quota calls name.

    `sign_in` says what to do when the account has no project, e.g. "sign in to
    Antigravity once with this account, then wait a few minutes"; `advice`, by
    `ineligibleTiers` reasonCode, what to do when upstream gives the account no tier.
    """

    def __init__(
        self,
        call: MethodCall,
        body: Mapping[str, Any],
        account: AccountConfig,
        tokens: TokenSource,
        sign_in: str,
        monotonic: Callable[[], float] = time.monotonic,
        advice: Mapping[str, str] | None = None,
    ) -> None:
        self._call = call
        self._body = body
        self._account = account
        self._tokens = tokens
        self._sign_in = sign_in
        self._monotonic = monotonic
        self._advice = dict(advice or {})
        self._cached: _Cached | None = None  # read and written on the fetch loop only

    async def resolve(self, deadline: float) -> tuple[ProjectInfo, str]:
        """(tier facts, project id) or the FetchError that says why there is none.

        The project: `project:` from the config, else loadCodeAssist's, else the one
        the credentials file names (a CLIProxyAPI file listing several names none).
        """
        info = await self.info(deadline)
        refusal = info.refusal(self._advice)
        if refusal is not None:
            raise refusal
        hint = self._tokens.hints().project
        if hint and ("," in hint or hint.strip().lower() == "all"):
            hint = None
        project = self._account.project or info.project or hint
        if not project:
            why = f" Upstream says: {info.ineligible_reason}" if info.ineligible_reason else ""
            raise FetchError(
                Reason.FORBIDDEN,
                f"account has no Cloud Code project (never onboarded): {self._sign_in}.{why}",
            )
        return info, project

    async def info(self, deadline: float) -> ProjectInfo:
        cached = self._cached
        if cached and cached.until > self._monotonic():
            return cached.info
        info = await self._load(deadline)
        ttl = self._account.project_cache_ttl if info.project else NOT_ONBOARDED_TTL
        self._cached = _Cached(info, self._monotonic() + ttl)
        log.debug("loadCodeAssist", extra={"kv": {"account": self._account.name,
                                                  "tier": info.tier}})
        return info

    async def _load(self, deadline: float) -> ProjectInfo:
        try:
            body = await self._call("loadCodeAssist", self._body, deadline)
        except UpstreamError as exc:
            if _VPC_SC_REASON in exc.info.reasons:
                return ProjectInfo(project=None, tier="standard-tier", tier_name="")
            raise
        try:
            return parse_load_code_assist(body)
        except ParseError as exc:
            raise FetchError(Reason.PARSE, f"loadCodeAssist: unexpected reply: {exc}") from None
