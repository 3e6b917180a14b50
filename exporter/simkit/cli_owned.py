"""What the simulated upstreams of CLI-owned accounts (Claude Code, Codex) share: the
credential styles, and credential files the simulated CLI renews.

Those CLIs keep an access token in their own file and renew it themselves; the
exporter only reads it. The simulator writes the file in the CLI's format (or in
CLIProxyAPI's) and can later rewrite it, as running the CLI would
(`renew_credentials`), or leave a token in it whose expiry has passed
(`expire_credentials`).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exporter.simkit.common import Reply, SimAccount, SimContext

# file: the CLI's own file; cliproxyapi: CLIProxyAPI's file for the account.
CREDENTIAL_STYLES = ("file", "cliproxyapi", "access_token", "access_token_file")
# A token that never expires (access_token styles).
FOREVER = math.inf


@dataclass(frozen=True)
class CliFormat:
    """How one CLI's tokens and files look.

    `mint(spec, expires_at)` makes an access token; the documents are
    `(spec, access token, refresh token, expires_at) -> JSON object`.
    """

    mint: Callable[[SimAccount, float], str]
    own_file: Callable[[SimAccount], str]  # relative path of the CLI's own file
    own_doc: Callable[[SimAccount, str, str, float], dict[str, Any]]
    proxy_file: Callable[[SimAccount], str]  # CLIProxyAPI's file name
    proxy_doc: Callable[[SimAccount, str, str, float], dict[str, Any]]


def iso_micro(ts: float) -> str:
    """RFC 3339 with microseconds and a numeric offset, as these upstreams write times.

    >>> iso_micro(1795899600.000412)
    '2026-11-28T21:00:00.000412+00:00'
    """
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="microseconds")


def write_json(path: Path, doc: dict[str, Any]) -> None:
    """Replace `path` whole (a temporary file renamed over it), mode 0600, as the CLIs
    do: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def retry_after(seconds: float) -> tuple[tuple[str, str], ...]:
    """A Retry-After header: whole seconds, rounded up."""
    return (("Retry-After", str(math.ceil(seconds))),)


def account_config(sim: SimContext, spec: SimAccount, directory: Path, base_url: str,
                   host: str, fmt: CliFormat) -> dict[str, object]:
    """The config entry of a CLI-owned account; writes its credentials into `directory`."""
    style = spec.credential_style
    credentials: dict[str, str]
    if style in ("access_token", "access_token_file"):
        token = fmt.mint(spec, FOREVER)
        sim.register_token(spec.name, token, FOREVER)
        if style == "access_token":
            credentials = {"access_token": token}
        else:
            path = directory / f"{spec.name}.access_token"
            path.write_text(token + "\n", encoding="utf-8")
            path.chmod(0o600)
            credentials = {"access_token_file": str(path)}
    else:
        own = style == "file"
        path = directory / (fmt.own_file(spec) if own else fmt.proxy_file(spec))
        document = fmt.own_doc if own else fmt.proxy_doc
        refresh, _, _ = sim.credentials(spec.name, expiring=False)

        def write(expires_at: float) -> None:
            token = fmt.mint(spec, expires_at)
            sim.register_token(spec.name, token, expires_at)
            write_json(path, document(spec, token, refresh, expires_at))

        sim.set_credential_writer(spec.name, write)
        sim.renew_credentials(spec.name)
        credentials = {"file": str(path)}
    return {"name": spec.name, "provider": spec.provider, "credentials": credentials,
            "endpoints": [f"{base_url}/{host}"]}


def error_reply(status: int, payload: object, delay: float | None = None) -> Reply:
    body = json.dumps(payload).encode()
    return Reply(status, body, headers=retry_after(delay) if delay is not None else ())
