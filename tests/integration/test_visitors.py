"""What visitors can make the exporter ask upstream: only scrapes fetch.

The landing page and /api/v1/quota (GET and HEAD) read the newest snapshot and
fetch only when it is older than VIEW_MAX_AGE (30 s), joining any fetch in
flight; POST /api/v1/refresh is allowed once per account per refresh_interval.
The exporter's own server and engine run in this process on loopback against the
simulator, with the engine's clock injected so 30 s pass without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
import requests

from exporter.fetch import FetchEngine
from exporter.providers import load_config
from exporter.server.api import VIEW_MAX_AGE
from exporter.server.app import ExporterApp
from exporter.simulator import SimAccount, Simulator
from exporter.web.httpd import make_http_server
from tests.flood import all_at_once
from tests.procs import write_config

ACCOUNTS = ("vf-a", "vf-b")
VIEWS = 10  # of each kind below
VIEW_REQUESTS = [("GET", "/"), ("GET", "/api/v1/quota"), ("HEAD", "/"),
                 ("HEAD", "/api/v1/quota"), ("GET", "/api/v1/quota?account=vf-a")]


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    sim: Simulator
    clock: Clock
    url: str

    def upstream_calls(self) -> int:
        return sum(n for per in self.sim.calls().values() for n in per.values())

    def fetches(self, method: str = "fetchAvailableModels") -> dict[str, int]:
        return {name: per[method] for name, per in self.sim.calls().items()}

    def request(self, method: str, path: str) -> int:
        return requests.request(method, self.url + path, timeout=30).status_code

    def flood(self, requests_: list[tuple[str, str]]) -> list[int]:
        return all_at_once([partial(self.request, *item) for item in requests_])


def _serve(tmp_path: Path, latency: float = 0.0, top: dict[str, object] | None = None,
           ) -> Callable[[], Iterator[Served]]:
    def served() -> Iterator[Served]:
        accounts = [SimAccount(n, drain_per_hour=0.0) for n in ACCOUNTS]
        with Simulator(accounts, latency=latency) as sim:
            data = {**(top or {}), **sim.exporter_config(tmp_path)}
            clock = Clock()
            engine = FetchEngine(load_config(write_config(tmp_path, data)), clock=clock)
            app = ExporterApp(engine, clock=clock)
            try:
                with make_http_server(app, "127.0.0.1:0") as server:
                    yield Served(sim, clock, f"http://127.0.0.1:{server.address[1]}")
            finally:
                engine.close()
    return served


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    # 0.3 s per upstream reply: views that arrive together overlap one fetch in flight.
    yield from _serve(tmp_path, latency=0.3)()


def test_views_after_a_scrape_cost_no_upstream_call_for_30_seconds(served: Served) -> None:
    assert served.request("GET", "/metrics") == 200
    served.sim.reset_calls()
    assert served.flood(VIEW_REQUESTS * VIEWS) == [200] * len(VIEW_REQUESTS) * VIEWS
    assert served.upstream_calls() == 0
    served.clock.now += VIEW_MAX_AGE - 0.5
    assert served.flood(VIEW_REQUESTS * 2) == [200] * len(VIEW_REQUESTS) * 2
    assert served.upstream_calls() == 0
    assert served.request("GET", "/metrics") == 200  # a scrape still fetches
    assert served.fetches() == {"vf-a": 1, "vf-b": 1}


def test_views_of_an_old_snapshot_share_one_fetch(served: Served) -> None:
    assert served.request("GET", "/") == 200  # no snapshot yet: the first view fetches
    assert served.fetches() == {"vf-a": 1, "vf-b": 1}
    served.clock.now += VIEW_MAX_AGE + 0.5
    assert served.flood(VIEW_REQUESTS * 4) == [200] * len(VIEW_REQUESTS) * 4
    assert served.fetches() == {"vf-a": 2, "vf-b": 2}, "concurrent views fetched more than once"
    assert served.fetches("retrieveUserQuotaSummary") == {"vf-a": 2, "vf-b": 2}


def test_a_second_refresh_within_the_interval_is_429_with_retry_after(served: Served) -> None:
    assert served.request("POST", "/api/v1/refresh?account=vf-a") == 200
    served.sim.reset_calls()
    served.clock.now += 12.3
    resp = requests.post(served.url + "/api/v1/refresh?account=vf-a", timeout=30)
    assert (resp.status_code, resp.headers["Retry-After"]) == (429, "18")  # 17.7 s, rounded up
    assert served.flood([("POST", "/api/v1/refresh?account=vf-a")] * 8) == [429] * 8
    assert served.upstream_calls() == 0
    assert served.request("POST", "/api/v1/refresh?account=vf-b") == 200  # per account
    served.clock.now += 17.7
    assert served.request("POST", "/api/v1/refresh?account=vf-a") == 200
    assert served.fetches() == {"vf-a": 1, "vf-b": 1}


@pytest.mark.parametrize(("interval", "second"), [("5s", 429), ("0s", 200)])
def test_refresh_interval_comes_from_the_config(
    tmp_path: Path, interval: str, second: int
) -> None:
    for served in _serve(tmp_path, top={"refresh_interval": interval})():
        assert served.request("POST", "/api/v1/refresh?account=vf-a") == 200
        served.clock.now += 4.5
        resp = requests.post(served.url + "/api/v1/refresh?account=vf-a", timeout=30)
        assert resp.status_code == second
        if second == 429:
            assert resp.headers["Retry-After"] == "1"
            served.clock.now += 0.5
            assert served.request("POST", "/api/v1/refresh?account=vf-a") == 200
