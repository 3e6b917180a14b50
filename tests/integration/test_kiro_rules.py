"""The generic alert rules cover Kiro's pools without a change: the series a real
exporter serves for Kiro accounts (scraped from the process against the simulated
upstream) go into a promtool unit test, and the alerts that fire are the right
ones: a spent Free plan is exhausted, a Pro plan at 15% is low, a Power plan in
overage is a warning (never exhausted), the healthy ones stay quiet."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from exporter.simulator import Simulator
from tests.integration.test_kiro_provider import ACCOUNTS
from tests.procs import start_exporter, write_config
from tests.promql_util import PROMETHEUS_DIR, binary

SERIES = ("llm_quota_pool_remaining_fraction", "llm_quota_pool_reset_timestamp_seconds",
          "llm_quota_pool_overage", "llm_quota_pool_remaining_credits",
          "llm_quota_pool_limit_credits", "llm_quota_credits_remaining")
_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?P<labels>\{[^}]*\}) (?P<value>\S+)$")


@pytest.fixture
def exposition(tmp_path: Path) -> Iterator[str]:
    with Simulator(ACCOUNTS) as sim:
        exp = start_exporter(write_config(tmp_path, sim.exporter_config(tmp_path)))
        try:
            yield exp.get("/metrics").text
        finally:
            exp.stop()


def firing(alert: str, severity: str, accounts: list[str]) -> dict[str, object]:
    return {"expr": f'count by (account) (ALERTS{{alertname="{alert}",alertstate="firing",'
                    f'provider="kiro",severity="{severity}"}})',
            "eval_time": "10m",
            "exp_samples": [{"labels": f'{{account="{a}"}}', "value": 1} for a in accounts]}


def test_generic_rules_fire_for_kiro_pools_as_they_should(
        exposition: str, tmp_path: Path) -> None:
    series = []
    for line in exposition.splitlines():
        found = _SAMPLE.match(line)
        if found and found["name"] in SERIES:
            series.append({"series": found["name"] + found["labels"],
                           "values": f"{float(found['value'])!r}x20"})
    assert {s["series"].split("{")[0] for s in series} == set(SERIES)
    doc = {
        "rule_files": [str(p) for p in sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))],
        "evaluation_interval": "1m",
        "group_eval_order": ["llm-quota-thresholds", "llm-quota-models", "llm-quota-pools",
                             "llm-quota-model-alerts", "llm-quota-pool-alerts",
                             "llm-quota-health-alerts"],
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": [
            firing("LLMQuotaExhausted", "critical", ["k-free-cli"]),
            firing("LLMQuotaLow", "warning", ["k-overage", "k-pro-ide"]),
            {"expr": 'count(ALERTS{provider="kiro",account=~"k-power|k-token"})',
             "eval_time": "10m", "exp_samples": []},
        ]}],
    }
    path = tmp_path / "kiro_rules_test.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = subprocess.run([binary("promtool"), "test", "rules", str(path)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
