"""End to end with real binaries: simulator -> two exporters -> Prometheus -> Alertmanager
-> webhook.

One stack serves the whole module (tests/bundle_stack.py); Prometheus scrapes two
exporter replicas with the same config, as an HA pair would. Its accounts:
  e2e-healthy       full, idle                            must raise nothing
  e2e-free          free tier: no pool licence, idle      must raise nothing
  e2e-drain         Ultra (credits), 0.1% a second        feeds burn-rate and prediction queries
  e2e-exhaust       every quota driven to 0               pages LLMQuotaExhausted, model and pool;
                                                          later fails for a few scrapes (the gap)
  e2e-pool-empty    claude-sonnet-4-5 at 100%, its 5h     pages once, for the pool, naming the
                    pool at 0                             model; the model alerts are held back
  e2e-omitted       claude-opus-4-5-thinking without      pages nothing: unknown, not 0, and
                    a fraction                            resolved from its healthy pool
  e2e-summary-down  retrieveUserQuotaSummary answers 503  partial: down, models kept, no effective
  e2e-broken        upstream answers 500 after its first  down, with a last success
                    success
plus one idle account per other simulated provider, when the simulator has any.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from exporter.simulator import SimAccount
from exporter.simulator.upstreams import UPSTREAMS
from exporter.timefmt import parse_rfc3339
from tests.bundle_stack import Stack, running_stack
from tests.promql_util import Query, binary, queries, rules, substitute

ACCOUNTS = [
    SimAccount("e2e-healthy", drain_per_hour=0.0),
    SimAccount("e2e-free", tier="free-tier", drain_per_hour=0.0),
    # Exact numbers: its burn rate must show within the test's minutes, and in 20%
    # steps a 3.6/h drain would move once every 200 s.
    SimAccount("e2e-drain", tier="g1-ultra-tier", drain_per_hour=3.6, fraction_step=None),
    SimAccount("e2e-exhaust", drain_per_hour=0.0),
    SimAccount("e2e-pool-empty", drain_per_hour=0.0, model_fractions={"claude-sonnet-4-5": 1.0},
               pool_fractions={"claude-gpt/5h": 0.0}),
    SimAccount("e2e-omitted", drain_per_hour=0.0,
               model_fractions={"claude-opus-4-5-thinking": None}),
    SimAccount("e2e-summary-down", drain_per_hour=0.0,
               failing_methods=("retrieveUserQuotaSummary",)),
    SimAccount("e2e-broken", drain_per_hour=0.0),
    *(SimAccount(f"e2e-{name}", drain_per_hour=0.0, provider=name)
      for name in UPSTREAMS if name != "antigravity"),
]
QUIET_ACCOUNTS = {"e2e-healthy", "e2e-free"}

# Every dashboard query must return data with the variables at their defaults (All).
# The account dashboard shows one account: a panel there must have data for one of
# these (Copilot alone counts requests and has unlimited pools).
DETAIL_ACCOUNTS = ("e2e-drain", "e2e-copilot")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prometheus = binary("prometheus")
    alertmanager = binary("alertmanager", "prometheus-alertmanager")
    with running_stack(tmp_path_factory.mktemp("bundle"), ACCOUNTS, prometheus,
                       alertmanager) as stack:
        for account in ("e2e-exhaust", "e2e-broken"):
            stack.wait(lambda a=account: stack.query(f'llm_quota_up{{account="{a}"}} == 1'),
                       f"a first successful scrape of {account} in Prometheus")
        stack.sim.set_fault("e2e-broken", "500")
        stack.sim.exhaust("e2e-exhaust")
        yield stack


def _alerts_for(alerts: list[dict[str, Any]], account: str, name: str) -> list[dict[str, Any]]:
    return [a for a in alerts
            if a["labels"].get("account") == account and a["labels"]["alertname"] == name]


def _key(alert: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """An alert's identity: its labels."""
    return tuple(sorted(alert["labels"].items()))


def _firing_at_webhook(stack: Stack, account: str, name: str) -> list[dict[str, Any]]:
    return [a for a in _alerts_for(stack.webhook.alerts(), account, name)
            if a["status"] == "firing"]


def test_exhausted_account_pages_through_alertmanager_once_per_quota(stack: Stack) -> None:
    """Every quota of e2e-exhaust at 0. The pool windows say 0; the models come without
    a number (proto3 JSON leaves the zeros out), so their effective 0 comes from the
    pools: one page per pool window, the model alerts (bound_by="pool") held back."""
    def every_window() -> list[dict[str, Any]] | None:
        alerts = _firing_at_webhook(stack, "e2e-exhaust", "LLMQuotaExhausted")
        windows = {(a["labels"].get("pool"), a["labels"].get("window")) for a in alerts}
        return alerts if len(windows) == 4 else None

    alerts = stack.wait(every_window, "LLMQuotaExhausted for every pool window of e2e-exhaust "
                        "at the webhook")
    for alert in alerts:
        labels = alert["labels"]
        assert labels["provider"] == "antigravity"
        assert labels["severity"] == "critical"
        # Two replicas report the account; the alert is about the quota, not the replica.
        assert "instance" not in labels
        assert alert["_path"] == "/llm-quota/critical", "critical alerts go to the pager route"
        assert alert["_group"] == {"provider": "antigravity", "account": "e2e-exhaust"}
        assert labels["quota"] == "pool", "the model alerts are held back behind the pools"
        assert labels["pool"] in ("gemini", "claude-gpt")
        assert labels["window"] in ("5h", "weekly")
        description = alert["annotations"]["description"]
        assert "Only 0% of the" in description
        assert "It resets in " in description and " UTC." in description
        assert alert["annotations"]["runbook_url"].endswith("/docs/runbook.md#llmquotaexhausted")
    in_prometheus = _alerts_for(stack.prometheus_alerts(), "e2e-exhaust", "LLMQuotaExhausted")
    keys = [tuple(sorted(a["labels"].items())) for a in in_prometheus]
    assert len(keys) == len(set(keys)) == 5 + 4, "one alert per model and pool window"
    for alert in in_prometheus:
        if alert["labels"]["quota"] == "model":
            assert alert["labels"]["bound_by"] == "pool"
            assert "upstream sent no number for the model's own quota" \
                in alert["annotations"]["description"]


def test_model_at_full_own_quota_in_an_empty_pool_pages_once_through_its_pool(
        stack: Stack) -> None:
    (page,) = stack.wait(
        lambda: _firing_at_webhook(stack, "e2e-pool-empty", "LLMQuotaExhausted")[:1],
        "LLMQuotaExhausted for e2e-pool-empty at the webhook")
    assert page["labels"]["quota"] == "pool"
    assert (page["labels"]["pool"], page["labels"]["window"]) == ("claude-gpt", "5h")
    assert "is blocked: " in page["annotations"]["description"]
    assert "claude-sonnet-4-5" in page["annotations"]["description"]
    # Prometheus reports the model exhausted, bound by the pool ...
    model_alerts = [a for a in _alerts_for(stack.prometheus_alerts(), "e2e-pool-empty",
                                           "LLMQuotaExhausted")
                    if a["labels"]["quota"] == "model" and a["state"] == "firing"]
    by_model = {a["labels"]["model"]: a for a in model_alerts}
    sonnet = by_model["claude-sonnet-4-5"]
    assert sonnet["labels"]["bound_by"] == "pool"
    assert "The 5h window of the claude-gpt pool binds (0% left); the model's own quota " \
           "has 100% left." in sonnet["annotations"]["description"]
    # ... and Alertmanager holds those model alerts back behind the pool's alert.
    def suppressed() -> list[dict[str, Any]] | None:
        found = requests.get(stack.alertmanager_url + "/api/v2/alerts", timeout=10, params={
            "filter": ['account="e2e-pool-empty"', 'quota="model"']}).json()
        states = {a["status"]["state"] for a in found}
        return found if found and states == {"suppressed"} else None

    held = stack.wait(suppressed, "the pool-bound model alerts suppressed in Alertmanager")
    assert {a["labels"]["model"] for a in held} == set(by_model)
    assert not [a for a in stack.webhook.alerts() if a["labels"].get("account") ==
                "e2e-pool-empty" and a["labels"].get("quota") == "model"]


def test_omitted_fraction_with_a_healthy_pool_pages_nothing(stack: Stack) -> None:
    """No number from upstream is unknown, not 0: the exporter resolves it from
    evidence (here claude-sonnet-4-5, same pool and same reset, is below the pool's
    windows: it stands in for the model's own quota, bound_by="own"), and nothing fires."""
    model = 'account="e2e-omitted",model="claude-opus-4-5-thinking"'
    stack.wait(lambda: stack.query(f"llm_quota_remaining_fraction_omitted{{{model}}} == 1"),
               "the omitted mark for e2e-omitted")
    assert not stack.query(f"llm_quota_remaining_fraction{{{model}}}")
    (recorded,) = stack.wait(
        lambda: stack.query(f"llm_quota:effective_remaining_fraction{{{model}}}"),
        "the effective fraction of e2e-omitted, resolved from evidence")
    (sibling,) = stack.query('min(llm_quota_remaining_fraction{account="e2e-omitted",'
                             'model="claude-sonnet-4-5"})')
    assert recorded["metric"]["bound_by"] == "own"
    assert float(recorded["value"][1]) == pytest.approx(float(sibling["value"][1]))
    assert float(recorded["value"][1]) > 0.2
    # The exhausted account's page proves the rules have had many evaluations.
    stack.wait(lambda: _firing_at_webhook(stack, "e2e-exhaust", "LLMQuotaExhausted"),
               "the exhausted account's page (proof that rules ran)")
    assert not [a for a in stack.prometheus_alerts() if a["labels"].get("account") == "e2e-omitted"]
    assert not [a for a in stack.webhook.alerts() if a["labels"].get("account") == "e2e-omitted"]


def test_exhausted_quota_is_neither_low_nor_predicted(stack: Stack) -> None:
    stack.wait(lambda: _alerts_for(stack.prometheus_alerts(), "e2e-exhaust", "LLMQuotaExhausted"),
               "LLMQuotaExhausted in Prometheus")
    alerts = stack.prometheus_alerts()
    assert not _alerts_for(alerts, "e2e-exhaust", "LLMQuotaLow")
    assert not _alerts_for(alerts, "e2e-exhaust", "LLMQuotaExhaustionPredicted")


def test_failing_accounts_are_reported_down_with_their_sources(stack: Stack) -> None:
    def down(account: str) -> list[dict[str, Any]]:
        return _firing_at_webhook(stack, account, "LLMQuotaAccountDown")[:1]

    (alert,) = stack.wait(lambda: down("e2e-broken"), "LLMQuotaAccountDown for e2e-broken")
    assert alert["labels"]["severity"] == "warning"
    assert alert["_path"] == "/llm-quota/warning"
    description = alert["annotations"]["description"]
    assert "(failing sources: models, summary)" in description
    assert "upstream" in description and " UTC." in description  # reason, last success
    (partial,) = stack.wait(lambda: down("e2e-summary-down"),
                            "LLMQuotaAccountDown for e2e-summary-down")
    assert "(failing sources: summary)" in partial["annotations"]["description"]
    # The models still answer: their own quotas stay, their effective ones are unknown.
    assert stack.query('llm_quota_remaining_fraction{account="e2e-summary-down"}')
    assert not stack.query('llm_quota_effective_remaining_fraction{account="e2e-summary-down"}')


def test_healthy_accounts_raise_nothing(stack: Stack) -> None:
    # Once the exhausted account has paged, every rule has had many evaluations.
    stack.wait(lambda: _alerts_for(stack.webhook.alerts(), "e2e-exhaust", "LLMQuotaExhausted"),
               "the exhausted account's page (proof that rules ran)")
    stack.wait(lambda: stack.query('llm_quota_pools_available{account="e2e-free"} == 0'),
               "e2e-free without a pool licence")
    quiet = {"LLMQuotaExporterDown", "LLMQuotaThresholdsMissing"}
    in_prometheus = [a for a in stack.prometheus_alerts()
                     if a["labels"].get("account") in QUIET_ACCOUNTS
                     or a["labels"]["alertname"] in quiet]
    assert in_prometheus == []
    at_webhook = [a for a in stack.webhook.alerts()
                  if a["labels"].get("account") in QUIET_ACCOUNTS
                  or a["labels"]["alertname"] in quiet]
    assert at_webhook == []


def test_a_short_outage_does_not_resolve_a_firing_quota_alert(stack: Stack) -> None:
    """A fault makes e2e-exhaust fail for a few scrapes: its quota series go, the
    alerts keep firing (keep_firing_for), and no "resolved" reaches the webhook."""
    stack.wait(lambda: _firing_at_webhook(stack, "e2e-exhaust", "LLMQuotaExhausted"),
               "e2e-exhaust's page")
    before = {_key(a) for a in _alerts_for(stack.prometheus_alerts(), "e2e-exhaust",
                                           "LLMQuotaExhausted") if a["state"] == "firing"}
    assert before
    stack.sim.set_fault("e2e-exhaust", "500")
    try:
        stack.wait(lambda: stack.query('max(llm_quota_up{account="e2e-exhaust"}) == 0'),
                   "the outage in Prometheus")
        gap_start, gap_start_wall = time.monotonic(), time.time()
        stack.wait(
            lambda: not stack.query('llm_quota_pool_remaining_fraction{account="e2e-exhaust"}'),
            "e2e-exhaust's quota series gone")
        # Several evaluations without data: without keep_firing_for the first would
        # resolve the alert.
        stack.wait(_evaluations_seen(stack, "LLMQuotaExhausted", 3),
                   "three evaluations of LLMQuotaExhausted without e2e-exhaust's data")
    finally:
        stack.sim.clear_faults("e2e-exhaust")
    stack.wait(
        lambda: stack.query('max(llm_quota_pool_remaining_fraction{account="e2e-exhaust"}) == 0'),
        "e2e-exhaust's data back")
    gap = time.monotonic() - gap_start
    stack.wait(_evaluations_seen(stack, "LLMQuotaExhausted", 1),
               "an evaluation of LLMQuotaExhausted with e2e-exhaust's data back")
    # Prometheus never resolved the alerts that fired before the gap: each is still
    # firing, active since before the gap (a resolved one would have come back pending,
    # active from after it). So no "resolved" can have been sent to Alertmanager, and
    # none reached the webhook. (The first scrape after the fault clears may carry one
    # source and not the other, as the two calls are in flight together when it
    # clears: an alert of other labels, bound_by="own" say, may then start pending.
    # It is not one of these, and it is never notified while pending.)
    in_prometheus = {_key(a): a for a in _alerts_for(
        stack.prometheus_alerts(), "e2e-exhaust", "LLMQuotaExhausted")}
    kept = [in_prometheus.get(key) for key in before]
    assert all(a is not None and a["state"] == "firing" for a in kept), (
        "never pending again", before, in_prometheus)
    assert all(a is not None and parse_rfc3339(a["activeAt"]) < gap_start_wall
               for a in kept), kept
    at_webhook = _alerts_for(stack.webhook.alerts(), "e2e-exhaust", "LLMQuotaExhausted")
    resolved = [a for a in at_webhook if a["status"] == "resolved"]
    # One line for docs/reliability.md (pytest -s shows it).
    print(f"\nGAP e2e-exhaust down and without quota series for {gap:.1f} s at a 1 s "
          f"interval; {len(at_webhook)} firing alerts notified, {len(resolved)} resolved")
    assert resolved == []


def _evaluations_seen(stack: Stack, alertname: str, count: int) -> Callable[[], bool]:
    """A check that holds once every rule group holding the alert has been seen
    finishing `count` evaluations after the check was first made."""
    seen: dict[str, set[str]] = {}

    def check() -> bool:
        for group in stack.api("/api/v1/rules", type="alert")["groups"]:
            if any(rule["name"] == alertname for rule in group["rules"]):
                seen.setdefault(group["name"], set()).add(group["lastEvaluation"])
        # The first evaluation seen may have finished before the check was made.
        return bool(seen) and min(len(times) for times in seen.values()) > count

    return check


def test_every_rule_evaluates_without_error(stack: Stack) -> None:
    stack.wait(lambda: stack.query("llm_quota:burn_rate1h"), "recorded burn rates")
    groups = stack.api("/api/v1/rules")["groups"]
    loaded = [r for g in groups for r in g["rules"]]
    assert len(loaded) == len(rules()) >= 20
    broken = [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"]
    assert broken == []


def test_alertmanager_inhibits_per_quota_and_pool_bound_models(stack: Stack) -> None:
    """Synthetic alerts straight into Alertmanager: only what the rules say is held back."""
    base = {"provider": "antigravity", "account": "inhibit-check", "job": "inhibit-check"}
    posted = {
        "exhausted-model": {"alertname": "LLMQuotaExhausted", "severity": "critical",
                            "quota": "model", "model": "m1", "bound_by": "own"},
        "low-same-model": {"alertname": "LLMQuotaLow", "severity": "warning",
                           "quota": "model", "model": "m1", "bound_by": "own"},
        "predicted-same-model": {"alertname": "LLMQuotaExhaustionPredicted",
                                 "severity": "warning", "quota": "model", "model": "m1"},
        "low-other-model": {"alertname": "LLMQuotaLow", "severity": "warning",
                            "quota": "model", "model": "m2", "bound_by": "own"},
        "exhausted-pool": {"alertname": "LLMQuotaExhausted", "severity": "critical",
                           "quota": "pool", "pool": "gemini", "window": "5h"},
        "exhausted-model-bound-by-pool": {"alertname": "LLMQuotaExhausted",
                                          "severity": "critical", "quota": "model",
                                          "model": "m3", "bound_by": "pool"},
        "low-model-bound-by-pool": {"alertname": "LLMQuotaLow", "severity": "warning",
                                    "quota": "model", "model": "m4", "bound_by": "pool"},
        "predicted-model-bound-by-pool": {"alertname": "LLMQuotaExhaustionPredicted",
                                          "severity": "warning", "quota": "model",
                                          "model": "m5", "bound_by": "pool"},
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
        # Held behind a pool alert of the same name and account ...
        "exhausted-model-bound-by-pool": "suppressed",
        "low-model-bound-by-pool": "suppressed",
        # ... never behind one of another name (no pool prediction here).
        "predicted-model-bound-by-pool": "active",
        "low-same-pool-other-window": "active",
        "exporter-down": "active",
        "stale": "suppressed",
    }


def test_two_replicas_count_each_account_once(stack: Stack) -> None:
    stack.wait(lambda: len(stack.query("llm_quota_up")) == 2 * len(ACCOUNTS),
               "every account from both replicas")
    (reported,) = [q for q in queries()
                   if q.key == "llm-quota-overview: Accounts reported [A]"]
    (sample,) = _run(stack, reported, _values(stack)["defaults"])
    assert float(sample["value"][1]) == len(ACCOUNTS)


def _values(stack: Stack) -> dict[str, dict[str, str]]:
    """Variable values per dashboard: Grafana's defaults (All), and one concrete choice."""
    model = stack.query('llm_quota_remaining_fraction{account="e2e-drain"}')[0]["metric"]["model"]
    every = {"job": ".*", "instance": ".*", "provider": ".*", "account": ".*", "model": ".*",
             "datasource": "llm-quota-prometheus"}
    return {
        "defaults": every,
        # The account detail dashboard has no "All": it shows one account.
        **{f"account-detail {a}": {**every, "account": a} for a in DETAIL_ACCOUNTS},
        "concrete": {"job": "llm-quota", "instance": f"127.0.0.1:{stack.exporters[0].port}",
                     "provider": "antigravity", "account": "e2e-healthy", "model": model,
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
    assert len(all_queries) >= 70
    stack.wait(lambda: stack.query('llm_quota:seconds_until_exhaustion{account="e2e-drain"}'),
               "a predicted exhaustion for the draining account")
    stack.wait(lambda: stack.query('ALERTS{alertstate="firing"}'), "firing alerts")
    values = _values(stack)

    def empty_ones() -> list[str]:
        empty = []
        for q in all_queries:
            choices = ([values[f"account-detail {a}"] for a in DETAIL_ACCOUNTS]
                       if q.dashboard == "llm-quota-account" else [values["defaults"]])
            if not any(_has_data(q, _run(stack, q, chosen)) for chosen in choices):
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
