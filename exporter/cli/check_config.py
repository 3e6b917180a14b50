"""`llm-quota-exporter check-config`: validate the config file and exit (0, or 2)."""

from __future__ import annotations

import argparse

from exporter.cli.common import EXIT_CONFIG, report_config_error
from exporter.config import ConfigError
from exporter.providers import load_config


def run(args: argparse.Namespace) -> int:
    return check_config(args.config_file)


def check_config(path: str) -> int:
    # The file only: which accounts discovery would add is `discover`'s to say.
    try:
        config = load_config(path)
    except ConfigError as exc:
        report_config_error(path, exc)
        return EXIT_CONFIG
    names = ", ".join(a.name for a in config.accounts)
    print(f"{path}: OK, {len(config.accounts)} account(s)" + (f": {names}" if names else "")
          + ("; discover: true adds the accounts found on this machine "
             "(llm-quota-exporter discover lists them)" if config.discover else ""))
    return 0
