"""YAML -> validated, typed config. Every error names its key path.

`load_config(path)` reads a file; `parse_config(data, env=...)` validates an
already-parsed document. Both raise ConfigError listing every problem found.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from exporter.config.checks import Checks, Parse, join, quote, reason, type_name
from exporter.config.model import (
    AccountConfig,
    Config,
    ConfigError,
    CredentialKind,
    Credentials,
    OAuthClient,
    ProviderFacts,
    Secret,
)

# Keys an account may inherit from `defaults` (name, provider, credentials and project may not).
SHARED_KEYS = (
    "oauth_client",
    "endpoints",
    "token_url",
    "sources",
    "timeout",
    "min_interval",
    "user_agent",
    "headers",
    "project_cache_ttl",
    "expose_email",
    "expose_project",
)
ACCOUNT_KEYS = ("name", "provider", "credentials", "project", *SHARED_KEYS)
TOP_KEYS = ("concurrency", "refresh_interval", "discover", "defaults", "accounts")
CREDENTIAL_KEYS: tuple[CredentialKind, ...] = (
    "file",
    "access_token",
    "access_token_file",
    "refresh_token",
    "refresh_token_file",
    "api_key",
    "api_key_file",
    "api_key_env",
)
OAUTH_CLIENT_KEYS = ("client_id", "client_secret", "client_secret_file")
# Optional beside `file`: which account of a file that holds several.
CREDENTIAL_OPTIONS = ("user",)

_NAME_RE = re.compile(r"[A-Za-z0-9_.@-]+")
_HEADER_RE = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
# Headers the exporter sets itself: a config must not replace the token or the body type.
_RESERVED_HEADERS = {"authorization", "content-type", "content-length", "host", "user-agent"}


def load_config(
    path: str | os.PathLike[str],
    providers: Mapping[str, ProviderFacts],
    env: Mapping[str, str] | None = None,
) -> Config:
    """Read and validate a config file; relative paths in it are relative to its directory.

    `providers` are the known providers by name (the registry's specs); `env`
    (default `os.environ`) supplies `${VAR}` values. Raises ConfigError.
    """
    source = Path(path).expanduser().absolute()
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise ConfigError([("", f"cannot read {source}: {reason(exc)}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # Neither str(exc) nor chaining: PyYAML's message quotes the offending
        # source line, which may hold a token.
        raise ConfigError([("", _yaml_problem(source, exc))]) from None
    env = os.environ if env is None else env
    return parse_config(data, providers, env=env, base_dir=source.parent, source=source)


def parse_config(
    data: object,
    providers: Mapping[str, ProviderFacts],
    *,
    env: Mapping[str, str],
    base_dir: Path | None = None,
    source: Path | None = None,
) -> Config:
    """Validate an already-parsed YAML document; secret files named in it are read.

    Relative file paths resolve against `base_dir` (default: the working directory).
    Raises ConfigError listing every problem found, each with its key path.
    """
    parser = _Parser(env, base_dir if base_dir is not None else Path.cwd(), providers)
    config = parser.config(data, source)
    if parser.problems or config is None:
        raise ConfigError(parser.problems or [("", "invalid config")])
    return config


def parse_account(
    entry: Mapping[str, object],
    providers: Mapping[str, ProviderFacts],
    *,
    config: Config,
    env: Mapping[str, str],
) -> AccountConfig:
    """An account not written in the config file (one `discover` found), checked as a
    written one is, with the config's `defaults` applied.

    Raises ConfigError; its key paths start with the account's name
    (`antigravity-1a2b3c4d.credentials.file`), or `defaults` for a default that does
    not fit this account's provider.
    """
    base_dir = config.path.parent if config.path is not None else Path.cwd()
    parser = _Parser(env, base_dir, providers)
    raw_defaults = dict(config.raw_defaults)
    parser.raw_defaults = raw_defaults
    defaults = parser.shared(raw_defaults, "defaults")
    label = str(entry.get("name") or "discovered account")
    account = parser.account(dict(entry), label, defaults, raw_defaults, {})
    if parser.problems or account is None:
        raise ConfigError(parser.problems or [(label, "invalid account")])
    return account


def _yaml_problem(source: Path, exc: yaml.YAMLError) -> str:
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"{source}: YAML syntax error"
    mark = exc.problem_mark
    context = f" ({exc.context})" if exc.context else ""
    return (
        f"{source}: YAML syntax error at line {mark.line + 1}, column {mark.column + 1}: "
        f"{exc.problem or 'invalid YAML'}{context}"
    )


class _Parser(Checks):
    """Walks the document once, collecting every problem instead of stopping at the first.

    Each check returns the typed value, or None after recording why.
    """

    def __init__(
        self, env: Mapping[str, str], base_dir: Path, providers: Mapping[str, ProviderFacts]
    ) -> None:
        super().__init__(env, base_dir)
        self.providers = providers
        self.raw_defaults: dict[object, object] = {}

    # -- structure ---------------------------------------------------------

    def config(self, data: object, source: Path | None) -> Config | None:
        if data is None:
            self.problem("", "the config is empty; it needs an `accounts` list")
            return None
        if not isinstance(data, dict):
            self.problem("", f"the top level must be a mapping, got {type_name(data)}")
            return None
        top = self.mapping(data, "", TOP_KEYS) or {}
        concurrency = self.field(top, "", "concurrency", self.positive_int)
        refresh_interval = self.field(top, "", "refresh_interval", self.duration)
        # `discover: true` adds the accounts other tools signed in; then a config
        # may list none of its own (only defaults for the discovered ones).
        discover = self.field(top, "", "discover", self.boolean) is True
        raw_defaults: dict[object, object] = {}
        # `defaults:` with every child commented out parses as null: treat it as empty.
        if top.get("defaults") is not None:
            raw_defaults = self.mapping(top["defaults"], "defaults", SHARED_KEYS) or {}
        self.raw_defaults = raw_defaults
        defaults = self.shared(raw_defaults, "defaults")
        raw_accounts = top.get("accounts")
        if "accounts" not in top:
            if not discover:
                self.problem("accounts", "required key is missing; list at least one account "
                                         "(or set discover: true)")
        elif raw_accounts is None and discover:
            pass  # `accounts:` with every entry commented out
        elif not isinstance(raw_accounts, list):
            self.problem("accounts", f"expected a list of accounts, got {type_name(raw_accounts)}")
        elif not raw_accounts and not discover:
            self.problem("accounts", "no accounts configured; list at least one "
                                     "(or set discover: true)")
        seen: dict[str, str] = {}
        accounts = [
            self.account(raw, f"accounts[{i}]", defaults, raw_defaults, seen)
            for i, raw in enumerate(raw_accounts if isinstance(raw_accounts, list) else [])
        ]
        if self.problems:
            return None
        return Config(
            accounts=tuple(a for a in accounts if a is not None),
            concurrency=Config.concurrency if concurrency is None else concurrency,
            refresh_interval=(
                Config.refresh_interval if refresh_interval is None else refresh_interval
            ),
            path=source,
            discover=discover,
            raw_defaults=raw_defaults,
        )

    def account(
        self,
        raw: object,
        path: str,
        defaults: dict[str, Any],
        raw_defaults: dict[object, object],
        seen: dict[str, str],
    ) -> AccountConfig | None:
        m = self.mapping(raw, path, ACCOUNT_KEYS)
        if m is None:
            return None
        name = self.field(m, path, "name", self.text, required=True)
        name_path, shown = join(path, "name"), quote(m.get("name"))
        if name is not None and not _NAME_RE.fullmatch(name):
            self.problem(name_path, f"{shown} is not a valid name; use A-Z a-z 0-9 _ . @ -")
            name = None
        elif name is not None and name in seen:
            self.problem(name_path, f"duplicate account name {shown} (also {seen[name]})")
            name = None
        elif name is not None:
            seen[name] = name_path
        provider = self.field(m, path, "provider", self.text, required=True)
        if provider is not None and provider not in self.providers:
            expected = ", ".join(self.providers)
            self.problem(
                join(path, "provider"),
                f"unknown provider {quote(m['provider'])}; expected one of {expected}",
            )
            provider = None
        credentials = self.field(m, path, "credentials", self.credentials, required=True)
        project = self.field(m, path, "project", self.text)
        merged = {**defaults, **self.shared(m, path)}
        if provider is not None and credentials is not None and not self.fits_provider(
            provider, credentials, merged, m, path
        ):
            return None
        # A present-but-invalid oauth_client was already reported; don't pile on.
        if (
            credentials is not None
            and credentials.kind in ("refresh_token", "refresh_token_file")
            and "oauth_client" not in m
            and "oauth_client" not in raw_defaults
        ):
            self.problem(
                join(path, "oauth_client"),
                f"{credentials.kind} needs an oauth_client (here or in defaults) to refresh with",
            )
            return None
        if name is None or provider is None or credentials is None:
            return None
        base = AccountConfig(name=name, provider=provider, credentials=credentials, project=project)
        return replace(base, **merged).filled(self.providers[provider])

    def fits_provider(
        self,
        provider: str,
        credentials: Credentials,
        merged: dict[str, Any],
        m: dict[object, object],
        path: str,
    ) -> bool:
        """The provider accepts these credentials and sources (which may come from defaults)."""
        spec = self.providers[provider]
        ok = True
        if credentials.kind not in spec.credential_kinds:
            accepted = ", ".join(spec.credential_kinds)
            self.problem(
                join(join(path, "credentials"), credentials.kind),
                f"provider {provider} does not accept {credentials.kind}; use one of {accepted}",
            )
            ok = False
        # Name the exact list item, in the account or in defaults, wherever it came from.
        where, raw = (path, m) if "sources" in m else ("defaults", self.raw_defaults)
        items = raw.get("sources")
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, str) and self.expand(item, "") not in spec.sources:
                self.problem(
                    f"{join(where, 'sources')}[{i}]",
                    f"unknown source {quote(item)} for provider {provider}; "
                    f"expected one of {', '.join(spec.sources)}",
                )
                ok = False
        return ok

    def shared(self, m: dict[object, object], path: str) -> dict[str, Any]:
        """Typed values of the keys an account may inherit from `defaults`."""
        parsers: dict[str, Parse[object]] = {
            "oauth_client": self.oauth_client,
            "endpoints": self.endpoints,
            "token_url": self.url,
            "sources": self.sources,
            "timeout": self.timeout,
            "min_interval": self.duration,
            "user_agent": self.text,
            "headers": self.headers,
            "project_cache_ttl": self.duration,
            "expose_email": self.boolean,
            "expose_project": self.boolean,
        }
        values = {key: self.field(m, path, key, parse) for key, parse in parsers.items()}
        return {key: value for key, value in values.items() if value is not None}

    def credentials(self, value: object, path: str) -> Credentials | None:
        m = self.mapping(value, path, (*CREDENTIAL_KEYS, *CREDENTIAL_OPTIONS))
        if m is None:
            return None
        user = self.field(m, path, "user", self.text)
        if "user" in m and "file" not in m:
            self.problem(join(path, "user"), "user only goes with file (it picks one of "
                                              "the accounts a credentials file holds)")
            return None
        given = [k for k in CREDENTIAL_KEYS if k in m]
        if len(given) != 1:
            found = ", ".join(given) or "none"
            self.problem(path, f"set exactly one of {', '.join(CREDENTIAL_KEYS)}; got {found}")
            return None
        kind = given[0]
        key_path = join(path, kind)
        if kind in ("access_token", "refresh_token", "api_key"):
            secret = self.secret(m[kind], key_path)
            return None if secret is None else Credentials(kind=kind, secret=secret)
        if kind == "api_key_env":
            return self.api_key_env(m[kind], key_path)
        file_path = self.path(m[kind], key_path)
        if file_path is None:
            return None
        # Another tool owns `file`: open it read-only to prove access, nothing more.
        if kind == "file":
            readable = self.opens(file_path, key_path)
        else:
            readable = self.read_secret_file(file_path, key_path) is not None
        return Credentials(kind=kind, path=file_path, user=user) if readable else None

    def api_key_env(self, value: object, path: str) -> Credentials | None:
        """An API key from an environment variable, read now (a reload reads it again);
        the error names the variable, never a value."""
        name = self.text(value, path)
        if name is None:
            return None
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            self.problem(path, f"{name[:60]!r} is not an environment variable name")
            return None
        key = self.env.get(name, "").strip()
        if not key:
            self.problem(path, f"environment variable {name} is not set or empty")
            return None
        return Credentials(kind="api_key_env", secret=Secret(key), env=name)

    def oauth_client(self, value: object, path: str) -> OAuthClient | None:
        m = self.mapping(value, path, OAUTH_CLIENT_KEYS)
        if m is None:
            return None
        client_id = self.field(m, path, "client_id", self.text, required=True)
        secret: Secret | None = None
        secret_ok = True
        if "client_secret" in m and "client_secret_file" in m:
            self.problem(path, "set client_secret or client_secret_file, not both")
            secret_ok = False
        elif "client_secret" in m:
            secret = self.secret(m["client_secret"], join(path, "client_secret"))
            secret_ok = secret is not None
        elif "client_secret_file" in m:
            key_path = join(path, "client_secret_file")
            file_path = self.path(m["client_secret_file"], key_path)
            text = None if file_path is None else self.read_secret_file(file_path, key_path)
            secret = None if text is None else Secret(text)
            secret_ok = secret is not None
        if client_id is None or not secret_ok:
            return None
        return OAuthClient(client_id=client_id, client_secret=secret)

    def endpoints(self, value: object, path: str) -> tuple[str, ...] | None:
        items = self.nonempty_list(value, path, "base URLs")
        urls = [self.url(item, f"{path}[{i}]") for i, item in enumerate(items or [])]
        if items is None or None in urls:
            return None
        return tuple(u.rstrip("/") for u in urls if u is not None)

    def sources(self, value: object, path: str) -> frozenset[str] | None:
        items = self.nonempty_list(value, path, "sources")
        names = [self.string(item, f"{path}[{i}]") for i, item in enumerate(items or [])]
        ok = items is not None and None not in names
        for i, name in enumerate(names):
            shown = quote((items or [])[i])
            if name is not None and name in names[:i]:
                self.problem(f"{path}[{i}]", f"duplicate source {shown}")
                ok = False
        return frozenset(n for n in names if n is not None) if ok else None

    def headers(self, value: object, path: str) -> tuple[tuple[str, str], ...] | None:
        """A mapping of extra request headers, e.g. `{Editor-Version: vscode/1.107.0}`."""
        if not isinstance(value, dict) or not value:
            self.problem(path, f"expected a mapping of header names to values, got "
                               f"{'an empty mapping' if value == {} else type_name(value)}")
            return None
        out: list[tuple[str, str]] = []
        for key, raw in value.items():
            key_path = join(path, key)
            if not isinstance(key, str) or not _HEADER_RE.fullmatch(key):
                self.problem(key_path, "not a valid header name")
                continue
            if key.lower() in _RESERVED_HEADERS:
                self.problem(key_path, f"{key} is set by the exporter and cannot be overridden")
                continue
            text = self.string(raw, key_path)
            if text is not None and ("\n" in text or "\r" in text):
                self.problem(key_path, "header values must be one line")
            elif text is not None:
                out.append((key, text))
        return tuple(out) if len(out) == len(value) else None
