"""The top floors' arrows: the command line on top, the web plumbing knowing nothing
of the routes, and `quota` asking its questions of the floor below the server.

Every import counts, a function-local one or one under TYPE_CHECKING too."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "exporter"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module `path` imports, as dotted names (`from a import b` gives a and a.b)."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path),
                      is_package=path.name == "__init__.py")


def imports_in(source: str, module: str, *, is_package: bool = False) -> set[str]:
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0]
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def modules_under(folder: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((PACKAGE / folder).rglob("*.py"))}


def reaches(names: set[str], package: str) -> set[str]:
    return {n for n in names if n == package or n.startswith(package + ".")}


def test_web_plumbing_imports_neither_the_routes_nor_the_command_line() -> None:
    web = modules_under("web")
    assert "exporter.web.httpd" in web and "exporter.web.config" in web
    wrong = {name: sorted(reaches(imported(path), "exporter.server")
                          | reaches(imported(path), "exporter.cli"))
             for name, path in web.items()}
    assert {n: w for n, w in wrong.items() if w} == {}


def test_nothing_below_the_command_line_imports_it() -> None:
    # exporter/__main__.py is `python -m exporter`: the command line's own door.
    below = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
             if not module_name(p).startswith("exporter.cli") and p != PACKAGE / "__main__.py"}
    assert "exporter.server.app" in below and "exporter.simulator.__main__" in below
    wrong = {name: sorted(reaches(imported(path), "exporter.cli"))
             for name, path in below.items()}
    assert {n: w for n, w in wrong.items() if w} == {}


def test_quota_does_not_import_the_server() -> None:
    quota = PACKAGE / "cli" / "quota.py"
    names = imported(quota)
    assert "exporter.query" in names  # what it asks, below the server
    assert reaches(names, "exporter.server") == set()
    assert reaches(imported(PACKAGE / "query.py"), "exporter.server") == set()


def test_the_checks_see_every_kind_of_import() -> None:
    """A function-local import, a relative one and `import a.b` are all seen."""
    source = ("import exporter.server.app\n"
              "def f():\n    from exporter.server import api\n    from ..cli import quota\n")
    names = imports_in(source, "exporter.web.sample")
    assert reaches(names, "exporter.server") == {
        "exporter.server", "exporter.server.app", "exporter.server.api"}
    assert reaches(names, "exporter.cli") == {"exporter.cli", "exporter.cli.quota"}
