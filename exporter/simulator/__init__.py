"""Fake upstreams on loopback, for the demo, the tests and the benchmarks.

    with Simulator([SimAccount("work"), SimAccount("home", tier="free-tier")]) as sim:
        config = sim.exporter_config(tmp_path)     # dump with yaml.safe_dump
        sim.set_fault("work", "429", times=1)      # the next call of "work" gets a 429
        sim.set_model_fraction("home", "gemini-3-flash", 0.25)

Every fake host shares one port, told apart by a path prefix: Google's Cloud Code at
`{base_url}/daily` and `{base_url}/prod` (a bare `base_url` is "prod"; Antigravity
and Gemini CLI accounts share them, each answered by its own upstream), GitHub at
`{base_url}/copilot`; the OAuth token endpoint is `{base_url}/token`. The same
controls are reachable over HTTP under `/_sim/` for a simulator in another process:

    python -m exporter.simulator --demo --write-config ./sim/config.yml

Each provider's simulated upstream is its own `providers/<name>/simulated.py`, built
on `exporter.simkit` (accounts, draining quotas, faults); here: `upstreams` (gathers
them from the provider registry), `state` (live state behind one lock), `server`
(the loopback HTTP server and faults).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import yaml

from exporter.providers import PACKAGES
from exporter.simkit.common import FAULT_KINDS, Reply, SimAccount, json_reply, write_secret
from exporter.simulator.server import Served, SimServer

__all__ = ["FAULT_KINDS", "SimAccount", "Simulator", "bench_accounts", "demo_accounts"]

_CONTROL_PATH = re.compile(r"^/_sim/accounts/([^/]+)/([a-z-]+)$")

def _field(payload: Mapping[str, Any], key: str) -> Any:
    if key not in payload:
        raise ValueError(f"request body is missing field {key!r}")
    return payload[key]


class Simulator(Served):
    """The fake upstream: `SimState` (controls, calls, fractions) behind a loopback server."""

    def __init__(self, accounts: Sequence[SimAccount] | None = None, *, latency: float = 0.0,
                 token_ttl: float = 3600.0, clock: Callable[[], float] = time.time,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(demo_accounts() if accounts is None else accounts,
                         token_ttl=token_ttl, clock=clock)
        self.latency = latency  # seconds added to every upstream and token reply
        self._address = (host, port)
        self._server: SimServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Simulator:
        if self._server is None:
            self._server = SimServer(self._address, self)
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name="simulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()  # wakes replies sleeping on latency or a hang fault
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not running: call start() first")
        host, port = self._server.socket.getsockname()[:2]
        return f"http://{host}:{port}"

    @property
    def endpoints(self) -> list[str]:
        return [self.base_url + "/daily", self.base_url + "/prod"]

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    def control(self, verb: str, path: str, body: bytes) -> Reply:
        """The `/_sim/` HTTP API: the control methods for another process."""
        try:
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise ValueError("request body must be a JSON object")
            if (verb, path) == ("GET", "/_sim/state"):
                return json_reply(self.state())
            if (verb, path) == ("GET", "/_sim/calls"):
                return json_reply({"accounts": self.calls(), "hosts": self.calls_by_host()})
            if (verb, path) == ("POST", "/_sim/reset-calls"):
                self.reset_calls()
                return json_reply({"ok": True})
            match = _CONTROL_PATH.match(path)
            name = unquote(match.group(1)) if match else ""
            actions: dict[tuple[str, str], Callable[[], None]] = {
                ("POST", "fault"): lambda: self.set_fault(name, **payload),
                ("DELETE", "faults"): lambda: self.clear_faults(name),
                ("POST", "exhaust"): lambda: self.exhaust(name),
                ("POST", "model-fraction"): lambda: self.set_model_fraction(
                    name, _field(payload, "model"), _field(payload, "fraction")),
                ("POST", "pool-fraction"): lambda: self.set_pool_fraction(
                    name, _field(payload, "pool"), _field(payload, "window"),
                    _field(payload, "fraction")),
                ("POST", "drain"): lambda: self.set_drain(name, _field(payload, "per_hour")),
                ("POST", "revoke-refresh-token"): lambda: self.revoke_refresh_token(name),
                ("POST", "expire-access-tokens"): lambda: self.expire_access_tokens(name),
                ("POST", "expire-credentials"): lambda: self.expire_credentials(name),
                ("POST", "renew-credentials"): lambda: self.renew_credentials(name),
            }
            action = actions.get((verb, match.group(2))) if match else None
            if action is None:
                return json_reply({"error": f"no control route {verb} {path}"}, 404)
            action()
            return json_reply({"ok": True})
        except KeyError as exc:  # an unknown account, model or pool
            return json_reply({"error": str(exc.args[0])}, 404)
        except (ValueError, TypeError) as exc:
            return json_reply({"error": str(exc)}, 400)

    def exporter_config(self, directory: Path, *, accounts: Sequence[str] | None = None,
                        defaults: Mapping[str, object] | None = None) -> dict[str, object]:
        """An exporter config (the YAML schema, as a dict) for these accounts, pointing here.

        Token files and CLIProxyAPI-style credential files go into `directory`; the
        config names them by absolute path (a relative one would be read relative to
        the config file's folder, not to where this ran).
        """
        directory = directory.absolute()
        directory.mkdir(parents=True, exist_ok=True)
        names = self.account_names if accounts is None else accounts
        config: dict[str, object] = {"defaults": dict(defaults)} if defaults else {}
        config["accounts"] = [self._account_config(name, directory) for name in names]
        return config

    def _account_config(self, name: str, directory: Path) -> dict[str, object]:
        spec = self.account(name)
        return spec.upstream.account_config(self, spec, directory, self.base_url)


def demo_accounts() -> list[SimAccount]:
    """Accounts that show every state the exporter knows, draining fast enough to watch:
    each provider's own (its `simulated.demo_accounts`), in the registry's order."""
    return [account for package in PACKAGES.values() if package.demo_accounts is not None
            for account in package.demo_accounts()]


def bench_accounts(n: int) -> list[SimAccount]:
    """`bench-0001` .. `bench-NNNN`: identical g1-pro accounts with refresh tokens."""
    return [SimAccount(f"bench-{i:04d}") for i in range(1, n + 1)]


def write_config(sim: Simulator, path: Path) -> None:
    """The exporter config YAML for all accounts at `path`, credential files beside it."""
    config = sim.exporter_config(path.parent.resolve())  # paths hold from any directory
    write_secret(path, yaml.safe_dump(config, sort_keys=False))


