"""Run the exporter as a real process on loopback, for integration and e2e tests."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
# The "listening" line, in logfmt or in JSON (--log.format json); IPv4 or IPv6.
_LISTEN_RE = re.compile(
    r'msg=listening address=([0-9a-f.:]+):(\d+)'
    r'|"msg": "listening".*?"address": "([0-9a-f.:]+):(\d+)"'
)


class ExporterProcess:
    """`python -m exporter` (or `module`, which runs it) on 127.0.0.1:<ephemeral>,
    stderr captured for assertions.

    The log lives in a temporary file while the process runs; stop() keeps its
    text in memory and deletes the file.
    """

    def __init__(self, args: Sequence[str], env: dict[str, str] | None = None,
                 cwd: Path | None = None, module: str = "exporter") -> None:
        self._log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by stop()
            prefix="exporter-", suffix=".log", delete=False
        )
        self._final_logs: str | None = None
        full_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
        full_env["PYTHONPATH"] = str(REPO) + os.pathsep + full_env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            env=full_env,
            cwd=str(cwd or REPO),
            text=True,
        )
        self.stdout_lines: list[str] = []
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        self.port = self._wait_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_lines.append(line)

    @property
    def logs(self) -> str:
        if self._final_logs is not None:
            return self._final_logs
        return Path(self._log_file.name).read_text(encoding="utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return "".join(self.stdout_lines)

    def _wait_port(self, timeout: float = 20.0) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            match = _LISTEN_RE.search(self.logs)
            if match:
                return int(match.group(2) or match.group(4))
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"exporter exited with {self.proc.returncode}:\n{self.logs}")
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"exporter did not start listening within {timeout}s:\n{self.logs}")

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while text not in self.logs:
            assert time.monotonic() < end, f"{text!r} not logged within {timeout:g}s:\n{self.logs}"
            time.sleep(0.05)

    def get(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 30)
        return requests.get(self.url + path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 30)
        return requests.post(self.url + path, **kw)

    def stop(self) -> int:
        code = stop_process(self.proc)
        if self._final_logs is None:
            self._final_logs = self.logs
            self._log_file.close()
            Path(self._log_file.name).unlink(missing_ok=True)
        return code


def stop_process(proc: subprocess.Popen[Any]) -> int:
    """SIGTERM, then SIGKILL after 10 s; the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def write_config(directory: Path, data: dict[str, Any], name: str = "config.yml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def start_exporter(config_path: Path, *extra: str) -> ExporterProcess:
    return ExporterProcess(
        ["--config.file", str(config_path), "--web.listen-address", "127.0.0.1:0", *extra]
    )


def metric_values(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted label items: value} for every sample of `name` in an exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def by_label(text: str, name: str, *keys: str) -> dict[tuple[str, ...], float]:
    """Samples of `name` keyed by the given label values, e.g. ("account", "model")."""
    out: dict[tuple[str, ...], float] = {}
    for labels, value in metric_values(text, name).items():
        d = dict(labels)
        out[tuple(d.get(k, "") for k in keys)] = value
    return out


def scrape(exp: ExporterProcess) -> str:
    """The exporter's /metrics text (asserting it answered 200)."""
    resp = exp.get("/metrics")
    assert resp.status_code == 200
    return resp.text


def scrape_until_up(exp: ExporterProcess, account: str, timeout: float = 10.0) -> str:
    """Scrapes until the account is up again; an account that failed twice in a row
    is retried after a short back-off, not on every scrape."""
    end = time.monotonic() + timeout
    while True:
        text = scrape(exp)
        if by_label(text, "llm_quota_up", "account").get((account,)) == 1.0:
            return text
        assert time.monotonic() < end, f"{account} did not come back:\n{exp.logs[-2000:]}"
        time.sleep(0.3)


def api(exp: ExporterProcess) -> dict[str, dict[str, Any]]:
    """The JSON API's accounts by name."""
    doc = exp.get("/api/v1/quota").json()
    return {a["account"]: a for a in doc["accounts"]}


def files_of(directory: Path) -> dict[str, tuple[str, int]]:
    """Every file under `directory` but the config, by content hash and mtime: what
    must stay byte for byte the same while the exporter reads them."""
    return {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file() and p.name != "config.yml"}


def fetch_once(provider: Any, deadline: float) -> Any:
    """`provider.fetch(deadline)` run on its fetch loop, waited for here: what one
    account's fetch returns (or raises) in the engine."""
    return provider._clients.run(provider.fetch(deadline))
