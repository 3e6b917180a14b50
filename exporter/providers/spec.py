"""What the rest of the exporter knows of a provider before any account uses it.

Each provider package defines one `ProviderSpec` in its `spec.py`; the registry
hands the specs to the config loader, which checks an account against them
(sources, credential kinds) and fills its defaults.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from exporter.auth.tokens import TokenSource
from exporter.config import AccountConfig
from exporter.upstream.client import ErrorDecoder, UpstreamClient, plain_error
from exporter.upstream.transport import HostGate, HttpClients


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # the `provider` label and config value
    sources: tuple[str, ...]  # the upstream calls it can make; all of them by default
    endpoints: tuple[str, ...]  # default base URLs, tried in order
    user_agent: str  # default User-Agent (config key `user_agent`)
    credential_kinds: tuple[str, ...]  # the `credentials:` keys it accepts
    token_url: str | None = None  # OAuth token endpoint, for providers that may refresh
    headers: Mapping[str, str] = field(default_factory=dict)  # default extra headers
    summary: str = ""  # one line for --help and docs

    def request_headers(
        self, user_agent: str, extra: Iterable[tuple[str, str]] = ()
    ) -> dict[str, str]:
        """The headers of every call: the spec's defaults, the account's User-Agent,
        then the config's `headers:` over both. Names compare case-insensitively (as
        HTTP's do), so `editor-version` in a config replaces `Editor-Version`.

        >>> spec = ProviderSpec("p", (), (), "ua/1", (), headers={"Editor-Version": "a/1"})
        >>> spec.request_headers("ua/2", [("editor-version", "a/2")])
        {'editor-version': 'a/2', 'User-Agent': 'ua/2'}
        """
        merged: dict[str, tuple[str, str]] = {}
        for name, value in (*self.headers.items(), ("User-Agent", user_agent), *extra):
            merged[name.lower()] = (name, value)
        return dict(merged.values())

    def client(
        self,
        account: AccountConfig,
        clients: HttpClients,
        tokens: TokenSource,
        *,
        decode_error: ErrorDecoder | None = None,
        auth_scheme: str = "Bearer",
        account_headers: Mapping[str, str] | None = None,
        gate: HostGate | None = None,
    ) -> UpstreamClient:
        """The account's upstream client: its base URLs, its token, the headers of
        `request_headers`. `account_headers` are what the provider knows of this account
        (Codex's ChatGPT-Account-Id); a header the config sets wins over them."""
        extra = [*(account_headers or {}).items(), *account.headers]
        headers = self.request_headers(account.user_agent, extra)
        return UpstreamClient(
            clients.transport, account.endpoints, tokens, headers=headers,
            decode_error=decode_error or plain_error, auth_scheme=auth_scheme, gate=gate,
        )
