"""`llm-quota-exporter demo`: serve simulated accounts on a fake upstream, no
accounts needed; a banner says so, and where everything is."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml

from exporter.cli.common import EXIT_CONFIG
from exporter.cli.serve import listen_address_ok, serve
from exporter.providers import load_config
from exporter.simulator import Simulator, demo_accounts


def run(args: argparse.Namespace) -> int:
    # Refuse a bad address before the simulator starts, as `serve` does.
    if not listen_address_ok(args.listen_address):
        return EXIT_CONFIG
    sim = Simulator(demo_accounts()).start()

    def banner(address: tuple[str, int], base: str) -> str:
        host, port = address
        bound = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if host in ("0.0.0.0", "::"):
            bound += ", every interface"
        return (
            "llm-quota-exporter DEMO: simulated accounts on a fake upstream, not real data.\n"
            f"  listening on:       {bound}\n"
            f"  simulated upstream: {sim.base_url}\n"
            f"  landing page:       {base}/\n"
            f"  metrics:            {base}{args.telemetry_path}\n"
            f"  JSON API:           {base}/api/v1/quota\n"
            "Press Ctrl-C to stop."
        )

    try:
        with tempfile.TemporaryDirectory(prefix="llm-quota-demo-") as tmp:
            config_path = Path(tmp) / "demo.yml"
            data = sim.exporter_config(Path(tmp))
            config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
            return serve(args, load_config(config_path), demo=True, banner=banner)
    finally:
        sim.stop()
