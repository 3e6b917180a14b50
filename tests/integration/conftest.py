"""Fixtures the provider tests share: a scripted upstream on loopback, the HTTP
clients, and the simulator serving a test module's `ACCOUNTS` with an exporter
process on it (a module defines its own `sim`, `config` or `exporter` where it needs
another)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.simulator import Simulator
from exporter.upstream.transport import HttpClients
from tests.procs import ExporterProcess, start_exporter, write_config
from tests.scripted_http import ScriptedServer


@pytest.fixture
def script() -> Iterator[tuple[ScriptedServer, str]]:
    server = ScriptedServer()
    httpd, base = server.start()
    yield server, base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def clients() -> Iterator[HttpClients]:
    c = HttpClients.create(2)
    yield c
    c.close()


@pytest.fixture
def sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """The simulator serving the test module's `ACCOUNTS`."""
    with Simulator(request.module.ACCOUNTS) as s:
        yield s


@pytest.fixture
def config(sim: Simulator, tmp_path: Path) -> dict[str, Any]:
    return sim.exporter_config(tmp_path)


@pytest.fixture
def exporter(config: dict[str, Any], tmp_path: Path) -> Iterator[ExporterProcess]:
    exp = start_exporter(write_config(tmp_path, config), "--log.level", "debug")
    yield exp
    exp.stop()
