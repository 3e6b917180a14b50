"""z.ai GLM Coding Plan: one `GET /api/monitor/usage/quota/limit` per fetch.

The key goes in `Authorization` as it is, without "Bearer", as the vendor's own
usage plugin sends it. The reply's envelope says whether it worked: HTTP 200 with
`success: false` is an account error carrying z.ai's own words, never data.
An account whose `endpoints` are the default takes its region from its
credentials file (Claude Code's ANTHROPIC_BASE_URL on open.bigmodel.cn, opencode's
`zhipuai-coding-plan`): a BigModel key is refused by api.z.ai and the reverse.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from exporter.auth import TokenSource
from exporter.providers.base import BaseProvider
from exporter.providers.parsing import parser
from exporter.providers.zai.credentials import CHINA, INTERNATIONAL, ZaiKeyFile, zai_token_source
from exporter.providers.zai.parse import QuotaReply, Refusal, parse_quota
from exporter.providers.zai.spec import SPEC
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import ErrorInfo, UpstreamClient, plain_error

SOURCE = "usage"
CALL = "quota/limit"
PATH = "/api/monitor/usage/quota/limit"
REGION = (f"a z.ai key works on {INTERNATIONAL} (the default), a BigModel key on {CHINA}: "
          "set the account's `endpoints` to the one the key is from")
REFUSED_KEY = "z.ai refused the API key (code {code}{said}): check that it is current; " + REGION
NO_PLAN = ("the account of this API key has no GLM Coding Plan (z.ai said {said!r}): "
           "subscribe at z.ai (or open.bigmodel.cn), or use the key of an account that has "
           "one; " + REGION)
FAILED = "z.ai answered success: false (code {code}{said})"


def decode_error(body: Any) -> ErrorInfo:
    """z.ai's envelope `{"code", "msg", "success"}` on an HTTP error, else the common
    shapes."""
    if isinstance(body, dict) and isinstance(body.get("msg"), str):
        return ErrorInfo(message=body["msg"].strip()[:200])
    return plain_error(body)


def refused(refusal: Refusal) -> FetchError:
    """The account error a `success: false` reply means, saying what to do."""
    said = f" {refusal.message!r}" if refusal.message else ""
    code = "none" if refusal.code is None else str(refusal.code)
    if refusal.no_coding_plan:
        return FetchError(Reason.FORBIDDEN, NO_PLAN.format(said=refusal.message))
    if refusal.code in (401, 403) or "unauthori" in refusal.message.lower():
        return FetchError(Reason.AUTH, REFUSED_KEY.format(code=code, said=f",{said}"
                                                          if said else ""))
    return FetchError(Reason.UPSTREAM, FAILED.format(code=code, said=f",{said}" if said else ""))


class ZaiProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        return zai_token_source(self.account)

    def _setup(self) -> None:
        self._by_base: dict[tuple[str, ...], UpstreamClient] = {}

    def _client(self) -> UpstreamClient:
        """The client for the account's endpoints, or the region its file says when
        the endpoints are left at the default."""
        endpoints = self.account.endpoints
        if endpoints == SPEC.endpoints and isinstance(self._tokens, ZaiKeyFile):
            origin = self._tokens.origin()
            if origin is not None:
                endpoints = (origin,)
        if endpoints not in self._by_base:
            account = replace(self.account, endpoints=endpoints)
            self._by_base[endpoints] = SPEC.client(account, self._clients, self._tokens,
                                                   decode_error=decode_error, auth_scheme="")
        return self._by_base[endpoints]

    async def fetch(self, deadline: float) -> AccountData:
        """The plan level and its windows; `deadline` is time.monotonic(). Raises
        FetchError: the account's one source failed."""
        try:
            reply: QuotaReply | Refusal = await self._client().call(
                CALL, PATH, deadline, method="GET", parse=parser(CALL, parse_quota))
        except FetchError as exc:
            # A key refused by one region may be the other region's: say so.
            if exc.reason is Reason.AUTH and "401" in exc.message \
                    and "endpoints" not in exc.message:
                raise FetchError(Reason.AUTH, f"{exc.message}; {REGION}") from None
            raise
        if isinstance(reply, Refusal):
            raise refused(reply)
        return AccountData(
            info=AccountInfo(tier=reply.tier, tier_name=reply.tier_name),
            pools=reply.pools,
            sources=(SourceResult(SOURCE, skipped=reply.skipped),),
        )
