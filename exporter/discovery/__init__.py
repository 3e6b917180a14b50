"""Zero configuration: find the accounts other tools already signed in on this machine.

`locations` says where each tool keeps its credentials (one row per tool), `scan`
reads them (read only, with the providers' own parsers), keeps one file per account
and names the accounts, `render` shows a report or writes a config, and `source`
serves discovered accounts (alone, or added to a config's with `discover: true`).
"""

from exporter.discovery.locations import LOCATIONS, Env, Location, Place
from exporter.discovery.scan import Found, Looked, Report, Scanner, Skipped
from exporter.discovery.source import RESCAN_INTERVAL, ConfigSource

__all__ = [
    "LOCATIONS", "RESCAN_INTERVAL", "ConfigSource", "Env", "Found", "Location", "Looked",
    "Place", "Report", "Scanner", "Skipped",
]
