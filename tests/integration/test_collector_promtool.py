"""promtool's lint of the exposition of a snapshot with every kind of series."""

from __future__ import annotations

import shutil
import subprocess

from prometheus_client.exposition import generate_latest

from exporter.collector import registry_for
from tests.unit.test_collector import snapshot


def test_promtool_check_metrics_passes() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus)"
    text = generate_latest(registry_for(snapshot()))
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
