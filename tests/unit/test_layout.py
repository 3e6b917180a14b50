"""The package's shape: every module imports on its own (no import cycles), and the
provider registry matches the provider folders."""

from __future__ import annotations

import doctest
import importlib
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "exporter"

# Imports each module with no exporter.* module loaded before it: a cycle that an
# earlier import would hide (A imports B imports A) fails here.
_PROBE = """
import importlib, json, sys, traceback
failures = {}
for name in json.loads(sys.argv[1]):
    for loaded in [m for m in sys.modules if m == "exporter" or m.startswith("exporter.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failures[name] = traceback.format_exc(limit=3)
print(json.dumps(failures))
"""


def module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "__main__.py":
            continue
        parts = path.relative_to(REPO).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_module_imports_on_its_own() -> None:
    names = module_names()
    assert "exporter.upstream.client" in names and "exporter.server.app" in names
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(names)],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=120,
    )
    failures = json.loads(out.stdout)
    assert failures == {}, "\n".join(f"{n}:\n{tb}" for n, tb in failures.items())


def test_every_registered_provider_is_simulated_and_its_spec_is_whole() -> None:
    from exporter.providers import REGISTRY, provider_spec
    from exporter.simulator.upstreams import UPSTREAMS

    assert "antigravity" in REGISTRY
    for name, spec in REGISTRY.items():
        assert spec.name == name and provider_spec(name) is spec
        assert spec.sources and spec.endpoints and spec.user_agent and spec.credential_kinds
        module, _, cls = spec.factory.partition(":")
        assert getattr(importlib.import_module(module), cls).name == name
        assert name in UPSTREAMS, f"provider {name} has no simulated upstream"


def test_docstring_examples_hold() -> None:
    """The examples in module docstrings are part of the documentation: they must run."""
    failures: dict[str, int] = {}
    attempted = 0
    for name in module_names():
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        attempted += result.attempted
        if result.failed:
            failures[name] = result.failed
    assert failures == {}
    assert attempted >= 30  # the examples really ran
