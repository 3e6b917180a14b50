"""The generic alert rules cover Cursor's pools without a change: promtool runs them
over the series the cursor provider exports (`auto`, `api`, `included`, the spend
limits, all window `monthly`; `included` in dollars without a fraction)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.promql_util import PROMETHEUS_DIR, binary

LABELS = 'provider="cursor",account="{account}",pool="{pool}",window="monthly",tier="pro"'


def series(metric: str, account: str, pool: str, values: str) -> dict[str, str]:
    return {"series": f"{metric}{{{LABELS.format(account=account, pool=pool)}}}",
            "values": values}


def alerts(name: str, pools: list[tuple[str, str]]) -> dict[str, object]:
    return {"expr": f'count by (account, pool) (ALERTS{{alertname="{name}",'
                    f'alertstate="firing",provider="cursor"}})',
            "eval_time": "10m",
            "exp_samples": [{"labels": f'{{account="{a}",pool="{p}"}}', "value": 1}
                            for a, p in pools]}


def test_generic_rules_page_on_cursor_bars_and_never_on_dollars_alone(tmp_path: Path) -> None:
    fraction = "llm_quota_pool_remaining_fraction"
    reset = "llm_quota_pool_reset_timestamp_seconds"
    inputs = [
        # The other-models bar used up, the Auto bar low, the included dollars at $0
        # (credits only: no fraction, so no quota alert of their own).
        series(fraction, "cu", "api", "0x20"),
        series(fraction, "cu", "auto", "0.15x20"),
        series("llm_quota_pool_remaining_credits", "cu", "included", "0x20"),
        series("llm_quota_pool_limit_credits", "cu", "included", "20x20"),
        series(fraction, "cu", "spend-limit", "1x20"),
        *(series(reset, "cu", p, "2592000x20") for p in ("api", "auto", "included")),
        # A healthy account.
        series(fraction, "ok", "api", "0.9x20"),
        series(fraction, "ok", "auto", "0.95x20"),
    ]
    doc = {
        "rule_files": [str(p) for p in sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))],
        "evaluation_interval": "1m",
        "group_eval_order": ["llm-quota-thresholds", "llm-quota-models", "llm-quota-pools",
                             "llm-quota-model-alerts", "llm-quota-pool-alerts",
                             "llm-quota-health-alerts"],
        "tests": [{
            "interval": "1m",
            "input_series": inputs,
            "promql_expr_test": [
                alerts("LLMQuotaExhausted", [("cu", "api")]),
                alerts("LLMQuotaLow", [("cu", "auto")]),
            ],
        }],
    }
    path = tmp_path / "cursor_test.yml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    proc = subprocess.run([binary("promtool"), "test", "rules", str(path)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
