"""Snapshot -> Prometheus metric families. Pure: fresh families on every call.

Sample exposition (one Antigravity account, abridged)::

    llm_quota_up{provider="antigravity",account="work"} 1.0
    llm_quota_remaining_fraction{provider="antigravity",account="work",
        model="claude-sonnet-4-5",tier="g1-pro-tier"} 0.12
    llm_quota_remaining_fraction_known{provider="antigravity",account="work",
        model="claude-opus-4-5-thinking",tier="g1-pro-tier"} 0.0
    llm_quota_reset_timestamp_seconds{provider="antigravity",account="work",
        model="claude-sonnet-4-5",tier="g1-pro-tier"} 1.7959e+09
    llm_quota_pool_remaining_fraction{provider="antigravity",account="work",
        pool="claude-gpt",window="5h",tier="g1-pro-tier"} 0.0
    llm_quota_fetch_errors_total{provider="antigravity",account="work",reason="auth"} 0.0

(label sets wrapped here for width; real output is one line per sample)

A failed account gets `llm_quota_up 0` and none of the quota series.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from exporter import __version__
from exporter.snapshot import Reason, Snapshot

MODEL_LABELS = ["provider", "account", "model", "tier"]
POOL_LABELS = ["provider", "account", "pool", "window", "tier"]
ACCOUNT_LABELS = ["provider", "account"]


def families(snapshot: Snapshot) -> list[Metric]:
    """Every metric family for one snapshot, built fresh."""
    reuse = (
        " Results may be reused for the account's min_interval, so it may be older than"
        " this scrape."
    )
    fraction = GaugeMetricFamily(
        "llm_quota_remaining_fraction",
        "Fraction (0..1) of a per-model quota left. Absent when upstream reports no "
        "fraction; see llm_quota_remaining_fraction_known." + reuse,
        labels=MODEL_LABELS,
    )
    known = GaugeMetricFamily(
        "llm_quota_remaining_fraction_known",
        "1 when upstream reported a remaining fraction for this model, 0 when it did not "
        "(the quota is unknown, not exhausted).",
        labels=MODEL_LABELS,
    )
    reset = GaugeMetricFamily(
        "llm_quota_reset_timestamp_seconds",
        "Unix time of the per-model quota's next reset.",
        labels=MODEL_LABELS,
    )
    pool_fraction = GaugeMetricFamily(
        "llm_quota_pool_remaining_fraction",
        "Fraction (0..1) left of a quota shared by a group of models over a window." + reuse,
        labels=POOL_LABELS,
    )
    pool_reset = GaugeMetricFamily(
        "llm_quota_pool_reset_timestamp_seconds",
        "Unix time of the pool window's next reset.",
        labels=POOL_LABELS,
    )
    pools_available = GaugeMetricFamily(
        "llm_quota_pools_available",
        "1 when the account has pool quotas (5-hour / weekly), 0 when upstream says it "
        "has no licence for them.",
        labels=ACCOUNT_LABELS,
    )
    account_info = GaugeMetricFamily(
        "llm_quota_account_info",
        "Account metadata; always 1.",
        labels=["provider", "account", "tier", "tier_name", "project", "email"],
    )
    model_info = GaugeMetricFamily(
        "llm_quota_model_info",
        "Model metadata; always 1.",
        labels=["provider", "account", "model", "display_name", "model_provider"],
    )
    up = GaugeMetricFamily(
        "llm_quota_up",
        "1 if this scrape has current data for the account, else 0." + reuse,
        labels=ACCOUNT_LABELS,
    )
    last_success = GaugeMetricFamily(
        "llm_quota_last_success_timestamp_seconds",
        "Unix time the account was last fetched successfully.",
        labels=ACCOUNT_LABELS,
    )
    duration = GaugeMetricFamily(
        "llm_quota_fetch_duration_seconds",
        "How long the account's latest fetch took.",
        labels=ACCOUNT_LABELS,
    )
    errors = CounterMetricFamily(
        "llm_quota_fetch_errors",
        "Failed account fetches since the exporter started, by reason.",
        labels=["provider", "account", "reason"],
    )
    for acc in snapshot.accounts:
        ids = [acc.provider, acc.account]
        up.add_metric(ids, 1.0 if acc.up else 0.0)
        duration.add_metric(ids, acc.duration_seconds)
        if acc.last_success is not None:
            last_success.add_metric(ids, acc.last_success)
        for reason in Reason:
            errors.add_metric([*ids, reason.value], float(acc.errors_total.get(reason.value, 0)))
        data = acc.data
        if not acc.up or data is None:
            continue
        tier = data.info.tier
        account_info.add_metric(
            [*ids, tier, data.info.tier_name, data.info.project or "", data.info.email or ""],
            1.0,
        )
        pools_available.add_metric(ids, 1.0 if data.pools_available else 0.0)
        for m in data.models:
            labels = [*ids, m.model, tier]
            known.add_metric(labels, 0.0 if m.remaining_fraction is None else 1.0)
            if m.remaining_fraction is not None:
                fraction.add_metric(labels, m.remaining_fraction)
            if m.reset_time is not None:
                reset.add_metric(labels, m.reset_time)
            model_info.add_metric([*ids, m.model, m.display_name, m.model_provider], 1.0)
        for p in data.pools:
            labels = [*ids, p.pool, p.window, tier]
            if p.remaining_fraction is not None:
                pool_fraction.add_metric(labels, p.remaining_fraction)
            if p.reset_time is not None:
                pool_reset.add_metric(labels, p.reset_time)
    build = GaugeMetricFamily(
        "llm_quota_exporter_build_info",
        "Exporter build information; always 1.",
        labels=["version", "python_version"],
    )
    build.add_metric([__version__, platform.python_version()], 1.0)
    return [
        fraction, known, reset, pool_fraction, pool_reset, pools_available, account_info,
        model_info, up, last_success, duration, errors, build,
    ]


class SnapshotCollector(Collector):
    """Yields the families of one already-taken snapshot."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        yield from families(self._snapshot)


def registry_for(snapshot: Snapshot) -> CollectorRegistry:
    """A private registry per scrape: concurrent scrapes never share label sets."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return registry
