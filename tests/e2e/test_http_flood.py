"""Slow clients against a real exporter process: a never-finished TLS handshake, a
request sent slowly, a header trickle. /metrics keeps answering within FAST seconds,
the thread count stays put, and the server closes what has not sent a whole request
once --web.read-timeout has passed. (The plain idle and half-sent flood is a row of
tests/integration/test_fault_matrix.py.)

All sockets go to 127.0.0.1, are bounded in number, and are closed by the test.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from exporter.simulator import SimAccount, Simulator
from tests.flood import THREAD_BOUND, Flood, client_hello_start, thread_count
from tests.pki import PKI
from tests.procs import ExporterProcess, by_label, start_exporter, write_config

READ_TIMEOUT = 3.0  # --web.read-timeout for these exporters
FAST = 2.0  # seconds /metrics may take under the flood


@dataclass
class Exporter:
    exp: ExporterProcess
    url: str
    verify: str | bool = True

    def timed_metrics(self) -> float:
        started = time.monotonic()
        resp = requests.get(self.url + "/metrics", timeout=30, verify=self.verify)
        elapsed = time.monotonic() - started
        assert resp.status_code == 200
        assert by_label(resp.text, "llm_quota_up", "account") == {
            ("hf-a",): 1.0, ("hf-b",): 1.0}
        return elapsed

    @property
    def threads(self) -> int:
        return thread_count(self.exp.proc.pid)


def _exporter(tmp_path: Path, *extra: str, scheme: str = "http",
              verify: str | bool = True) -> Iterator[Exporter]:
    with Simulator([SimAccount(n, drain_per_hour=0.0) for n in ("hf-a", "hf-b")]) as sim:
        config = write_config(tmp_path, sim.exporter_config(tmp_path))
        exp = start_exporter(config, "--web.read-timeout", f"{READ_TIMEOUT:g}s", *extra)
        try:
            yield Exporter(exp, f"{scheme}://127.0.0.1:{exp.port}", verify)
        finally:
            exp.stop()


@pytest.fixture
def plain(tmp_path: Path) -> Iterator[Exporter]:
    yield from _exporter(tmp_path)


@pytest.fixture
def tls(tmp_path: Path, pki: PKI) -> Iterator[Exporter]:
    web = tmp_path / "web.yml"
    web.write_text(f"tls_server_config:\n  cert_file: {pki['server.crt']}\n"
                   f"  key_file: {pki['server.key']}\n", encoding="utf-8")
    yield from _exporter(tmp_path, "--web.config.file", str(web), scheme="https",
                         verify=pki["ca.crt"])


def test_a_request_sent_slowly_is_answered_within_the_read_timeout(plain: Exporter) -> None:
    with Flood(plain.exp.port) as flood:
        (slow,) = flood.open(1, b"GET /-/healthy HTTP/1.1\r\n")
        time.sleep(1.0)  # the slow sender, within the read timeout: what is under test
        slow.sendall(b"Host: 127.0.0.1\r\n\r\n")
        slow.settimeout(5)
        assert slow.recv(4096).startswith(b"HTTP/1.1 200 OK\r\n")


def test_a_trickle_of_bytes_does_not_keep_a_connection_open(plain: Exporter) -> None:
    """The read timeout counts from the connection's start, not from its last byte."""
    with Flood(plain.exp.port) as flood:
        (trickle,) = flood.open(1, b"GET /metrics HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < READ_TIMEOUT + 3:
            try:
                trickle.sendall(b"X-Slow: 1\r\n")
            except OSError:  # reset or broken pipe: the server closed it
                closed = True
                break
            time.sleep(0.2)  # the trickle's pace: what is under test
        assert closed, "a client sending a header line every 0.2 s kept its connection"
        assert time.monotonic() - started < READ_TIMEOUT + 1.5


def test_tls_clients_that_never_finish_the_handshake_do_not_block_others(
    tls: Exporter,
) -> None:
    tls.timed_metrics()
    before = tls.threads
    with Flood(tls.exp.port) as flood:
        silent = flood.open(60)  # TCP only, no ClientHello
        stalled = flood.open(20, client_hello_start())
        handshaken = []
        ctx = ssl.create_default_context(cafile=str(tls.verify))
        for sock in flood.open(10):  # finish TLS, then say nothing
            handshaken.append(ctx.wrap_socket(sock, server_hostname="localhost"))
        latencies = [tls.timed_metrics() for _ in range(5)]
        during = tls.threads
        closed_after = flood.wait_closed_by_server(silent + stalled + handshaken,
                                                   within=READ_TIMEOUT + 5)
        for sock in handshaken:
            sock.close()
    print(f"\nFLOOD tls: 60 silent + 20 half ClientHello + 10 idle after handshake; "
          f"/metrics max {max(latencies):.3f}s; threads {before} before, {during} during; "
          f"closed within {closed_after:.1f}s")
    assert max(latencies) < FAST, latencies
    assert during <= THREAD_BOUND and during - before <= 2, (before, during)
    assert closed_after >= READ_TIMEOUT - 1.0, "closed before the read timeout"
    assert tls.timed_metrics() < FAST
