"""WSGI routes: what each path answers.

    /                 landing page with the quota table
    /metrics          Prometheus exposition (path set by --web.telemetry-path)
    /probe            ?account=NAME[&provider=P]: the exposition of that account only
    /-/healthy        liveness; never calls upstream
    /-/ready          readiness; never calls upstream
    /api/v1/quota     JSON snapshot (?provider=, ?account=)
    /api/v1/refresh   POST ?account=NAME: fetch now, bypassing min_interval
    /api/v1/targets   the accounts as Prometheus HTTP service discovery, for /probe
    /api/v1/best      ?model=ID[&provider=]: the account with the most quota left for ID
    /-/reload         POST: re-read the config file (with --web.enable-lifecycle)

The landing page and /api/v1/quota read the newest snapshot and fetch only when
it is older than VIEW_MAX_AGE; /metrics and /probe fetch per min_interval, as a scrape.
"""

from __future__ import annotations

import gzip
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs

from prometheus_client.exposition import CONTENT_TYPE_LATEST

from exporter.collector import Renderer
from exporter.discovery import Report
from exporter.fetch import FetchEngine
from exporter.server.api import (
    RefreshLimiter,
    RequestError,
    Response,
    handle_best,
    handle_quota,
    handle_refresh,
    handle_targets,
    probe_account,
    view_snapshot,
)
from exporter.snapshot import Snapshot
from exporter.views.page import render_page

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
# Leave Prometheus this much of its scrape timeout to receive the answer.
SCRAPE_TIMEOUT_OFFSET = 0.5


_STATUS_TEXT = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
    503: "Service Unavailable",
}


def _text(status: int, text: str, *headers: tuple[str, str]) -> Response:
    return Response(
        status, [("Content-Type", "text/plain; charset=utf-8"), *headers], text.encode("utf-8")
    )


def scrape_budget(environ: Environ) -> float | None:
    """Seconds this scrape may spend fetching, from Prometheus's timeout header."""
    raw = environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS")
    if not raw:
        return None
    try:
        header = float(raw)
    except ValueError:
        return None
    if header <= 0:
        return None
    return max(header - min(SCRAPE_TIMEOUT_OFFSET, header * 0.25), 0.0)


class ExporterApp:
    def __init__(
        self,
        engine: FetchEngine,
        *,
        telemetry_path: str = "/metrics",
        demo: bool = False,
        reloader: Callable[[], str] | None = None,
        lifecycle: bool = False,
        clock: Callable[[], float] = time.time,
        discovery: Callable[[], Report | None] | None = None,
        links: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.engine = engine
        # Each keeps the lines it wrote per account while the account's data is the
        # same object: one for /metrics, one per probed account (a probe renders one
        # account, and a renderer forgets the accounts its last snapshot left out).
        self._renderer = Renderer()
        self._probe_renderers: dict[str, Renderer] = {}
        self.telemetry_path = telemetry_path
        self.demo = demo
        self.reloader = reloader
        self.lifecycle = lifecycle  # --web.enable-lifecycle: POST /-/reload allowed
        self.ready = True
        self.discovery = discovery  # the last discovery report, when serving discovered accounts
        self.links = tuple(links)  # (href, text) added to the page's navigation
        self.limiter = RefreshLimiter(lambda: engine.config.refresh_interval, clock=clock)
        self._clock = clock

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            reply = self.route(environ)
        except Exception:
            log.exception("request failed", extra={"kv": {"path": environ.get("PATH_INFO")}})
            reply = _text(500, "internal error\n")
        headers = list(reply.headers)
        body = reply.body
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", "") and len(body) > 1024:
            body = gzip.compress(body, compresslevel=1)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{reply.status} {_STATUS_TEXT.get(reply.status, '')}", headers)
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]

    def route(self, environ: Environ) -> Response:
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if path == self.telemetry_path:
            return self._only_get(method) or self.metrics(environ)
        if path == "/probe":
            return self._only_get(method) or self.probe(environ, query)
        if path == "/-/healthy":
            return self._only_get(method) or _text(200, "Healthy.\n")
        if path == "/-/ready":
            if not self.ready:
                return _text(503, "Not ready.\n")
            return self._only_get(method) or _text(200, "Ready.\n")
        if path == "/-/reload":
            return self.reload(method)
        if path == "/api/v1/quota":
            return handle_quota(method, query, self.engine, scrape_budget(environ))
        if path == "/api/v1/targets":
            return handle_targets(method, query, self.engine)
        if path == "/api/v1/best":
            return handle_best(method, query, self.engine, scrape_budget(environ))
        if path == "/api/v1/refresh":
            return handle_refresh(
                method, query, self.engine, self.limiter, scrape_budget(environ)
            )
        if path in ("/", "/index.html"):
            return self._only_get(method) or self.landing(query)
        return _text(404, "Not found. See / for the paths this exporter serves.\n")

    @staticmethod
    def _only_get(method: str) -> Response | None:
        if method in ("GET", "HEAD"):
            return None
        return _text(405, "Method not allowed.\n", ("Allow", "GET, HEAD"))

    def metrics(self, environ: Environ) -> Response:
        snapshot = self.engine.collect(timeout=scrape_budget(environ))
        return self._exposition(self._renderer, snapshot)

    def probe(self, environ: Environ, query: dict[str, list[str]]) -> Response:
        """One account, blackbox style: the same deadline, shared fetch and min_interval
        as /metrics, so Prometheus can spread accounts over several exporters."""
        try:
            name = probe_account(query, self.engine)
        except RequestError as exc:
            return _text(exc.status, f"{exc.message}\n")
        renderer = self._probe_renderers.get(name)
        if renderer is None:
            known = set(self.engine.account_names())
            for gone in [n for n in self._probe_renderers if n not in known]:
                self._probe_renderers.pop(gone, None)  # removed by a reload
            renderer = self._probe_renderers.setdefault(name, Renderer())
        snapshot = self.engine.collect(timeout=scrape_budget(environ), accounts=[name])
        return self._exposition(renderer, snapshot)

    @staticmethod
    def _exposition(renderer: Renderer, snapshot: Snapshot) -> Response:
        # Always the text format: it carries everything we expose, and encodes in
        # 60% of OpenMetrics' time (the encoding follows the last fetch, so it adds
        # straight to the scrape's wall time; docs/benchmarks.md).
        body = renderer.text(snapshot)
        return Response(200, [("Content-Type", CONTENT_TYPE_LATEST)], body)

    def landing(self, query: dict[str, list[str]]) -> Response:
        """The page; ?provider= and ?account= narrow it, as they do the JSON API."""
        try:
            snapshot = view_snapshot(query, self.engine)
        except RequestError as exc:
            return _text(exc.status, f"{exc.message}\n")
        html = render_page(
            snapshot, telemetry_path=self.telemetry_path, now=self._clock(), demo=self.demo,
            discovery=self.discovery() if self.discovery is not None else None,
            links=self.links,
        )
        return Response(200, [("Content-Type", "text/html; charset=utf-8")], html.encode("utf-8"))

    def reload(self, method: str) -> Response:
        if method != "POST":
            return _text(405, "Use POST.\n", ("Allow", "POST"))
        if not self.lifecycle:
            # As Prometheus: reloading over HTTP is opt-in, so an exposed port
            # cannot be used to make the exporter re-read its files.
            return _text(403, "Lifecycle API is not enabled. Start the exporter with "
                              "--web.enable-lifecycle to reload over HTTP; SIGHUP always "
                              "reloads.\n")
        if self.reloader is None:
            return _text(400, "This exporter was not started from a config file.\n")
        try:
            message = self.reloader()
        except Exception as exc:  # the reloader's error names the key path
            return _text(400, f"Reload failed; the old config keeps serving.\n{exc}\n")
        return _text(200, f"{message}\n")
