"""MiniMax: one `GET .../remains` per fetch with the plan's key (`Authorization: Bearer`).

The international platform answers on `/v1/api/openplatform/coding_plan/remains`;
the China platform (an endpoint on `minimaxi.com`) on `/v1/token_plan/remains`,
since it answers the other path with auth errors. Errors often come as HTTP 200
with `base_resp.status_code` other than 0: an account error with MiniMax's own
words, never data. A key of the other platform is refused like a bad key, so
every auth error names the host to configure for it.
"""

from __future__ import annotations

from typing import Any

from exporter.auth import TokenSource
from exporter.providers.base import BaseProvider, api_key_source
from exporter.providers.keyfiles import host_of
from exporter.providers.minimax.credentials import file_token_source
from exporter.providers.minimax.parse import AccountError, RemainsReply, parse_remains
from exporter.providers.minimax.spec import SPEC
from exporter.providers.parsing import ParseError
from exporter.snapshot import AccountData, AccountInfo, FetchError, Reason, SourceResult
from exporter.upstream.client import ErrorInfo, UpstreamError, off_loop_if_needed

SOURCE = "usage"
GLOBAL_PATH = "/v1/api/openplatform/coding_plan/remains"
CHINA_PATH = "/v1/token_plan/remains"
GLOBAL_HOST = "https://api.minimax.io"
CHINA_HOST = "https://api.minimaxi.com"
# MiniMax's API error codes: 1004 authentication failed (also seen for "no active
# plan"), 2049 invalid API key; 1002 and 1039 are its rate limits.
AUTH_CODES = frozenset({1004, 2049})
RATE_CODES = frozenset({1002, 1039})
MAX_MESSAGE = 200


def is_china(endpoint: str) -> bool:
    """An endpoint on the China platform (`minimaxi.com`, with an i).

    >>> is_china("https://api.minimaxi.com"), is_china("https://api.minimax.io")
    (True, False)
    """
    host = host_of(endpoint)
    return host == "minimaxi.com" or host.endswith(".minimaxi.com")


def minimax_error(body: Any) -> ErrorInfo:
    """`{"base_resp": {"status_code", "status_msg"}}`, as MiniMax answers errors."""
    base = body.get("base_resp") if isinstance(body, dict) else None
    if not isinstance(base, dict):
        return ErrorInfo()
    message = base.get("status_msg")
    code = base.get("status_code")
    return ErrorInfo(message=message[:MAX_MESSAGE] if isinstance(message, str) else "",
                     status=str(code) if isinstance(code, int) else "")


class MiniMaxProvider(BaseProvider):
    SPEC = SPEC

    def _token_source(self) -> TokenSource:
        creds = self.account.credentials
        source = api_key_source(self.account)
        if source is not None:
            return source
        if creds.kind == "file" and creds.path is not None:
            return file_token_source(creds.path)
        # The config loader refuses other kinds; a guard for hand-built configs.
        raise ValueError(f"account {self.account.name}: minimax accounts take api_key, "
                         f"api_key_file, api_key_env or file, not {creds.kind}")

    def _setup(self) -> None:
        self._china = bool(self.account.endpoints) and is_china(self.account.endpoints[0])
        self._path = CHINA_PATH if self._china else GLOBAL_PATH
        self._call = self._path.lstrip("/")
        self._client = SPEC.client(self.account, self._clients, self._tokens,
                                   decode_error=minimax_error)

    async def fetch(self, deadline: float) -> AccountData:
        """The plan's windows per model group; `deadline` is time.monotonic(). Raises
        FetchError: the account's one source failed."""
        body = await self._get(deadline)
        reply = self._parse(body)  # dated from now: parsed on every fetch
        return AccountData(
            info=AccountInfo(tier=reply.tier, tier_name=reply.tier_name),
            pools=reply.pools,
            sources=(SourceResult(SOURCE, skipped=reply.skipped),),
        )

    def _parse(self, body: Any) -> RemainsReply:
        try:
            return parse_remains(body, self._clock(), counts_left=not self._china)
        except AccountError as exc:
            raise self._account_error(exc.code, exc.message) from None
        except ParseError as exc:
            raise FetchError(Reason.PARSE, f"{self._call}: unexpected reply: {exc}") from None

    def _other_host(self) -> str:
        return (f"if it is an international key (platform.minimax.io), set endpoints: "
                f"[{GLOBAL_HOST}]") if self._china else (
                f"if it is a China platform key (platform.minimaxi.com), set endpoints: "
                f"[{CHINA_HOST}]")

    def _account_error(self, code: int, message: str) -> FetchError:
        said = f"MiniMax answered {code}" + (f" ({message[:MAX_MESSAGE]})" if message else "")
        if code in AUTH_CODES:
            return FetchError(Reason.AUTH, f"{said}: the key was refused or its plan is not "
                              "active. Use a Coding / Token Plan subscription key (pay-as-you-go "
                              f"keys have no plan quota); {self._other_host()}")
        if code in RATE_CODES:
            return FetchError(Reason.RATE_LIMITED, said)
        return FetchError(Reason.UPSTREAM, said)

    async def _get(self, deadline: float) -> Any:
        # A key that cannot be read (an empty file, settings without a MiniMax key) fails
        # here with its own advice; the auth errors below are then MiniMax's answers.
        await off_loop_if_needed(self._tokens.token, deadline)
        try:
            return await self._client.call(self._call, self._path, deadline, method="GET")
        except FetchError as exc:
            if isinstance(exc, UpstreamError) and exc.http_status in (400, 403):
                code = int(exc.info.status) if exc.info.status.isdigit() else None
                if code in AUTH_CODES:
                    raise self._account_error(code or 0, exc.info.message) from None
                if exc.http_status == 403:
                    raise FetchError(Reason.FORBIDDEN, f"{exc.message}; MiniMax (or the CDN "
                                     "in front of it) refused the request: check the key's plan "
                                     "and that this host may reach MiniMax",
                                     retry_after=exc.retry_after) from None
            if exc.reason is Reason.AUTH:
                # A key of the other platform is refused like a wrong one.
                raise FetchError(Reason.AUTH, f"{exc.message}; {self._other_host()}") from None
            raise
