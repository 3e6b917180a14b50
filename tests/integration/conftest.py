"""Fixtures the provider tests share: a scripted upstream on loopback and the HTTP clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exporter.upstream.transport import HttpClients
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
