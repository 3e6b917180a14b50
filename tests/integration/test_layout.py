"""The package's shape: floors that import only downwards, no import cycles, every
module importing on its own, and a registry whose providers are whole folders."""

from __future__ import annotations

import ast
import doctest
import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "exporter"

# Floors, bottom up: a module may import its own floor's modules and any floor below.
# Keys are the first part of a module's name under `exporter` ("" is the package's
# face, `exporter/__init__.py`); `providers` splits into its toolkit, the provider
# folders and the registry above them.
FLOORS: list[set[str]] = [
    {"", "secret", "timefmt", "logs", "redact", "snapshot"},  # ground: shared values
    {"auth", "quota", "simkit"},  # token sources; effective numbers; the simulator's kit
    {"upstream"},  # the provider-neutral HTTP client
    {"config"},  # plain records, a loader handed the provider specs
    {"providers.toolkit"},  # spec.py, parsing.py, places.py
    {"providers.base"},  # the one constructor, the package record
    {"providers.<name>"},  # one folder per provider (and google/, shared by two)
    {"providers"},  # the registry: the one place that names them all
    {"fetch", "discovery", "simulator", "collector"},  # engines that loop over it
    {"views", "query"},  # Snapshot -> bytes; what the JSON API and `quota` both ask
    {"web"},  # plumbing that knows no route: WSGI server, TLS, basic auth, the gate
    {"server"},  # routes, the JSON API, reloads
    {"cli", "__main__"},  # the command line on top
]
_TOOLKIT = {"spec", "parsing", "places", "keyfiles"}
_SHARED_PROVIDER_CODE = "google"  # what the two Google providers share


def _floor_key(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return ""
    if parts[0] != "providers" or len(parts) == 1:
        return parts[0]
    if parts[1] in _TOOLKIT:
        return "providers.toolkit"
    if parts[1] == "base":
        return "providers.base"
    return "providers.<name>"


def _floor(module: str) -> int:
    key = _floor_key(module)
    for level, keys in enumerate(FLOORS):
        if key in keys:
            return level
    raise AssertionError(f"{module} is on no floor: add {key!r} to FLOORS")


def _module_of(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {_module_of(p, root): p for p in sorted(root.rglob("*.py"))}


def _imports(path: Path, module: str, known: set[str]) -> Iterator[str]:
    """Every exporter module that `module` (at `path`) imports, at the top, in a
    function or under TYPE_CHECKING alike: `from a.b import c` names `a.b.c` when
    that is a module."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            if target in known:
                yield target


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: set(_imports(path, name, known)) - {name} for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_among_exporter_modules() -> None:
    assert _cycles(import_graph()) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_import_runs_down_the_floors() -> None:
    upward = [
        f"{src} (floor {_floor(src)}) imports {dst} (floor {_floor(dst)})"
        for src, targets in sorted(import_graph().items())
        for dst in sorted(targets)
        if _floor(dst) > _floor(src)
    ]
    assert upward == []


def test_the_import_reader_sees_function_local_and_type_checking_imports(
    tmp_path: Path,
) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                     "    from exporter.config import Config\n"
                     "def f():\n    from exporter import fetch\n"
                     "from . import snapshot\n")
    known = {"exporter", "exporter.config", "exporter.fetch", "exporter.snapshot"}
    assert set(_imports(probe, "exporter.probe", known)) == set(known)


def test_a_provider_folder_imports_no_other_provider() -> None:
    crossing = []
    for src, targets in import_graph().items():
        if _floor_key(src) != "providers.<name>":
            continue
        own = src.split(".")[2]
        for dst in targets:
            if _floor_key(dst) == "providers.<name>":
                other = dst.split(".")[2]
                if other not in (own, _SHARED_PROVIDER_CODE):
                    crossing.append(f"{src} -> {dst}")
    assert crossing == []


def test_only_the_registry_names_a_provider_folder() -> None:
    """Above the providers, code loops over the registry: no module outside
    `exporter/providers/` imports a provider's folder."""
    naming = sorted(
        f"{src} -> {dst}"
        for src, targets in import_graph().items()
        if not src.startswith("exporter.providers")
        for dst in targets
        if _floor_key(dst) == "providers.<name>"
    )
    assert naming == []


# Imports each module with no exporter.* module loaded before it: an order that
# only works because an earlier import ran first fails here.
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


def module_names(root: Path = PACKAGE) -> list[str]:
    """Every module of the package but `__main__`s (which run a program)."""
    return [name for name, path in _modules(root).items() if path.name != "__main__.py"]


def test_every_module_imports_on_its_own() -> None:
    names = module_names()
    assert "exporter.upstream.client" in names and "exporter.providers.base" in names
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(names)],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=120,
    )
    failures = json.loads(out.stdout)
    assert failures == {}, "\n".join(f"{n}:\n{tb}" for n, tb in failures.items())


def test_every_registered_provider_is_a_whole_folder() -> None:
    from exporter.discovery import LOCATIONS
    from exporter.providers import PACKAGES, REGISTRY, provider_spec
    from exporter.simulator.upstreams import UPSTREAMS

    assert "antigravity" in REGISTRY
    located = {p for location in LOCATIONS for p in location.providers}
    for name, package in PACKAGES.items():
        spec = package.spec
        assert spec.name == name and provider_spec(name) is spec is REGISTRY[name]
        assert spec.sources and spec.endpoints and spec.user_agent and spec.credential_kinds
        assert getattr(package.factory, "name", None) == name
        assert name in UPSTREAMS, f"provider {name} has no simulated upstream"
        assert package.demo_accounts is not None and package.demo_accounts()
        assert name in located, f"no tool's sign-in is discovered for {name}"


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


# -- removing a provider: its folder and its registry line, nothing else -------------

_PROVIDER_FOLDERS = {
    "antigravity": "antigravity", "gemini-cli": "gemini_cli", "claude": "claude",
    "codex": "codex", "copilot": "copilot", "zai": "zai",
}

# Run in a copy of the package without one provider: every module imports, the
# registry lacks it, check-config passes on another provider's account, the
# simulator's demo serves the others, and discover runs in an empty home.
_WITHOUT = r"""
import contextlib, importlib, io, json, os, sys, tempfile
from pathlib import Path

removed, names = sys.argv[1], json.loads(sys.argv[2])
for name in names:
    importlib.import_module(name)
from exporter.providers import REGISTRY
from exporter.simulator import Simulator, demo_accounts
from exporter.cli import main

assert removed not in REGISTRY and REGISTRY, sorted(REGISTRY)
accounts = demo_accounts()
assert accounts and {a.provider for a in accounts} == set(REGISTRY)
with tempfile.TemporaryDirectory() as tmp, Simulator(accounts) as sim:
    import yaml
    config = sim.exporter_config(Path(tmp))
    path = Path(tmp) / "config.yml"
    path.write_text(yaml.safe_dump(config))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["check-config", "--config.file", str(path)])
    assert code == 0, (code, out.getvalue())
    from exporter.fetch import FetchEngine
    from exporter.providers import load_config
    engine = FetchEngine(load_config(path, env={}))
    snapshot = engine.collect(timeout=30)
    served = {a.provider for a in snapshot.accounts if a.up}
    assert served == set(REGISTRY), served
with tempfile.TemporaryDirectory() as home:
    os.environ["HOME"] = home
    for var in [v for v in os.environ if v.startswith(("XDG_", "CODEX_", "CLAUDE_", "GEMINI_"))]:
        del os.environ[var]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["discover"])
    assert code in (0, 1), (code, out.getvalue())
print("ok")
"""


def _without(provider: str, into: Path) -> Path:
    """A copy of the package with `provider`'s folder and its registry line taken out."""
    import shutil

    copy = into / "exporter"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    folder = _PROVIDER_FOLDERS[provider]
    shutil.rmtree(copy / "providers" / folder)
    registry = copy / "providers" / "__init__.py"
    lines = registry.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if line.strip() != f"{folder}.PACKAGE,"]
    assert len(kept) == len(lines) - 1, "the registry names each provider on one line"
    text = "".join(kept)
    text = text.replace(f" {folder},", "").replace(f", {folder}\n", "\n")
    registry.write_text(text, encoding="utf-8")
    return into


@pytest.mark.parametrize("provider", sorted(_PROVIDER_FOLDERS))
def test_removing_a_provider_leaves_everything_else_working(
    provider: str, tmp_path: Path
) -> None:
    root = _without(provider, tmp_path)
    names = module_names(root / "exporter")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "LANG": "C.UTF-8"}
    out = subprocess.run(
        [sys.executable, "-c", _WITHOUT, provider, json.dumps(names)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
