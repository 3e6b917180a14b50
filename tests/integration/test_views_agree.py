"""One snapshot, several views: /metrics, the JSON API, the page and `quota` agree."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from exporter.simulator import SimAccount, Simulator
from tests.procs import REPO, ExporterProcess, by_label, start_exporter, write_config

ACCOUNTS = [
    SimAccount("agree-pro", drain_per_hour=0.0, fraction_step=None,
               model_fractions={"claude-sonnet-4-5": 0.07, "claude-opus-4-5-thinking": None,
                                "gemini-3-flash": 1.0},
               pool_fractions={"gemini/5h": 0.5, "gemini/weekly": 0.8,
                               "claude-gpt/5h": 0.6, "claude-gpt/weekly": 0.9}),
    # Every Claude model and the 5-hour bucket come without a number: an empty pool.
    SimAccount("agree-empty", drain_per_hour=0.0,
               model_fractions={"claude-sonnet-4-5": None, "claude-opus-4-5-thinking": None,
                                "gpt-oss-120b-medium": None},
               pool_fractions={"claude-gpt/5h": None}),
    SimAccount("agree-free", tier="free-tier", drain_per_hour=0.0),
    SimAccount("agree-summary-down", drain_per_hour=0.0,
               failing_methods=("retrieveUserQuotaSummary",)),
    SimAccount("agree-revoked", revoked=True),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ExporterProcess, Path]]:
    tmp = tmp_path_factory.mktemp("agree")
    with Simulator(ACCOUNTS) as sim:
        # min_interval keeps the exporter's views on one fetch; drain 0 keeps the
        # separate `quota` process's fetch equal to it.
        path = write_config(tmp, sim.exporter_config(tmp, defaults={"min_interval": "1h"}))
        exp = start_exporter(path)
        try:
            yield exp, path
        finally:
            exp.stop()


def metrics_view(exp: ExporterProcess) -> dict[tuple[str, ...], float]:
    text = exp.get("/metrics").text
    out = {("model", *k): v for k, v in
           by_label(text, "llm_quota_remaining_fraction", "account", "model").items()}
    out.update({("pool", *k): v for k, v in by_label(
        text, "llm_quota_pool_remaining_fraction", "account", "pool", "window").items()})
    out.update({("effective", *k): v for k, v in by_label(
        text, "llm_quota_effective_remaining_fraction", "account", "model").items()})
    out.update({("up", *k): v for k, v in by_label(text, "llm_quota_up", "account").items()})
    out.update({("source", *k): v for k, v in by_label(
        text, "llm_quota_source_up", "account", "source").items()})
    return out


def json_view(doc: dict[str, object]) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for acc in doc["accounts"]:  # type: ignore[attr-defined]
        name = acc["account"]
        out[("up", name)] = 1.0 if acc["up"] else 0.0
        for m in acc["models"]:
            if m["remaining_fraction"] is not None:
                out[("model", name, m["model"])] = m["remaining_fraction"]
            if m["effective_remaining_fraction"] is not None:
                out[("effective", name, m["model"])] = m["effective_remaining_fraction"]
        for p in acc["pools"]:
            if p["remaining_fraction"] is not None:
                out[("pool", name, p["pool"], p["window"])] = p["remaining_fraction"]
        for src in acc["sources"]:
            out[("source", name, src["source"])] = 1.0 if src["up"] else 0.0
    return out


def test_json_api_equals_metrics(setup: tuple[ExporterProcess, Path]) -> None:
    exp, _ = setup
    from_metrics = metrics_view(exp)
    from_api = json_view(exp.get("/api/v1/quota").json())
    assert from_api == pytest.approx(from_metrics)
    assert from_metrics[("model", "agree-pro", "claude-sonnet-4-5")] == pytest.approx(0.07)
    assert from_metrics[("up", "agree-revoked")] == 0.0
    # 100% of its own, bounded by its 5-hour pool's 50%.
    assert from_metrics[("effective", "agree-pro", "gemini-3-flash")] == pytest.approx(0.5)


def test_an_omitted_fraction_is_resolved_from_evidence_the_same_everywhere(
    setup: tuple[ExporterProcess, Path],
) -> None:
    exp, _ = setup
    doc = exp.get("/api/v1/quota?account=agree-pro").json()
    opus = next(m for m in doc["accounts"][0]["models"]
                if m["model"] == "claude-opus-4-5-thinking")
    assert (opus["remaining_fraction"], opus["fraction_omitted"]) == (None, True)
    # Not 0: its pool says 60%, and Claude Sonnet, which resets with it (one quota),
    # has 7%: the lower binds.
    assert opus["effective_remaining_fraction"] == pytest.approx(0.07)
    assert "same quota as Claude Sonnet 4.5" in opus["binding_limit"]["evidence"]
    metrics = metrics_view(exp)
    assert ("model", "agree-pro", "claude-opus-4-5-thinking") not in metrics
    assert metrics[("effective", "agree-pro", "claude-opus-4-5-thinking")] == pytest.approx(0.07)
    omitted = by_label(exp.get("/metrics").text, "llm_quota_remaining_fraction_omitted",
                       "account", "model")
    assert omitted == {("agree-pro", "claude-opus-4-5-thinking"): 1.0,
                       ("agree-empty", "claude-sonnet-4-5"): 1.0,
                       ("agree-empty", "claude-opus-4-5-thinking"): 1.0,
                       ("agree-empty", "gpt-oss-120b-medium"): 1.0}


def test_an_empty_pool_whose_numbers_are_all_left_out_is_exhausted_everywhere(
    setup: tuple[ExporterProcess, Path],
) -> None:
    exp, _ = setup
    metrics = metrics_view(exp)
    for model in ("claude-sonnet-4-5", "claude-opus-4-5-thinking", "gpt-oss-120b-medium"):
        assert metrics[("effective", "agree-empty", model)] == 0.0
    # The bucket sent no number: no pool fraction is invented for it.
    assert ("pool", "agree-empty", "claude-gpt", "5h") not in metrics
    doc = exp.get("/api/v1/quota?account=agree-empty").json()
    sonnet = next(m for m in doc["accounts"][0]["models"] if m["model"] == "claude-sonnet-4-5")
    assert sonnet["binding_limit"]["window"] == "5h"
    assert "reset ahead" in sonnet["binding_limit"]["evidence"]


def test_a_failed_summary_keeps_the_models_and_says_so_everywhere(
    setup: tuple[ExporterProcess, Path],
) -> None:
    exp, _ = setup
    metrics = metrics_view(exp)
    assert metrics[("up", "agree-summary-down")] == 0.0
    assert metrics[("source", "agree-summary-down", "models")] == 1.0
    assert metrics[("source", "agree-summary-down", "summary")] == 0.0
    assert any(k[:2] == ("model", "agree-summary-down") for k in metrics)
    assert not any(k[:2] == ("effective", "agree-summary-down") for k in metrics)
    doc = exp.get("/api/v1/quota?account=agree-summary-down").json()["accounts"][0]
    summary = next(s for s in doc["sources"] if s["source"] == "summary")
    assert summary["error"]["reason"] == "upstream" and "503" in summary["error"]["message"]
    page = exp.get("/").text
    assert "summary failed: upstream" in page and "PARTIAL" in page


def test_quota_command_json_equals_metrics(setup: tuple[ExporterProcess, Path]) -> None:
    exp, path = setup
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "quota", "--config.file", str(path),
         "--output", "json"], capture_output=True, text=True, timeout=60, cwd=REPO,
    )
    assert result.returncode == 1  # agree-revoked failed
    assert json_view(json.loads(result.stdout)) == pytest.approx(metrics_view(exp))


def test_quota_table_and_page_show_the_metrics_percentages(
    setup: tuple[ExporterProcess, Path],
) -> None:
    exp, path = setup
    result = subprocess.run(
        [sys.executable, "-m", "exporter", "quota", "--config.file", str(path),
         "--account", "agree-pro"], capture_output=True, text=True, timeout=60, cwd=REPO,
        env={"NO_COLOR": "1", "COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    page = exp.get("/").text
    for (kind, account, *rest), value in metrics_view(exp).items():
        # The views lead models with their effective number, and show pools as they are.
        if kind not in ("effective", "pool") or account != "agree-pro":
            continue
        shown = f"{round(value * 100)}%"
        if 0 < value < 0.01:
            shown = "<1%"
        assert shown in result.stdout, (rest, shown)
        assert shown in page, (rest, shown)
    assert "\x1b[" not in result.stdout  # plain when piped
