"""What every provider shares: the `Provider` protocol, one constructor, token sources.

A provider's client subclasses `BaseProvider`, names its `SPEC`, and says in
`_setup` what it builds beyond the account, the token source and the clocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from exporter.auth.cli_owned import CliOwnedFile, FixedToken, Parser
from exporter.auth.tokens import ApiKey, TokenSource
from exporter.config import AccountConfig
from exporter.providers.places import Discovery
from exporter.providers.spec import ProviderSpec
from exporter.simkit.common import SimAccount, SimUpstream
from exporter.snapshot import AccountData
from exporter.upstream.transport import HttpClients


class Provider(Protocol):
    @property
    def name(self) -> str:
        """The provider's name (its spec's)."""

    async def fetch(self, deadline: float) -> AccountData:
        """Fetch one account, on the fetch loop; `deadline` is time.monotonic().

        Every configured source is tried; one that fails is reported in
        `AccountData.sources` and the others' data is kept. Raises FetchError when
        nothing could be fetched at all (no token, no project).
        """


ProviderFactory = Callable[[AccountConfig, HttpClients], Provider]


@dataclass(frozen=True)
class ProviderPackage:
    """What a provider's folder hands the registry."""

    spec: ProviderSpec
    factory: ProviderFactory
    simulated: SimUpstream | None = None  # its fake upstream, for the demo and tests
    demo_accounts: Callable[[], list[SimAccount]] | None = None  # its accounts in the demo
    # The tools that sign in to it and where they keep their files.
    discovery: Discovery = field(default_factory=Discovery)


class BaseProvider:
    """The one constructor: the account with its spec's defaults, the token source its
    credentials ask for (or `tokens`, as tests pass), the wall clock and the monotonic one.
    """

    SPEC: ClassVar[ProviderSpec]
    name: ClassVar[str]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.name = cls.SPEC.name

    def __init__(
        self,
        account: AccountConfig,
        clients: HttpClients,
        tokens: TokenSource | None = None,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account = account.filled(self.SPEC)
        self._clients = clients
        self._clock = clock
        self._monotonic = monotonic
        self._tokens = tokens or self._token_source()
        self._setup()

    def _token_source(self) -> TokenSource:
        """The token source of the account's `credentials:`."""
        raise NotImplementedError(f"{type(self).__name__} says where its tokens come from")

    def _setup(self) -> None:
        """What the provider builds once per account (its upstream client, caches)."""


API_KEY_KINDS = ("api_key", "api_key_file", "api_key_env")


def api_key_source(account: AccountConfig) -> TokenSource | None:
    """The token source of an `api_key`, `api_key_file` or `api_key_env` credential;
    None for any other kind (the provider then reads its own credential files)."""
    creds = account.credentials
    if creds.kind == "api_key_file":
        return ApiKey(path=creds.path, where=f"api_key_file {creds.path}")
    if creds.kind == "api_key_env":
        return ApiKey(secret=creds.secret, where=f"api_key_env {creds.env}")
    if creds.kind == "api_key":
        return ApiKey(secret=creds.secret)
    return None


def cli_token_source(
    account: AccountConfig, parse: Parser, command: str, clock: Callable[[], float] = time.time
) -> TokenSource:
    """The token source of a Claude Code or Codex account's `credentials:`; `command`
    is the CLI that renews its file (`claude`, `codex`)."""
    creds = account.credentials
    if creds.kind == "file" and creds.path is not None:
        renew = (f"run `{command}` once so it renews the file (the exporter never refreshes "
                 "these tokens: a refresh from here would sign the CLI out)")
        return CliOwnedFile(creds.path, parse, renew, clock)
    what = "access_token_file" if creds.kind == "access_token_file" else "access_token"
    advice = (f"put a fresh one in {what} (`{command}` keeps its current token in its "
              "credentials file), or point credentials.file at that file")
    if creds.kind == "access_token":
        return FixedToken(advice, secret=creds.secret)
    if creds.kind == "access_token_file":
        return FixedToken(advice, path=creds.path)
    # The config loader refuses these (the provider's credential kinds); a guard for
    # hand-built configs.
    raise ValueError(f"account {account.name}: {account.provider} accounts take "
                     f"file, access_token or access_token_file, not {creds.kind}")
