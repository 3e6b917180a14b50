"""Google Antigravity: loadCodeAssist (cached), fetchAvailableModels, retrieveUserQuotaSummary.

Steady state is one call per configured source per fetch: the access token and
the loadCodeAssist answer (project, tier) are cached. `onboardUser` is never
called: it changes the account.
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
from exporter.providers.antigravity.parse import parse_models, parse_summary
from exporter.providers.google.codeassist import ProjectInfo, parse_load_code_assist
from exporter.providers.google.errors import parse_error
from exporter.providers.parsing import ParseError
from exporter.snapshot import AccountData, AccountInfo, FetchError, ModelQuota, PoolQuota, Reason
from exporter.upstream.client import UpstreamClient, UpstreamError
from exporter.upstream.transport import HttpClients

log = logging.getLogger(__name__)

T = TypeVar("T")
NAME = "antigravity"
LOAD_CODE_ASSIST_BODY = {
    "metadata": {
        "ideType": "ANTIGRAVITY",
        "platform": "PLATFORM_UNSPECIFIED",
        "pluginType": "GEMINI",
    }
}
# A not-onboarded answer is cached briefly, so signing in shows up soon.
NOT_ONBOARDED_TTL = 300.0


@dataclass
class _ProjectCache:
    info: ProjectInfo
    until: float  # time.monotonic()


class AntigravityProvider:
    name = NAME

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
            headers={"User-Agent": account.user_agent},
            decode_error=parse_error,
        )
        self._monotonic = monotonic
        self._project: _ProjectCache | None = None
        self._lock = threading.Lock()

    def fetch(self, deadline: float) -> AccountData:
        """One account's quota; `deadline` is time.monotonic(). Raises FetchError."""
        info = self._project_info(deadline)
        hints = self._tokens.hints()
        project = self.account.project or info.project or hints.project
        if not project:
            why = f" Upstream says: {info.ineligible_reason}" if info.ineligible_reason else ""
            raise FetchError(
                Reason.FORBIDDEN,
                "account has no Cloud Code project (never onboarded): sign in to "
                f"Antigravity once with this account, then wait a few minutes.{why}",
            )
        models: tuple[ModelQuota, ...] = ()
        pools: tuple[PoolQuota, ...] = ()
        pools_available = "summary" in self.account.sources
        if "models" in self.account.sources:
            models = self._parsed("fetchAvailableModels", project, deadline, parse_models)
        if "summary" in self.account.sources:
            try:
                pools = self._parsed("retrieveUserQuotaSummary", project, deadline, parse_summary)
            except UpstreamError as exc:
                if not _is_no_license(exc):
                    raise
                # Free accounts have no pool licence: "no pools", not "account down".
                pools_available = False
        return AccountData(
            info=AccountInfo(
                tier=info.tier, tier_name=info.tier_name, project=project, email=hints.email
            ),
            models=models,
            pools=pools,
            pools_available=pools_available,
        )

    def _parsed(
        self, method: str, project: str, deadline: float, parse: Callable[[Any], T]
    ) -> T:
        body = self._call(method, {"project": project}, deadline)
        try:
            return parse(body)
        except ParseError as exc:
            raise FetchError(Reason.PARSE, f"{method}: unexpected reply: {exc}") from None

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
        log.debug("loadCodeAssist account=%s tier=%s", self.account.name, info.tier)
        return info


def _is_no_license(exc: UpstreamError) -> bool:
    return exc.http_status == 403 and "license" in exc.info.message.lower()
