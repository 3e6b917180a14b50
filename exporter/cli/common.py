"""What more than one command needs: where the config comes from, and how a bad
one is reported."""

from __future__ import annotations

import sys
from pathlib import Path

from exporter.config import Config, ConfigError
from exporter.discovery import ConfigSource

DEFAULT_CONFIG = "llm-quota-exporter.yml"
EXIT_CONFIG = 2


def config_source(config_file: str | None) -> ConfigSource:
    """--config.file, else ./llm-quota-exporter.yml when it exists, else discovery."""
    if config_file is None and Path(DEFAULT_CONFIG).exists():
        config_file = DEFAULT_CONFIG
    return ConfigSource(config_file)


def load_or_report(source: ConfigSource) -> Config | None:
    """The config, or None once its errors are printed to stderr."""
    try:
        return source.load()
    except ConfigError as exc:
        report_config_error(source.config_file, exc)
        return None


def report_config_error(path: object, exc: ConfigError) -> None:
    print(f"error: invalid config {path}:", file=sys.stderr)
    for line in exc.lines():
        print(f"  {line}", file=sys.stderr)
