"""Google Antigravity: loadCodeAssist (cached), then fetchAvailableModels and
retrieveUserQuotaSummary side by side.

Steady state is one call per configured source per fetch, about one round trip:
the access token and the loadCodeAssist answer (project, tier, credits) are
cached. `onboardUser` is never called: it changes the account. A source that
fails drops only its own series.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from exporter.auth import TokenSource, token_source_for
from exporter.config import AccountConfig
from exporter.providers.antigravity import SPEC
from exporter.providers.antigravity.parse import (
    ModelsReply,
    SummaryReply,
    parse_models,
    parse_summary,
    with_pools,
)
from exporter.providers.google.codeassist import ProjectInfo, parse_load_code_assist
from exporter.providers.google.errors import parse_error
from exporter.providers.parsing import ParseError
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    FetchError,
    PoolQuota,
    Reason,
    SourceResult,
)
from exporter.upstream.client import UpstreamClient, UpstreamError
from exporter.upstream.parallel import side_by_side
from exporter.upstream.transport import HttpClients

log = logging.getLogger(__name__)

T = TypeVar("T")
LOAD_CODE_ASSIST_BODY = {
    "metadata": {
        "ideType": "ANTIGRAVITY",
        "platform": "PLATFORM_UNSPECIFIED",
        "pluginType": "GEMINI",
    }
}
# A not-onboarded answer is cached briefly, so signing in shows up soon.
NOT_ONBOARDED_TTL = 300.0
# source -> upstream method
METHODS = {"models": "fetchAvailableModels", "summary": "retrieveUserQuotaSummary"}


@dataclass
class _ProjectCache:
    info: ProjectInfo
    until: float  # time.monotonic()


class AntigravityProvider:
    name = SPEC.name

    def __init__(
        self,
        account: AccountConfig,
        clients: HttpClients,
        tokens: TokenSource | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account
        self._tokens = tokens or token_source_for(account, clients.session)
        self._client = UpstreamClient(
            clients.transport,
            account.endpoints,
            self._tokens,
            headers={"User-Agent": account.user_agent, **dict(account.headers)},
            decode_error=parse_error,
        )
        self._monotonic = monotonic
        self._project: _ProjectCache | None = None
        self._lock = threading.Lock()

    def fetch(self, deadline: float) -> AccountData:
        """One account's quota; `deadline` is time.monotonic(). Raises FetchError when
        no source can be asked (no token, no project)."""
        info = self._project_info(deadline)
        refusal = info.refusal()
        if refusal is not None:
            raise refusal
        hints = self._tokens.hints()
        project = self.account.project or info.project or hints.project
        if not project:
            why = f" Upstream says: {info.ineligible_reason}" if info.ineligible_reason else ""
            raise FetchError(
                Reason.FORBIDDEN,
                "account has no Cloud Code project (never onboarded): sign in to "
                f"Antigravity once with this account, then wait a few minutes.{why}",
            )
        wanted = [s for s in SPEC.sources if s in self.account.sources]
        replies = side_by_side({
            source: self._caller(METHODS[source], project, deadline) for source in wanted
        })
        models_reply, models_result = self._models(replies.get("models"))
        summary_reply, summary_result, pools_available = self._summary(replies.get("summary"))
        models = models_reply.models if models_reply else ()
        pools: tuple[PoolQuota, ...] = ()
        if summary_reply is not None:
            pools = summary_reply.pools
            models = with_pools(models, summary_reply.groups)
        results = tuple(r for r in (models_result, summary_result) if r is not None)
        return AccountData(
            info=AccountInfo(
                tier=info.tier, tier_name=info.tier_name, project=project, email=hints.email
            ),
            models=models,
            pools=pools,
            credits=info.credits,
            pools_available=pools_available,
            pools_known=summary_result is None or summary_result.up,
            sources=results,
        )

    def _caller(self, method: str, project: str, deadline: float) -> Callable[[], Any]:
        return lambda: self._call(method, {"project": project}, deadline)

    def _models(self, reply: Any) -> tuple[ModelsReply | None, SourceResult | None]:
        if "models" not in self.account.sources:
            return None, None
        parsed = _parsed(reply, "fetchAvailableModels", parse_models)
        if isinstance(parsed, FetchError):
            return None, SourceResult("models", parsed)
        return parsed, SourceResult("models", skipped=parsed.skipped)

    def _summary(self, reply: Any) -> tuple[SummaryReply | None, SourceResult | None, bool]:
        if "summary" not in self.account.sources:
            return None, None, False
        if isinstance(reply, UpstreamError) and _is_no_license(reply):
            # Free accounts have no pool licence: "no pools", not "source down".
            return None, SourceResult("summary"), False
        parsed = _parsed(reply, "retrieveUserQuotaSummary", parse_summary)
        if isinstance(parsed, FetchError):
            return None, SourceResult("summary", parsed), True
        return parsed, SourceResult("summary", skipped=parsed.skipped), True

    def _call(self, method: str, body: dict[str, Any], deadline: float) -> Any:
        return self._client.call(method, f"/v1internal:{method}", deadline, body=body)

    def _project_info(self, deadline: float) -> ProjectInfo:
        with self._lock:
            cached = self._project
            if cached and cached.until > self._monotonic():
                return cached.info
        body = self._call("loadCodeAssist", LOAD_CODE_ASSIST_BODY, deadline)
        try:
            info = parse_load_code_assist(body)
        except ParseError as exc:
            raise FetchError(Reason.PARSE, f"loadCodeAssist: unexpected reply: {exc}") from None
        ttl = self.account.project_cache_ttl if info.project else NOT_ONBOARDED_TTL
        with self._lock:
            self._project = _ProjectCache(info, self._monotonic() + ttl)
        log.debug("loadCodeAssist", extra={"kv": {"account": self.account.name,
                                                  "tier": info.tier}})
        return info


def _parsed(reply: Any, method: str, parse: Callable[[Any], T]) -> T | FetchError:
    """`parse(reply)`, or the FetchError the call raised or the parse failed with."""
    if isinstance(reply, FetchError):
        return reply
    try:
        return parse(reply)
    except ParseError as exc:
        return FetchError(Reason.PARSE, f"{method}: unexpected reply: {exc}")


def _is_no_license(exc: UpstreamError) -> bool:
    return exc.http_status == 403 and "license" in exc.info.message.lower()

