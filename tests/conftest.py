"""Session-wide: the tests leave no temporary file behind.

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


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    private = tempfile.mkdtemp(prefix="llm-quota-tests-")
    os.environ["TMPDIR"] = private
    tempfile.tempdir = private
    config.stash[_STASH_KEY] = Path(private)


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
