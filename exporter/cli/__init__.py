"""The command line: `llm-quota-exporter [COMMAND] [FLAGS]`, `python -m exporter`.

Every command's flags are in `args`; each command runs from its own module:
`serve` (the default), `quota`, `discover`, `demo`, `check_config`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from exporter import logs
from exporter.cli import check_config, discover, serve
from exporter.cli.args import parse_args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logs.setup(args.log_level, args.log_format)
    # `quota` and `demo` are imported when they run: `serve` runs for months and
    # need not hold the terminal table (rich) or the simulator in its memory.
    if args.command == "quota":
        from exporter.cli import quota

        return quota.run(args)
    if args.command == "demo":
        from exporter.cli import demo

        return demo.run(args)
    commands = {"serve": serve.run, "check-config": check_config.run, "discover": discover.run}
    return commands[args.command](args)
