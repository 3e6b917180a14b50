"""What the machine allows: every account's sources called at once by a bare client.

    python -m benchmarks.bare_client --accounts 100 --latency 0.2

The same simulator as `scrape_bench`, the same calls (`fetchAvailableModels` and
`retrieveUserQuotaSummary` for every account, all at once, over warm keep-alive
connections), with nothing else: no token logic, no parsing into a snapshot, no
exposition. The bodies are JSON-decoded. Two clients, each in this process:

- one asyncio thread writing HTTP/1.1 by hand;
- one thread per call with `http.client`, as the thread-based engine of issue 9
  did with its pools.

Their wall time is what a scrape could cost on this machine if the exporter's own
work were free, so it tells whether a target in `report.py` is within reach here.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from benchmarks.harness import SOURCES, SimulatorProcess, median, percentile
from benchmarks.procstat import load_1m
from exporter.providers.antigravity.client import LOAD_CODE_ASSIST_BODY
from exporter.providers.google.codeassist import parse_load_code_assist


@dataclass(frozen=True)
class Call:
    """One upstream call, ready to send again and again."""

    path: str  # with the endpoint's prefix
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class ClientResult:
    name: str
    walls: list[float]
    cpu_seconds: float  # this process, over every round

    def summary(self, accounts: int, latency: float) -> dict[str, Any]:
        rounds = len(self.walls)
        p50 = median(self.walls)
        return {
            "client": self.name,
            "rounds": rounds,
            "p50_s": p50,
            "p95_s": percentile(self.walls, 95),
            "min_s": min(self.walls),
            "vs_one_call": p50 / latency if latency > 0 else None,
            "cpu_ms_per_round": 1000 * self.cpu_seconds / rounds,
            "cpu_ms_per_account": 1000 * self.cpu_seconds / rounds / accounts,
        }


def prepare(sim: SimulatorProcess, accounts: int) -> list[Call]:
    """Tokens and projects first (the exporter caches both too), then the calls."""
    calls: list[Call] = []
    with requests.Session() as session:
        for account in sim.accounts[:accounts]:
            client = account["oauth_client"]
            token = session.post(account["token_url"], timeout=30, data={
                "grant_type": "refresh_token",
                "refresh_token": account["credentials"]["refresh_token"],
                "client_id": client["client_id"], "client_secret": client["client_secret"],
            }).json()["access_token"]
            prefix = account["endpoints"][0].removeprefix(sim.base_url)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            load = session.post(f"{sim.base_url}{prefix}/v1internal:loadCodeAssist",
                                json=LOAD_CODE_ASSIST_BODY, headers=headers, timeout=30)
            body = json.dumps({"project": parse_load_code_assist(load.json()).project}).encode()
            calls += [Call(f"{prefix}/v1internal:{method}", headers, body)
                      for method in SOURCES.values()]
    return calls


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> Any:
    writer.write(request)
    status = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    if status.split()[1:2] != [b"200"]:
        raise RuntimeError(f"simulator answered {status!r}: {body[:200]!r}")
    return json.loads(body)


async def _asyncio_rounds(port: int, calls: list[Call], rounds: int) -> list[float]:
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in calls]
    requests_ = []
    for call in calls:
        head = "".join(f"{k}: {v}\r\n" for k, v in call.headers.items())
        requests_.append(
            f"POST {call.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}"
            f"Content-Length: {len(call.body)}\r\n\r\n".encode() + call.body)
    pairs = list(zip(conns, requests_, strict=True))
    walls = []
    try:
        for _ in range(rounds + 1):  # a warm-up round, like the exporter's
            started = time.perf_counter()
            await asyncio.gather(*(_exchange(r, w, req) for (r, w), req in pairs))
            walls.append(time.perf_counter() - started)
    finally:
        for _, writer in conns:
            writer.close()
    return walls[1:]


def asyncio_client(port: int, calls: list[Call], rounds: int) -> list[float]:
    return asyncio.run(_asyncio_rounds(port, calls, rounds))


def threads_client(port: int, calls: list[Call], rounds: int) -> list[float]:
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in calls]
    errors: list[BaseException] = []

    def one(conn: http.client.HTTPConnection, call: Call) -> None:
        try:
            conn.request("POST", call.path, call.body, call.headers)
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"simulator answered {resp.status}: {body[:200]!r}")
            json.loads(body)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    walls = []
    try:
        for _ in range(rounds + 1):  # the first round opens the connections
            started = time.perf_counter()
            threads = [threading.Thread(target=one, args=pair)
                       for pair in zip(conns, calls, strict=True)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            walls.append(time.perf_counter() - started)
            if errors:
                raise errors[0]
    finally:
        for conn in conns:
            conn.close()
    return walls[1:]


CLIENTS: dict[str, Callable[[int, list[Call], int], list[float]]] = {
    "asyncio, one thread": asyncio_client,
    "a thread per call, http.client": threads_client,
}


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    sim = SimulatorProcess(args.accounts, args.latency, workdir)
    try:
        calls = prepare(sim, args.accounts)
        results = []
        for name, client in CLIENTS.items():
            sim.reset_calls()
            cpu0 = time.process_time()
            walls = client(sim.port, calls, args.rounds)
            result = ClientResult(name, walls, time.process_time() - cpu0)
            results.append({**result.summary(args.accounts, args.latency),
                            "calls": sim.calls(), "load_1m": load_1m()})
    finally:
        sim.stop()
    return {"accounts": args.accounts, "latency_s": args.latency, "clients": results}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_client",
                                     description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=100, metavar="N")
    parser.add_argument("--latency", type=float, default=0.2, metavar="SECONDS")
    parser.add_argument("--rounds", type=int, default=15, metavar="K",
                        help="measured rounds per client, after one warm-up round")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    args = parser.parse_args(argv)
    for name in ("accounts", "rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.latency < 0:
        parser.error("--latency must not be negative")
    with tempfile.TemporaryDirectory(prefix="bare-client-") as tmp:
        results = run(args, Path(tmp))
    print(f"{args.accounts} accounts, {len(SOURCES)} calls each at once, "
          f"{args.latency:g}s per call:", file=sys.stdout)
    for r in results["clients"]:
        ratio = "" if r["vs_one_call"] is None else f" ({r['vs_one_call']:.2f}x one call)"
        print(f"  {r['client']}: p50 {r['p50_s']:.3f}s{ratio}, p95 {r['p95_s']:.3f}s, "
              f"CPU {r['cpu_ms_per_round']:.0f} ms per round "
              f"({r['cpu_ms_per_account']:.2f} ms per account), load {r['load_1m']:.1f}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
