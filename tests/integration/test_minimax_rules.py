"""The generic alert rules cover MiniMax's pools unchanged (promtool): an exhausted
5-hour interval pages, a low week warns, and a China count pool that exports only
its window's size (no fraction) pages nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.procs import REPO

RUNBOOK = "https://github.com/OWNER/llm-quota-exporter/blob/main/docs/runbook.md"


def series(metric: str, account: str, pool: str, window: str, values: str) -> dict[str, str]:
    labels = (f'provider="minimax",account="{account}",pool="{pool}",window="{window}",'
              'tier="unknown"')
    return {"series": f"{metric}{{{labels}}}", "values": values}


def test_alert_rules_cover_minimax_pools(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus)"
    fraction, reset = "llm_quota_pool_remaining_fraction", "llm_quota_pool_reset_timestamp_seconds"
    labels = {"provider": "minimax", "account": "mm", "pool": "general", "tier": "unknown",
              "quota": "pool"}
    doc = {
        "rule_files": [str(REPO / "prometheus" / "rules" / "*.yml")],
        "evaluation_interval": "1m",
        "group_eval_order": ["llm-quota-thresholds", "llm-quota-models", "llm-quota-pools",
                             "llm-quota-model-alerts", "llm-quota-pool-alerts",
                             "llm-quota-health-alerts"],
        "tests": [{
            "interval": "1m",
            "input_series": [
                series(fraction, "mm", "general", "5h", "0x20"),  # status 2
                series(reset, "mm", "general", "5h", "7200x20"),
                series(fraction, "mm", "general", "weekly", "0.12x20"),
                series(reset, "mm", "general", "weekly", "300000x20"),
                series("llm_quota_pool_limit_requests", "cn", "minimax-m", "5h", "1500x20"),
                series(reset, "cn", "minimax-m", "5h", "7200x20"),
            ],
            "alert_rule_test": [
                {"eval_time": "10m", "alertname": "LLMQuotaExhausted", "exp_alerts": [{
                    "exp_labels": {**labels, "severity": "critical", "window": "5h"},
                    "exp_annotations": {
                        "summary": "general pool (5h) exhausted on minimax account mm",
                        "description": (
                            "Only 0% of the 5h window of the general pool is left on minimax "
                            "account mm (tier unknown), at or below the exhausted threshold of "
                            "1%. Every model that draws on the pool is blocked. It resets in "
                            "1h 50m 0s, at 1970-01-01 02:00:00 +0000 UTC."),
                        "runbook_url": f"{RUNBOOK}#llmquotaexhausted"}}]},
                {"eval_time": "10m", "alertname": "LLMQuotaLow", "exp_alerts": [{
                    "exp_labels": {**labels, "severity": "warning", "window": "weekly"},
                    "exp_annotations": {
                        "summary": "general pool (weekly) low on minimax account mm",
                        "description": (
                            "Only 12% of the weekly window of the general pool is left on "
                            "minimax account mm (tier unknown), at or below the low threshold "
                            "of 20%. It resets in 3d 11h 10m 0s, at 1970-01-04 11:20:00 "
                            "+0000 UTC."),
                        "runbook_url": f"{RUNBOOK}#llmquotalow"}}]},
            ],
        }],
    }
    test = tmp_path / "minimax_test.yml"
    test.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    result = subprocess.run([promtool, "test", "rules", str(test)], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
