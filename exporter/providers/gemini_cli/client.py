"""Gemini CLI: loadCodeAssist (cached), then retrieveUserQuota.

Steady state is one call per fetch: the access token and the loadCodeAssist
answer (project, tier) are cached. Credentials come from gemini-cli's own
`oauth_creds.json` or a CLIProxyAPI `type: gemini` file, refreshed in memory with
the configured `oauth_client` when expired (see `exporter.providers.google.credentials`);
`onboardUser` is never called.

Since 2026-06-18 Google refuses individual, AI Pro and Ultra accounts in Gemini
CLI: `UNSUPPORTED_CLIENT` in loadCodeAssist's `ineligibleTiers`, or a 403
`PERMISSION_DENIED` ("no longer supported for Gemini Code Assist for
individuals") once the token was accepted. Both are an account error that says to
move the account to the `antigravity` provider, where Google serves it now.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from exporter.auth.tokens import TokenSource
from exporter.providers.base import BaseProvider
from exporter.providers.gemini_cli.parse import parse_quota
from exporter.providers.gemini_cli.spec import SPEC
from exporter.providers.google.credentials import token_source_for
from exporter.providers.google.errors import parse_error
from exporter.providers.google.project import CodeAssistProject
from exporter.providers.parsing import parser
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import UpstreamError

SOURCE = "quota"
QUOTA_METHOD = "retrieveUserQuota"
SIGN_IN = (
    "run `gemini` once and sign in with this account, or set `project:` to the Google "
    "Cloud project you give gemini-cli (GOOGLE_CLOUD_PROJECT; Standard and Enterprise "
    "accounts need one)"
)

UNSUPPORTED_CLIENT = "UNSUPPORTED_CLIENT"
# What the refusal of individual accounts says, in its reasons or its words.
_REFUSAL_REASONS = frozenset({UNSUPPORTED_CLIENT, "IneligibleTierError"})
_REFUSAL_WORDS = ("for individuals", "antigravity suite")
MOVED = (
    "Google no longer serves this account in Gemini CLI (individual, Google AI Pro and "
    "Ultra accounts are refused since 2026-06-18): move it to the antigravity provider: "
    "sign in to Antigravity with this Google account and set `provider: antigravity` on "
    "this account, with that sign-in's credentials file (Standard, Enterprise and "
    "Workspace accounts stay on gemini-cli)"
)


def refused_individual(exc: UpstreamError) -> bool:
    """A 403 that is Google refusing an individual account in Gemini CLI."""
    if exc.http_status != 403:
        return False
    if _REFUSAL_REASONS.intersection(exc.info.reasons):
        return True
    words = exc.info.message.lower()
    return any(w in words for w in _REFUSAL_WORDS)


def load_code_assist_body(project: str | None) -> dict[str, Any]:
    """gemini-cli's metadata; a configured project goes along as gemini-cli sends
    GOOGLE_CLOUD_PROJECT, which Standard and Enterprise accounts need."""
    metadata: dict[str, Any] = {
        "ideType": "GEMINI_CLI", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI",
    }
    body: dict[str, Any] = {"metadata": metadata}
    if project:
        body["cloudaicompanionProject"] = project
        metadata["duetProject"] = project
    return body


class GeminiCliProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        return token_source_for(self.account, self._clients.session, self._clock)

    def _setup(self) -> None:
        self._client = SPEC.client(self.account, self._clients, self._tokens,
                                   decode_error=parse_error)
        self._project = CodeAssistProject(
            self._call, load_code_assist_body(self.account.project), self.account,
            self._tokens, SIGN_IN, self._monotonic, advice={UNSUPPORTED_CLIENT: MOVED},
        )

    async def fetch(self, deadline: float) -> AccountData:
        """One account's per-model quotas; `deadline` is time.monotonic(). Raises
        FetchError when there is no token or no project to ask about."""
        info, project = await self._project.resolve(deadline)
        account_info = AccountInfo(
            tier=info.tier, tier_name=info.tier_name, project=project,
            email=self._tokens.hints().email,
        )
        try:
            quota = await self._call(QUOTA_METHOD, {"project": project}, deadline,
                                     parser(QUOTA_METHOD, parse_quota))
        except FetchError as exc:
            quota = exc
        if isinstance(quota, FetchError):
            result = SourceResult(SOURCE, quota)
            return AccountData(info=account_info, credits=info.credits, pools_available=None,
                               sources=(result,))
        return AccountData(
            info=account_info,
            models=quota.models,
            credits=info.credits,
            pools_available=None,  # per-model daily quotas only: no shared pools
            sources=(SourceResult(SOURCE, skipped=quota.skipped),),
        )

    async def _call(self, method: str, body: Mapping[str, Any], deadline: float,
                    parse: Callable[[Any], Any] | None = None) -> Any:
        try:
            return await self._client.call(method, f"/v1internal:{method}", deadline,
                                           body=body, parse=parse)
        except UpstreamError as exc:
            if refused_individual(exc):
                quoted = f" Google says: {exc.info.message}" if exc.info.message else ""
                raise FetchError(Reason.FORBIDDEN, f"{MOVED}.{quoted}") from None
            raise
