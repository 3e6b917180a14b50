"""Gemini CLI: loadCodeAssist (cached), then retrieveUserQuota.

Steady state is one call per fetch: the access token and the loadCodeAssist
answer (project, tier) are cached. Credentials come from gemini-cli's own
`oauth_creds.json` or a CLIProxyAPI `type: gemini` file, refreshed in memory with
the configured `oauth_client` when expired (see `exporter.auth.BorrowedFile`);
`onboardUser` is never called.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from exporter.auth import TokenSource, token_source_for
from exporter.config import AccountConfig
from exporter.providers.gemini_cli import SPEC
from exporter.providers.gemini_cli.parse import parse_quota
from exporter.providers.google.errors import parse_error
from exporter.providers.google.project import CodeAssistProject
from exporter.providers.parsing import parsed
from exporter.snapshot import AccountData, AccountInfo, FetchError, SourceResult
from exporter.upstream.transport import HttpClients

SOURCE = "quota"
QUOTA_METHOD = "retrieveUserQuota"
SIGN_IN = (
    "run `gemini` once and sign in with this account, or set `project:` to the Google "
    "Cloud project you give gemini-cli (GOOGLE_CLOUD_PROJECT; Standard and Enterprise "
    "accounts need one)"
)


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


class GeminiCliProvider:
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
        self._client = SPEC.client(account, clients, self._tokens, decode_error=parse_error)
        self._project = CodeAssistProject(
            self._call, load_code_assist_body(account.project), account, self._tokens,
            SIGN_IN, monotonic,
        )

    def fetch(self, deadline: float) -> AccountData:
        """One account's per-model quotas; `deadline` is time.monotonic(). Raises
        FetchError when there is no token or no project to ask about."""
        info, project = self._project.resolve(deadline)
        account_info = AccountInfo(
            tier=info.tier, tier_name=info.tier_name, project=project,
            email=self._tokens.hints().email,
        )
        try:
            reply = self._call(QUOTA_METHOD, {"project": project}, deadline)
        except FetchError as exc:
            reply = exc
        quota = parsed(reply, QUOTA_METHOD, parse_quota)
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

    def _call(self, method: str, body: Mapping[str, Any], deadline: float) -> Any:
        return self._client.call(method, f"/v1internal:{method}", deadline, body=body)
