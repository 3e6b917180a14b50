"""The generic alert rules cover Kimi Code's pools without a change: promtool on the
series the kimi provider exports (pool `kimi`, windows `weekly` and `5h`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.procs import REPO

RUNBOOK = "https://github.com/OWNER/llm-quota-exporter/blob/main/docs/runbook.md#"
LABELS = 'provider="kimi",account="k",pool="kimi",tier="advanced"'


def series(name: str, window: str, values: str) -> dict[str, str]:
    return {"series": f'{name}{{{LABELS},window="{window}"}}', "values": values}


def test_kimi_pools_page_when_exhausted_and_warn_when_low(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus)"
    labels = {"provider": "kimi", "account": "k", "pool": "kimi", "tier": "advanced"}
    test = {
        "rule_files": [str(REPO / "prometheus" / "rules" / "*.yml")],
        "evaluation_interval": "1m",
        "group_eval_order": ["llm-quota-thresholds", "llm-quota-models", "llm-quota-pools",
                             "llm-quota-model-alerts", "llm-quota-pool-alerts"],
        "tests": [{"interval": "1m", "input_series": [
            series("llm_quota_pool_remaining_fraction", "weekly", "0x20"),
            series("llm_quota_pool_reset_timestamp_seconds", "weekly", "86400x20"),
            series("llm_quota_pool_remaining_fraction", "5h", "0.15x20"),
            series("llm_quota_pool_reset_timestamp_seconds", "5h", "18000x20"),
        ], "alert_rule_test": [
            {"eval_time": "10m", "alertname": "LLMQuotaExhausted", "exp_alerts": [{
                "exp_labels": {**labels, "severity": "critical", "quota": "pool",
                               "window": "weekly"},
                "exp_annotations": {
                    "summary": "kimi pool (weekly) exhausted on kimi account k",
                    "description": (
                        "Only 0% of the weekly window of the kimi pool is left on kimi "
                        "account k (tier advanced), at or below the exhausted threshold of "
                        "1%. Every model that draws on the pool is blocked. It resets in "
                        "23h 50m 0s, at 1970-01-02 00:00:00 +0000 UTC."),
                    "runbook_url": RUNBOOK + "llmquotaexhausted"}}]},
            {"eval_time": "10m", "alertname": "LLMQuotaLow", "exp_alerts": [{
                "exp_labels": {**labels, "severity": "warning", "quota": "pool",
                               "window": "5h"},
                "exp_annotations": {
                    "summary": "kimi pool (5h) low on kimi account k",
                    "description": (
                        "Only 15% of the 5h window of the kimi pool is left on kimi account "
                        "k (tier advanced), at or below the low threshold of 20%. It resets "
                        "in 4h 50m 0s, at 1970-01-01 05:00:00 +0000 UTC."),
                    "runbook_url": RUNBOOK + "llmquotalow"}}]},
        ]}],
    }
    path = tmp_path / "kimi_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    done = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
