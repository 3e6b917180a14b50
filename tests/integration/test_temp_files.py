"""Running the exporter for a test leaves no temporary file behind (conftest.py checks
the whole session; these name the culprits directly)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from exporter.simulator import SimAccount, Simulator
from tests.procs import ExporterProcess, start_exporter, write_config


def _temp_entries() -> set[str]:
    return set(os.listdir(tempfile.gettempdir()))


def test_a_stopped_exporter_process_leaves_no_log_file_but_keeps_its_log(
    tmp_path: Path,
) -> None:
    before = _temp_entries()
    with Simulator([SimAccount("tmp-acc")]) as sim:
        exp = start_exporter(write_config(tmp_path, sim.exporter_config(tmp_path)))
        assert _temp_entries() - before, "the running process logs to a temporary file"
        exp.stop()
    assert _temp_entries() - before == set()
    assert "msg=listening" in exp.logs and "msg=stopped" in exp.logs


def test_the_demo_removes_its_temporary_config_when_stopped() -> None:
    before = _temp_entries()
    exp = ExporterProcess(["demo", "--web.listen-address", "127.0.0.1:0"])
    created = _temp_entries() - before
    assert any(name.startswith("llm-quota-demo-") for name in created), created
    assert exp.stop() == 0
    assert _temp_entries() - before == set()


def test_an_exporter_that_fails_to_start_leaves_no_log_file(tmp_path: Path) -> None:
    before = _temp_entries()
    try:
        ExporterProcess(["--config.file", str(tmp_path / "missing.yml"),
                         "--web.listen-address", "127.0.0.1:0"])
    except RuntimeError as exc:
        assert "exited with 2" in str(exc) and "missing.yml" in str(exc)
    else:
        raise AssertionError("the exporter started without a config file")
    assert _temp_entries() - before == set()
