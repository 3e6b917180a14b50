"""Session-wide: the tiers, and the tests leave no temporary file behind.

Each test is marked with its tier, the folder it sits in: `unit` (in process: no
server, no socket, no program but Python), `integration` (the exporter and other
processes, the simulator and other servers on loopback), `e2e` (real Prometheus and
Alertmanager, promtool's rule tests, amtool, kubectl, Chromium; load and floods).
`-m unit` or `-m "not e2e"` selects tiers.

Every temporary file of this session, the test process's and those of the
processes it starts (they inherit TMPDIR), goes to one private directory; the
session fails if anything is still in it at the end. pytest's own `tmp_path`
directories stay where pytest keeps them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.pki import PKI, make_pki

_STASH_KEY = pytest.StashKey[Path]()
TIERS = ("unit", "integration", "e2e")


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    private = tempfile.mkdtemp(prefix="llm-quota-tests-")
    os.environ["TMPDIR"] = private
    tempfile.tempdir = private
    config.stash[_STASH_KEY] = Path(private)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its tier, and run the tiers fastest first; a test outside
    the tier folders is a mistake."""
    root = Path(__file__).parent
    rank: dict[str, int] = {}
    for item in items:
        if not item.path.is_relative_to(root):
            continue
        tier = item.path.relative_to(root).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(
                f"{item.nodeid}: tests go in tests/unit, tests/integration or tests/e2e")
        item.add_marker(tier)
        rank[item.nodeid] = TIERS.index(tier)
    items.sort(key=lambda item: rank.get(item.nodeid, len(TIERS)))  # stable: files stay whole


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    private = session.config.stash.get(_STASH_KEY, None)
    if private is None:
        return
    left = sorted(p.name for p in private.iterdir())
    shutil.rmtree(private, ignore_errors=True)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                f"temporary files left behind by the tests: {', '.join(left)}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    """ca.crt signs server.* and client.*; other-ca.crt signs rogue.* (a client it must refuse)."""
    return make_pki(tmp_path_factory.mktemp("pki"))
