"""`python -m exporter.simulator`: a fake upstream on loopback until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Sequence
from pathlib import Path

from exporter.simulator import Simulator, bench_accounts, demo_accounts, write_config


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m exporter.simulator",
        description="Run the fake upstreams (Antigravity, Gemini CLI, GitHub Copilot) on "
                    "loopback until SIGTERM or Ctrl-C.")
    parser.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                        help="address to bind (default %(default)s: loopback, any free port)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--accounts", type=int, metavar="N", help="N bench accounts")
    which.add_argument("--demo", action="store_true", help="the demo accounts (the default)")
    parser.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                        help="delay added to every upstream reply")
    parser.add_argument("--token-ttl", type=float, default=3600.0, metavar="SECONDS",
                        help="lifetime of access tokens from the token endpoint")
    parser.add_argument("--write-config", type=Path, metavar="PATH",
                        help="write an exporter config YAML for all accounts here")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if not host or not port.isdigit():
        parser.error(f"--listen {args.listen!r}: expected HOST:PORT, e.g. 127.0.0.1:0")
    if args.accounts is not None and args.accounts < 1:
        parser.error(f"--accounts {args.accounts}: expected at least 1")
    accounts = demo_accounts() if args.accounts is None else bench_accounts(args.accounts)

    sim = Simulator(accounts, latency=args.latency, token_ttl=args.token_ttl,
                    host=host, port=int(port))
    try:
        sim.start()
    except OSError as exc:
        parser.exit(1, f"cannot listen on {args.listen}: {exc.strerror or exc}\n")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with sim:
        if args.write_config is not None:
            write_config(sim, args.write_config)
        print(json.dumps({"base_url": sim.base_url, "endpoints": sim.endpoints,
                          "token_url": sim.token_url}), flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
