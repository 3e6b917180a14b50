"""Google Antigravity: loadCodeAssist (cached), then fetchAvailableModels and
retrieveUserQuotaSummary together (one round trip).

Steady state is one call per configured source per fetch, about one round trip:
the access token and the loadCodeAssist answer (project, tier, credits) are
cached. `onboardUser` is never called: it changes the account. A source that
fails drops only its own series.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from exporter.auth.tokens import TokenSource
from exporter.providers.antigravity.parse import (
    ModelsReply,
    SummaryReply,
    parse_models,
    parse_summary,
    with_pools,
)
from exporter.providers.antigravity.spec import SPEC
from exporter.providers.base import BaseProvider
from exporter.providers.google.credentials import token_source_for
from exporter.providers.google.errors import parse_error
from exporter.providers.google.project import CodeAssistProject
from exporter.providers.parsing import parser
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    FetchError,
    ModelQuota,
    PoolQuota,
    SourceResult,
)
from exporter.upstream.client import Call, UpstreamError

LOAD_CODE_ASSIST_BODY = {
    "metadata": {
        "ideType": "ANTIGRAVITY",
        "platform": "PLATFORM_UNSPECIFIED",
        "pluginType": "GEMINI",
    }
}
# source -> upstream method
METHODS = {"models": "fetchAvailableModels", "summary": "retrieveUserQuotaSummary"}
PARSERS: dict[str, Callable[[Any], Any]] = {"models": parse_models, "summary": parse_summary}


class AntigravityProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        return token_source_for(self.account, self._clients.session, self._clock)

    def _setup(self) -> None:
        self._client = SPEC.client(self.account, self._clients, self._tokens,
                                   decode_error=parse_error)
        self._project = CodeAssistProject(
            self._call, LOAD_CODE_ASSIST_BODY, self.account, self._tokens,
            "sign in to Antigravity once with this account, then wait a few minutes",
            self._monotonic,
        )
        self._last_join: tuple[ModelsReply | None, SummaryReply, tuple[ModelQuota, ...]] | None
        self._last_join = None
        self._kept_calls: tuple[str, list[str], list[Call]] | None = None

    async def fetch(self, deadline: float) -> AccountData:
        """One account's quota; `deadline` is time.monotonic(). Raises FetchError when
        no source can be asked (no token, no project)."""
        info, project = await self._project.resolve(deadline)
        wanted, calls = self._calls(project)
        replies = dict(zip(wanted, await self._client.call_many(calls, deadline), strict=True))
        models_reply, models_result = self._models(replies.get("models"))
        summary_reply, summary_result, pools_available = self._summary(replies.get("summary"))
        models = models_reply.models if models_reply else ()
        pools: tuple[PoolQuota, ...] = ()
        if summary_reply is not None:
            pools = summary_reply.pools
            models = self._joined(models_reply, summary_reply)
        results = tuple(r for r in (models_result, summary_result) if r is not None)
        return AccountData(
            info=AccountInfo(
                tier=info.tier, tier_name=info.tier_name, project=project,
                email=self._tokens.hints().email,
            ),
            models=models,
            pools=pools,
            credits=info.credits,
            pools_available=pools_available,
            pools_known=summary_result is None or summary_result.up,
            sources=results,
        )

    def _calls(self, project: str) -> tuple[list[str], list[Call]]:
        """The sources asked for and their calls, made once per project."""
        if self._kept_calls is None or self._kept_calls[0] != project:
            wanted = [s for s in SPEC.sources if s in self.account.sources]
            calls = [
                Call(METHODS[s], f"/v1internal:{METHODS[s]}", {"project": project},
                     parse=parser(METHODS[s], PARSERS[s]))
                for s in wanted
            ]
            self._kept_calls = (project, wanted, calls)
        return self._kept_calls[1], self._kept_calls[2]

    def _joined(
        self, models: ModelsReply | None, summary: SummaryReply
    ) -> tuple[ModelQuota, ...]:
        """The models with their pools; the same tuple again for the same two replies
        (the client hands back the very same parsed object for an unchanged body)."""
        last = self._last_join
        if last is not None and last[0] is models and last[1] is summary:
            return last[2]
        joined = with_pools(models.models if models else (), summary.groups)
        self._last_join = (models, summary, joined)
        return joined

    def _models(self, reply: Any) -> tuple[ModelsReply | None, SourceResult | None]:
        if "models" not in self.account.sources:
            return None, None
        models = reply
        if isinstance(models, FetchError):
            return None, SourceResult("models", models)
        return models, SourceResult("models", skipped=models.skipped)

    def _summary(
        self, reply: Any
    ) -> tuple[SummaryReply | None, SourceResult | None, bool | None]:
        if "summary" not in self.account.sources:
            return None, None, None  # not asked for: neither "no licence" nor a failure
        if isinstance(reply, UpstreamError) and _is_no_license(reply):
            # Free accounts have no pool licence: "no pools", not "source down".
            return None, SourceResult("summary"), False
        summary = reply
        if isinstance(summary, FetchError):
            return None, SourceResult("summary", summary), True
        return summary, SourceResult("summary", skipped=summary.skipped), True

    async def _call(self, method: str, body: Mapping[str, Any], deadline: float) -> Any:
        return await self._client.call(method, f"/v1internal:{method}", deadline, body=body)


def _is_no_license(exc: UpstreamError) -> bool:
    return exc.http_status == 403 and "license" in exc.info.message.lower()

