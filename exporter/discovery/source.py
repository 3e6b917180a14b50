"""Where `serve` and `quota` get their accounts: a config file, discovery, or both.

- A config file without `discover: true`: its accounts, as before.
- No config file (zero configuration): the accounts `discover` finds.
- A config with `discover: true`: its accounts plus the discovered ones, which take
  its `defaults`; an account the config lists for the same file wins.

`rescan()` looks again (a few `stat`s when nothing changed) and returns the new
config only when the discovered accounts changed, so the engine keeps every
unchanged account's state.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from exporter.config import Config, ConfigError
from exporter.discovery.locations import Env
from exporter.discovery.render import account_entry, nothing_found
from exporter.discovery.scan import Found, Report, Scanner
from exporter.providers import load_config, parse_account

log = logging.getLogger("exporter.discovery")

# Seconds between two looks at the machine while serving discovered accounts.
RESCAN_INTERVAL = 60.0


class ConfigSource:
    def __init__(self, config_file: str | os.PathLike[str] | None, *,
                 env: Env | None = None) -> None:
        self.config_file = None if config_file is None else Path(config_file)
        self._env = env
        self._scanner: Scanner | None = None
        self._base: Config | None = None
        self._used: dict[str, Found] = {}  # served discovered accounts, by name
        self._found: frozenset[tuple[str, Path, str | None]] = frozenset()  # as last built
        self._skipped: set[str] = set()  # masked "file: reason" lines already logged
        self.report: Report | None = None  # the last scan, while discovering

    @property
    def environ(self) -> Mapping[str, str]:
        return self._env.environ if self._env is not None else os.environ

    @property
    def discovering(self) -> bool:
        return self._base is not None and self._base.discover

    def load(self) -> Config:
        """Read the config file (if any) and, when discovering, look at the machine.
        Raises ConfigError for a bad file."""
        if self.config_file is None:
            base = Config(accounts=(), discover=True)
        else:
            base = load_config(self.config_file, env=self.environ)
        first = self._base is None or not self._base.discover
        self._base = base
        if not base.discover:
            self.report = None
            return base
        return self._merge(first=first)

    def rescan(self) -> Config | None:
        """The config with the accounts found now, or None when nothing changed."""
        if self._base is None or not self._base.discover:
            return None
        report = self._scan(self._base)
        if _served(report) == self._found:  # the usual case: only `stat`s were spent
            self._log_changes(report, self._used, first=False)
            self.report = report
            return None
        return self._merge(first=False, report=report)

    def _scan(self, base: Config) -> Report:
        if self._scanner is None:
            self._scanner = Scanner(self._env or Env.current())
        configured = {(a.credentials.path, a.credentials.user): a.name for a in base.accounts
                      if a.credentials.kind == "file" and a.credentials.path is not None}
        return self._scanner.scan(configured=configured, taken={a.name for a in base.accounts})

    def _merge(self, *, first: bool, report: Report | None = None) -> Config:
        base = self._base
        assert base is not None
        report = report or self._scan(base)
        accounts = []
        used: dict[str, Found] = {}
        # An oauth_client in the config's defaults wins over one from the environment.
        client_env = {} if "oauth_client" in base.raw_defaults else self.environ
        for found in report.served:
            try:
                accounts.append(parse_account(account_entry(found, client_env),
                                              config=base, env=self.environ))
            except ConfigError as exc:  # e.g. a default that does not fit this provider
                for line in exc.lines():
                    log.warning("discovered account not served",
                                extra={"kv": {"account": found.name, "problem": line}})
                continue
            used[found.name] = found
        self._log_changes(report, used, first)
        self._used = used
        self._found = _served(report)
        self.report = report
        return replace(base, accounts=base.accounts + tuple(accounts))

    def _log_changes(self, report: Report, used: dict[str, Found], first: bool) -> None:
        for name, found in used.items():
            old = self._used.get(name)
            if old is None or (old.path, old.user) != (found.path, found.user):
                msg = "using discovered account" if first or old is not None \
                    else "discovered a new account"
                log.info(msg, extra={"kv": {"account": name, "provider": found.provider,
                                            "from": found.tool, "file": found.shown,
                                            "token": found.token}})
        for name, found in self._used.items():
            if name not in used:
                log.info("discovered account is gone", extra={"kv": {
                    "account": name, "provider": found.provider, "file": found.shown}})
        lines = {f"{s.shown}: {s.reason}" for s in report.skipped}
        lines |= {f"{a.shown}: {a.why_not}" for a in report.accounts
                  if not a.served and not a.why_not.startswith("configured by hand")}
        for line in sorted(lines - self._skipped):
            log.warning("discovery skipped a file", extra={"kv": {"why": line}})
        self._skipped = lines
        if first:
            if self.config_file is None:
                log.info("no config file: serving the accounts other tools signed in")
            looked = ", ".join(f"{lk.shown} ({lk.result or 'found'})" for lk in report.looked)
            log.info("discovery looked", extra={"kv": {"places": looked}})
        if not used and (first or self._used):
            log.warning("no accounts found; the exporter serves none until one appears",
                        extra={"kv": {"help": nothing_found(report).replace("\n", " ")}})


def _served(report: Report) -> frozenset[tuple[str, Path, str | None]]:
    return frozenset((f.name, f.path, f.user) for f in report.served)
