"""Snapshot -> exposition: names, labels, the missing-fraction rule, promtool lint."""

from __future__ import annotations

import shutil
import subprocess

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.collector import registry_for
from exporter.snapshot import (
    AccountData,
    AccountInfo,
    AccountSnapshot,
    FetchError,
    ModelQuota,
    PoolQuota,
    Reason,
    Snapshot,
)


def snapshot() -> Snapshot:
    good = AccountSnapshot(
        provider="antigravity", account="work", up=True,
        data=AccountData(
            info=AccountInfo(tier="g1-pro-tier", tier_name="Google AI Pro"),
            models=(
                ModelQuota("claude-sonnet-4-5", "Claude Sonnet 4.5", "anthropic", 0.12, 1.8e9),
                ModelQuota("claude-opus-4-5-thinking", "Claude Opus 4.5 (Thinking)",
                           "anthropic", None, 1.8e9),
            ),
            pools=(PoolQuota("claude-gpt", "Claude and GPT models", "5h", 0.0, 1.8e9 + 60),),
        ),
        error=None, duration_seconds=0.25, fetched_at=1.7e9, last_success=1.7e9,
        errors_total={"timeout": 2},
    )
    bad = AccountSnapshot(
        provider="antigravity", account="broken", up=False, data=None,
        error=FetchError(Reason.AUTH, "refresh token is dead"), duration_seconds=0.1,
        fetched_at=1.7e9, last_success=None, errors_total={"auth": 3},
    )
    return Snapshot(accounts=(good, bad), taken_at=1.7e9)


def samples() -> dict[str, list[tuple[dict[str, str], float]]]:
    text = generate_latest(registry_for(snapshot())).decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_model_fraction_and_reset_are_exposed_with_spec_labels() -> None:
    s = samples()
    assert s["llm_quota_remaining_fraction"] == [
        ({"provider": "antigravity", "account": "work", "model": "claude-sonnet-4-5",
          "tier": "g1-pro-tier"}, 0.12)
    ]
    resets = {lbl["model"]: v for lbl, v in s["llm_quota_reset_timestamp_seconds"]}
    assert resets == {"claude-sonnet-4-5": 1.8e9, "claude-opus-4-5-thinking": 1.8e9}


def test_missing_fraction_has_no_sample_but_a_visible_gap() -> None:
    s = samples()
    known = {lbl["model"]: v for lbl, v in s["llm_quota_remaining_fraction_known"]}
    assert known == {"claude-sonnet-4-5": 1.0, "claude-opus-4-5-thinking": 0.0}
    models = {lbl["model"] for lbl, _ in s["llm_quota_model_info"]}
    assert "claude-opus-4-5-thinking" in models


def test_pool_series() -> None:
    s = samples()
    assert s["llm_quota_pool_remaining_fraction"] == [
        ({"provider": "antigravity", "account": "work", "pool": "claude-gpt", "window": "5h",
          "tier": "g1-pro-tier"}, 0.0)
    ]
    assert s["llm_quota_pool_reset_timestamp_seconds"][0][1] == 1.8e9 + 60


def test_failed_account_has_up_zero_and_no_quota_series() -> None:
    s = samples()
    up = {lbl["account"]: v for lbl, v in s["llm_quota_up"]}
    assert up == {"work": 1.0, "broken": 0.0}
    for name in ("llm_quota_remaining_fraction", "llm_quota_reset_timestamp_seconds",
                 "llm_quota_pool_remaining_fraction", "llm_quota_account_info"):
        assert all(lbl["account"] != "broken" for lbl, _ in s.get(name, []))
    last = {lbl["account"] for lbl, _ in s["llm_quota_last_success_timestamp_seconds"]}
    assert last == {"work"}


def test_error_counter_has_every_reason_from_zero() -> None:
    s = samples()
    broken = {lbl["reason"]: v for lbl, v in s["llm_quota_fetch_errors_total"]
              if lbl["account"] == "broken"}
    assert broken == {"auth": 3.0, "forbidden": 0.0, "rate_limited": 0.0, "upstream": 0.0,
                      "timeout": 0.0, "network": 0.0, "parse": 0.0}


def test_account_info_and_build_info() -> None:
    s = samples()
    (labels, value), = s["llm_quota_account_info"]
    assert value == 1.0
    assert labels["tier"] == "g1-pro-tier" and labels["tier_name"] == "Google AI Pro"
    assert labels.get("email", "") == "" and labels.get("project", "") == ""
    (build, _), = s["llm_quota_exporter_build_info"]
    assert set(build) == {"version", "python_version"}


def test_no_sample_timestamps() -> None:
    text = generate_latest(registry_for(snapshot())).decode()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            assert len(line.rsplit("}", 1)[-1].split()) == 1, line


def test_promtool_check_metrics_passes() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is required (Debian package prometheus)"
    text = generate_latest(registry_for(snapshot()))
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
