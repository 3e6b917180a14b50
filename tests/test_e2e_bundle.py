"""End to end with real binaries: simulator -> exporter -> Prometheus -> Alertmanager -> webhook.

One stack serves the whole module (tests/bundle_stack.py). Its accounts:
  e2e-healthy  full, idle                 must raise nothing
  e2e-free     free tier: two models without a fraction, no pools; idle
                                          must raise nothing (unknown is not exhausted)
  e2e-drain    consumed at 0.1% a second  feeds burn-rate and prediction queries
  e2e-exhaust  every quota driven to 0    must page LLMQuotaExhausted, model and pool
  e2e-broken   upstream answers 500       down: feeds the "accounts down" queries
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from exporter.simulator import SimAccount
from tests.bundle_stack import Stack, running_stack
from tests.promql_util import Query, binary, queries, rules, substitute

pytestmark = pytest.mark.e2e

ACCOUNTS = [
    SimAccount("e2e-healthy", drain_per_hour=0.0),
    SimAccount("e2e-free", tier="free-tier", drain_per_hour=0.0),
    SimAccount("e2e-drain", drain_per_hour=3.6),
    SimAccount("e2e-exhaust", drain_per_hour=0.0),
    SimAccount("e2e-broken", drain_per_hour=0.0),
]
QUIET_ACCOUNTS = {"e2e-healthy", "e2e-free"}

# Dashboard queries that may return nothing on this stack, and why. Every other
# query must return data when the dashboard variables are at their defaults (All).
ALLOWED_EMPTY = {
    "llm-quota-overview: Down accounts and last success [B]":
        "last success of the accounts that are down; e2e-broken has never succeeded",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus = binary("prometheus")
    alertmanager = binary("alertmanager", "prometheus-alertmanager")
    with running_stack(tmp_path_factory.mktemp("bundle"), ACCOUNTS, prometheus,
                       alertmanager) as stack:
        stack.sim.set_fault("e2e-broken", "500")
        stack.wait(lambda: stack.query('llm_quota_up{account="e2e-exhaust"} == 1'),
                   "a first successful scrape of e2e-exhaust in Prometheus")
        stack.sim.exhaust("e2e-exhaust")
        yield stack


def _alerts_for(alerts: list[dict[str, Any]], account: str, name: str) -> list[dict[str, Any]]:
    return [a for a in alerts
            if a["labels"].get("account") == account and a["labels"]["alertname"] == name]


def test_exhausted_account_pages_through_alertmanager(stack: Stack) -> None:
    def both_kinds() -> list[dict[str, Any]] | None:
        alerts = [a for a in _alerts_for(stack.webhook.alerts(), "e2e-exhaust",
                                         "LLMQuotaExhausted") if a["status"] == "firing"]
        kinds = {a["labels"].get("quota") for a in alerts}
        return alerts if kinds == {"model", "pool"} else None

    alerts = stack.wait(both_kinds, "LLMQuotaExhausted for a model and a pool of e2e-exhaust "
                        "at the webhook")
    for alert in alerts:
        labels = alert["labels"]
        assert labels["provider"] == "antigravity"
        assert labels["severity"] == "critical"
        assert alert["_path"] == "/llm-quota/critical", "critical alerts go to the pager route"
        assert alert["_group"] == {"provider": "antigravity", "account": "e2e-exhaust"}
        if labels["quota"] == "model":
            assert labels["model"] and "pool" not in labels
        else:
            assert labels["pool"] in ("gemini", "claude-gpt")
            assert labels["window"] in ("5h", "weekly")
        description = alert["annotations"]["description"]
        assert "Only 0% of the" in description
        assert "It resets in " in description and " UTC." in description
        assert alert["annotations"]["runbook_url"].endswith("/docs/runbook.md#llmquotaexhausted")


def test_exhausted_quota_is_neither_low_nor_predicted(stack: Stack) -> None:
    stack.wait(lambda: _alerts_for(stack.prometheus_alerts(), "e2e-exhaust", "LLMQuotaExhausted"),
               "LLMQuotaExhausted in Prometheus")
    alerts = stack.prometheus_alerts()
    assert not _alerts_for(alerts, "e2e-exhaust", "LLMQuotaLow")
    assert not _alerts_for(alerts, "e2e-exhaust", "LLMQuotaExhaustionPredicted")


def test_failing_account_is_reported_down(stack: Stack) -> None:
    (alert,) = stack.wait(
        lambda: [a for a in _alerts_for(stack.webhook.alerts(), "e2e-broken",
                                        "LLMQuotaAccountDown") if a["status"] == "firing"][:1],
        "LLMQuotaAccountDown for e2e-broken at the webhook")
    assert alert["labels"]["severity"] == "warning"
    assert alert["_path"] == "/llm-quota/warning"
    assert "upstream" in alert["annotations"]["description"]


def test_healthy_accounts_raise_nothing(stack: Stack) -> None:
    # Once the exhausted account has paged, every rule has had many evaluations.
    stack.wait(lambda: _alerts_for(stack.webhook.alerts(), "e2e-exhaust", "LLMQuotaExhausted"),
               "the exhausted account's page (proof that rules ran)")
    stack.wait(lambda: stack.query('llm_quota_remaining_fraction_known{account="e2e-free"} == 0'),
               "e2e-free's models without a fraction")
    in_prometheus = [a for a in stack.prometheus_alerts()
                     if a["labels"].get("account") in QUIET_ACCOUNTS
                     or a["labels"]["alertname"] == "LLMQuotaExporterDown"]
    assert in_prometheus == []
    at_webhook = [a for a in stack.webhook.alerts()
                  if a["labels"].get("account") in QUIET_ACCOUNTS
                  or a["labels"]["alertname"] == "LLMQuotaExporterDown"]
    assert at_webhook == []


def test_every_rule_evaluates_without_error(stack: Stack) -> None:
    stack.wait(lambda: stack.query("llm_quota:burn_rate1h"), "recorded burn rates")
    groups = stack.api("/api/v1/rules")["groups"]
    loaded = [r for g in groups for r in g["rules"]]
    assert len(loaded) == len(rules()) >= 20
    broken = [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"]
    assert broken == []


def test_alertmanager_inhibits_low_and_predicted_under_exhausted(stack: Stack) -> None:
    """Synthetic alerts straight into Alertmanager: only the same quota is inhibited."""
    base = {"provider": "antigravity", "account": "inhibit-check", "job": "inhibit-check"}
    posted = {
        "exhausted-model": {"alertname": "LLMQuotaExhausted", "severity": "critical",
                            "quota": "model", "model": "m1"},
        "low-same-model": {"alertname": "LLMQuotaLow", "severity": "warning",
                           "quota": "model", "model": "m1"},
        "predicted-same-model": {"alertname": "LLMQuotaExhaustionPredicted",
                                 "severity": "warning", "quota": "model", "model": "m1"},
        "low-other-model": {"alertname": "LLMQuotaLow", "severity": "warning",
                            "quota": "model", "model": "m2"},
        "exhausted-pool": {"alertname": "LLMQuotaExhausted", "severity": "critical",
                           "quota": "pool", "pool": "gemini", "window": "5h"},
        "low-same-pool-other-window": {"alertname": "LLMQuotaLow", "severity": "warning",
                                       "quota": "pool", "pool": "gemini", "window": "weekly"},
        "exporter-down": {"alertname": "LLMQuotaExporterDown", "severity": "critical"},
        "stale": {"alertname": "LLMQuotaDataStale", "severity": "warning"},
    }
    body = [{"labels": {**base, **labels, "case": case}} for case, labels in posted.items()]
    reply = requests.post(stack.alertmanager_url + "/api/v2/alerts", json=body, timeout=10)
    assert reply.status_code == 200, reply.text

    def states() -> dict[str, str] | None:
        found = requests.get(stack.alertmanager_url + "/api/v2/alerts", timeout=10,
                             params={"filter": 'account="inhibit-check"'}).json()
        out = {a["labels"]["case"]: a["status"]["state"] for a in found}
        return out if len(out) == len(posted) else None

    assert stack.wait(states, "the synthetic alerts in Alertmanager") == {
        "exhausted-model": "active",
        "low-same-model": "suppressed",
        "predicted-same-model": "suppressed",
        "low-other-model": "active",
        "exhausted-pool": "active",
        "low-same-pool-other-window": "active",
        "exporter-down": "active",
        "stale": "suppressed",
    }


def _values(stack: Stack) -> dict[str, dict[str, str]]:
    """Variable values per dashboard: Grafana's defaults (All), and one concrete choice."""
    model = stack.query('llm_quota_remaining_fraction{account="e2e-drain"}')[0]["metric"]["model"]
    every = {"provider": ".*", "account": ".*", "model": ".*"}
    return {
        "defaults": {**every, "datasource": "llm-quota-prometheus"},
        # The account detail dashboard has no "All": it shows one account.
        "account-detail": {**every, "account": "e2e-drain", "datasource": "llm-quota-prometheus"},
        "concrete": {"provider": "antigravity", "account": "e2e-healthy", "model": model,
                     "datasource": "llm-quota-prometheus"},
    }


def _run(stack: Stack, query: Query, values: dict[str, str]) -> list[dict[str, Any]]:
    expr = substitute(query.expr, values)
    try:
        return stack.query(expr)
    except AssertionError as exc:
        raise AssertionError(f"{query.key}: {expr}\n{exc}") from None


def _has_data(query: Query, result: list[dict[str, Any]]) -> bool:
    """A variable needs values of its label; a panel query needs any sample."""
    if query.label:
        return any(r["metric"].get(query.label) for r in result)
    return bool(result)


def test_dashboard_queries_are_valid_and_have_data(stack: Stack) -> None:
    all_queries = queries()
    assert len(all_queries) >= 50
    stack.wait(lambda: stack.query('llm_quota:seconds_until_exhaustion{account="e2e-drain"}'),
               "a predicted exhaustion for the draining account")
    stack.wait(lambda: stack.query('ALERTS{alertstate="firing"}'), "firing alerts")
    values = _values(stack)

    def empty_ones() -> list[str]:
        empty = []
        for q in all_queries:
            chosen = values["account-detail" if q.dashboard == "llm-quota-account" else "defaults"]
            if not _has_data(q, _run(stack, q, chosen)) and q.key not in ALLOWED_EMPTY:
                empty.append(q.key)
        return empty

    missing: list[str] = []

    def all_have_data() -> bool:
        missing[:] = empty_ones()
        return not missing

    try:
        stack.wait(all_have_data, "data for every dashboard query", timeout=45)
    except AssertionError as exc:
        raise AssertionError(f"dashboard queries without data: {missing}") from exc
    for q in all_queries:
        _run(stack, q, values["concrete"])  # valid with single values too
