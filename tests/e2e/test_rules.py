"""The monitoring bundle, checked offline: Prometheus rules and config, Alertmanager
config and routes, Grafana provisioning and dashboards, docker-compose and Dockerfile.

The rule logic itself is specified by the promtool unit tests in prometheus/tests/;
this module runs them and checks that they cover every rule.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.promql_util import (
    ALERTMANAGER_CONFIG,
    JOB_NAME,
    PROMETHEUS_DIR,
    REPO,
    RULE_TESTS_DIR,
    RUNBOOK,
    RUNBOOK_BASE,
    alert_rules,
    binary,
    dashboards,
    field_configs,
    panels,
    queries,
    recording_rules,
    rule_files,
    rule_groups,
    rules,
    substitute,
    threshold_values,
    thresholds,
)

SPEC_ALERTS = {
    "LLMQuotaLow": "warning",
    "LLMQuotaExhausted": "critical",
    "LLMQuotaExhaustionPredicted": "warning",
    "LLMQuotaAccountDown": "warning",
    "LLMQuotaDataStale": "warning",
    "LLMQuotaExporterDown": "critical",
    "LLMQuotaUnknown": "info",
}
# Beyond SPEC.md's seven: the guard that pages when the thresholds group is lost.
BUNDLE_ALERTS = {**SPEC_ALERTS, "LLMQuotaThresholdsMissing": "critical"}
QUOTA_ALERTS = ("LLMQuotaLow", "LLMQuotaExhausted", "LLMQuotaExhaustionPredicted")
THRESHOLDS_FILE = "llm-quota-thresholds.yml"


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(proc.args)} exited {proc.returncode}:\n{output}"
    return output


# -- Prometheus rules ---------------------------------------------------------------


def test_rule_files_pass_promtool_check() -> None:
    output = ok(run(binary("promtool"), "check", "rules", *map(str, rule_files())))
    assert output.count("SUCCESS") == len(rule_files()) == 3


def test_promtool_unit_tests_pass() -> None:
    tests = sorted(RULE_TESTS_DIR.glob("*.yml"))
    output = ok(run(binary("promtool"), "test", "rules", *map(str, tests)))
    assert output.count("SUCCESS") == len(tests) >= 4, output


def _unit_tests() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in sorted(RULE_TESTS_DIR.glob("*.yml")):
        cases.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["tests"])
    return cases


def test_every_recording_rule_has_a_unit_test() -> None:
    tested = " ".join(
        check["expr"] for case in _unit_tests() for check in case.get("promql_expr_test", [])
    )
    missing = [
        r["record"] for r in recording_rules()
        if not re.search(re.escape(r["record"]) + r"(?![\w:])", tested)
    ]
    assert not missing, f"recording rules without a promql_expr_test: {missing}"


def test_every_alert_has_unit_tests_that_fire_and_that_stay_quiet() -> None:
    fired: dict[str, set[str]] = {}
    quiet: set[str] = set()
    for case in _unit_tests():
        for check in case.get("alert_rule_test", []):
            name = check["alertname"]
            if check.get("exp_alerts"):
                kinds = fired.setdefault(name, set())
                for alert in check["exp_alerts"]:
                    kinds.add(alert["exp_labels"].get("quota", "-"))
            else:
                quiet.add(name)
    for name in BUNDLE_ALERTS:
        assert name in fired, f"no unit test where {name} fires"
        assert name in quiet, f"no unit test where {name} must stay quiet"
    for name in QUOTA_ALERTS:
        assert fired[name] == {"model", "pool"}, f"{name} is not tested for models and pools"


def test_alerts_are_the_spec_alerts_with_severity_and_annotations() -> None:
    seen = set()
    for rule in alert_rules():
        name = rule["alert"]
        assert name in BUNDLE_ALERTS, f"alert {name} is neither in SPEC.md nor the guard"
        assert rule["labels"]["severity"] == BUNDLE_ALERTS[name], name
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, name
        assert annotations["runbook_url"] == f"{RUNBOOK_BASE}#{name.lower()}"
        seen.add(name)
    assert seen == set(BUNDLE_ALERTS)


@pytest.mark.parametrize("name", QUOTA_ALERTS)
def test_quota_alerts_cover_models_and_pools_with_percent_and_reset(name: str) -> None:
    found = {r["labels"]["quota"]: r for r in alert_rules() if r["alert"] == name}
    assert set(found) == {"model", "pool"}
    for kind, rule in found.items():
        description = rule["annotations"]["description"]
        assert "humanizePercentage" in description, (name, kind)
        assert "humanizeDuration" in description, (name, kind)
        assert "humanizeTimestamp" in description, (name, kind)
        assert ("llm_quota_pool" in rule["expr"]) == (kind == "pool"), (name, rule["expr"])
        if kind == "model":
            # The effective fraction, so a full model in an empty pool counts as empty.
            assert "llm_quota:effective_remaining_fraction" in rule["expr"], name


def _rules_copy(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """The rule files and their unit tests copied under tmp_path, each rule file's
    document passed through `edit` first; returns the copied tests directory."""
    (tmp_path / "rules").mkdir()
    for path in rule_files():
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(doc)
        (tmp_path / "rules" / path.name).write_text(yaml.safe_dump(doc), encoding="utf-8")
    shutil.copytree(RULE_TESTS_DIR, tmp_path / "tests")
    return tmp_path / "tests"


def test_quota_alerts_keep_firing_as_long_as_an_account_may_be_down_unnoticed() -> None:
    down_for = {r["alert"]: r for r in alert_rules()}["LLMQuotaAccountDown"]["for"]
    for rule in alert_rules():
        if rule["alert"] in QUOTA_ALERTS:
            assert rule.get("keep_firing_for") == down_for, rule["alert"]


def test_without_keep_firing_for_the_gap_test_pages_again(tmp_path: Path) -> None:
    """The gap test can fail: without keep_firing_for the alert goes back to pending."""
    def strip(doc: dict[str, Any]) -> None:
        for group in doc["groups"]:
            for rule in group["rules"]:
                rule.pop("keep_firing_for", None)

    tests = _rules_copy(tmp_path, strip)
    proc = run(binary("promtool"), "test", "rules", str(tests / "alerts_test.yml"))
    assert proc.returncode != 0
    assert "survives a gap in the data" in proc.stdout + proc.stderr
    assert 'alertstate="pending"' in proc.stdout + proc.stderr


def test_thresholds_guard_covers_every_threshold_a_rule_reads() -> None:
    (guard,) = [r for r in alert_rules() if r["alert"] == "LLMQuotaThresholdsMissing"]
    read = set()
    for rule in rules():
        if rule is not guard:
            read |= set(re.findall(r"llm_quota:threshold_\w+:\w+", rule["expr"]))
    assert read == set(thresholds())
    guarded = set(re.findall(r"absent\((llm_quota:threshold_\w+:\w+)\)", guard["expr"]))
    assert guarded == read


def test_thresholds_missing_test_loads_every_rule_file_but_the_thresholds() -> None:
    doc = yaml.safe_load((RULE_TESTS_DIR / "thresholds_missing_test.yml").read_text())
    loaded = {Path(f).name for f in doc["rule_files"]}
    assert loaded == {p.name for p in rule_files()} - {THRESHOLDS_FILE}


def test_deleting_the_thresholds_group_is_not_silent(tmp_path: Path) -> None:
    """The thresholds group dropped from its file (a PrometheusRule edited by hand):
    the guard fires in a real rule evaluation, the same as a file left out."""
    def drop(doc: dict[str, Any]) -> None:
        doc["groups"] = [g for g in doc["groups"] if g["name"] != "llm-quota-thresholds"]

    tests = _rules_copy(tmp_path, drop)
    missing = yaml.safe_load((tests / "thresholds_missing_test.yml").read_text())
    missing["rule_files"] = ["../rules/*.yml"]
    (tests / "thresholds_missing_test.yml").write_text(yaml.safe_dump(missing))
    ok(run(binary("promtool"), "test", "rules", str(tests / "thresholds_missing_test.yml")))
    # ... while with the group in place the same test fails: the guard is quiet.
    missing["rule_files"] = [str(p) for p in rule_files()]
    (tests / "thresholds_missing_test.yml").write_text(yaml.safe_dump(missing))
    proc = run(binary("promtool"), "test", "rules", str(tests / "thresholds_missing_test.yml"))
    assert proc.returncode != 0 and "LLMQuotaThresholdsMissing" in proc.stdout + proc.stderr


def test_only_exporter_down_names_the_scrape_job() -> None:
    """The job name lives in one rule; the scrape configs and docs agree on it."""
    naming = [r.get("alert", r.get("record")) for r in rules() if "job=" in r["expr"]]
    assert naming == ["LLMQuotaExporterDown"]
    (down,) = [r for r in alert_rules() if r["alert"] == "LLMQuotaExporterDown"]
    assert set(re.findall(r'job="([^"]+)"', down["expr"])) == {JOB_NAME}
    for config in (PROMETHEUS_DIR / "prometheus.yml", PROMETHEUS_DIR / "sharded/prometheus.yml"):
        jobs = yaml.safe_load(config.read_text(encoding="utf-8"))["scrape_configs"]
        assert [j["job_name"] for j in jobs] == [JOB_NAME], config
    for doc in (RUNBOOK, REPO / "docs" / "monitoring.md"):
        assert f'job="{JOB_NAME}"' in doc.read_text(encoding="utf-8"), doc


def test_alert_expressions_take_thresholds_from_the_threshold_rules() -> None:
    for rule in alert_rules():
        # The only literals allowed are 0 (up == 0, "> 0"): thresholds live in one file.
        literals = set(re.findall(r"(?<![\w.:\[])(\d+(?:\.\d+)?)(?![\w\]])", rule["expr"]))
        assert literals <= {"0"}, f"{rule['alert']}: numeric literal in expr: {rule['expr']}"
    values = thresholds()
    assert 0 < values["llm_quota:threshold_exhausted:fraction"] \
        < values["llm_quota:threshold_low:fraction"] < 1
    assert values["llm_quota:threshold_stale:seconds"] > 0
    assert values["llm_quota:threshold_prediction_horizon:seconds"] > 0
    group_of = {r["record"]: g["name"] for g in rule_groups() for r in g["rules"] if "record" in r}
    assert {group_of[name] for name in values} == {"llm-quota-thresholds"}


def test_runbook_has_a_section_for_every_alert() -> None:
    headings = re.findall(r"^## (\S+)\s*$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(headings) == sorted(BUNDLE_ALERTS)
    text = RUNBOOK.read_text(encoding="utf-8")
    for name in BUNDLE_ALERTS:
        section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        for part in ("**Meaning:**", "**Likely causes", "**What to do:**"):
            assert part in section, f"runbook section {name} lacks {part}"


# -- Prometheus config ------------------------------------------------------------------


def test_prometheus_config_passes_promtool_and_loads_the_rules() -> None:
    output = ok(run(binary("promtool"), "check", "config", str(PROMETHEUS_DIR / "prometheus.yml")))
    assert "SUCCESS: 3 rule files found" in output


def test_prometheus_scrape_timeout_fits_the_exporter_deadline() -> None:
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == JOB_NAME]
    seconds = {"s": 1, "m": 60}
    interval = job.get("scrape_interval", config["global"]["scrape_interval"])
    timeout = job.get("scrape_timeout", config["global"]["scrape_timeout"])
    interval_s = int(interval[:-1]) * seconds[interval[-1]]
    timeout_s = int(timeout[:-1]) * seconds[timeout[-1]]
    # Default account timeout 10s, deadline = scrape timeout - 0.5s: at least 12s.
    assert 12 <= timeout_s < interval_s
    assert interval_s >= 30, "polling upstream more often than every 30s is not gentle"
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]


# -- Alertmanager -----------------------------------------------------------------------


def test_alertmanager_config_passes_amtool() -> None:
    output = ok(run(binary("amtool"), "check-config", str(ALERTMANAGER_CONFIG)))
    assert "3 receivers" in output and "4 inhibit rules" in output


def test_commented_email_and_slack_examples_are_valid(tmp_path: Path) -> None:
    """Uncommenting the examples under global and receivers gives a valid config."""
    lines, section = [], ""
    for line in ALERTMANAGER_CONFIG.read_text(encoding="utf-8").splitlines():
        top = re.match(r"^(\w+):", line)
        section = top.group(1) if top else section
        if section in ("global", "receivers"):
            line = re.sub(r"^(\s+)# ", r"\1", line)
        lines.append(line)
    path = tmp_path / "alertmanager-examples.yml"
    path.write_text("\n".join(lines), encoding="utf-8")
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    kinds = {key for r in config["receivers"] for key in r if key.endswith("_configs")}
    assert kinds == {"webhook_configs", "email_configs", "slack_configs"}
    ok(run(binary("amtool"), "check-config", str(path)))


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=LLMQuotaExhausted", "severity=critical", "provider=antigravity",
          "account=work"], "llm-quota-critical"),
        (["alertname=LLMQuotaExporterDown", "severity=critical", "job=llm-quota"],
         "llm-quota-critical"),
        (["alertname=LLMQuotaThresholdsMissing", "severity=critical",
          "threshold=llm_quota:threshold_low:fraction"], "llm-quota-critical"),
        (["alertname=LLMQuotaExhausted", "severity=critical", "quota=model",
          "bound_by=pool", "account=work"], "llm-quota-critical"),
        (["alertname=LLMQuotaLow", "severity=warning", "account=work"], "llm-quota-warning"),
        (["alertname=LLMQuotaAccountDown", "severity=warning"], "llm-quota-warning"),
        # Unknown is not exhausted: no pager, no warning channel.
        (["alertname=LLMQuotaUnknown", "severity=info", "quota=model", "provider=antigravity",
          "account=work", "model=gemini-3-pro-low"], "llm-quota-info"),
        (["alertname=SomethingElse"], "llm-quota-warning"),
    ],
)
def test_alertmanager_routes_by_severity(labels: list[str], receiver: str) -> None:
    proc = run(binary("amtool"), "config", "routes", "test",
               f"--config.file={ALERTMANAGER_CONFIG}", f"--verify.receivers={receiver}", *labels)
    assert proc.stdout.strip() == receiver, proc.stdout + proc.stderr
    ok(proc)


def test_alertmanager_groups_by_account_and_inhibits_per_quota() -> None:
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    assert config["route"]["group_by"] == ["provider", "account"]
    rules = {tuple(r["source_matchers"]): r for r in config["inhibit_rules"]}
    exhausted = rules[('alertname="LLMQuotaExhausted"',)]
    assert exhausted["target_matchers"] == ['alertname=~"LLMQuotaLow|LLMQuotaExhaustionPredicted"']
    assert set(exhausted["equal"]) == {"provider", "account", "model", "pool", "window"}
    bound = rules[('quota="pool"',)]
    assert bound["target_matchers"] == ['quota="model"', 'bound_by="pool"']
    assert bound["equal"] == ["alertname", "provider", "account"]
    down = rules[('alertname="LLMQuotaExporterDown"',)]
    assert down["target_matchers"] == ['alertname=~"LLMQuotaAccountDown|LLMQuotaDataStale"']
    account_down = rules[('alertname="LLMQuotaAccountDown"',)]
    assert account_down["target_matchers"] == ['alertname="LLMQuotaUnknown"']
    assert account_down["equal"] == ["provider", "account"]


def test_the_info_receiver_notifies_nobody() -> None:
    """LLMQuotaUnknown's receiver has no notifier: unknown never pages by default."""
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    (info,) = [r for r in config["receivers"] if r["name"] == "llm-quota-info"]
    assert not [key for key in info if key.endswith("_configs")]


# -- Grafana ----------------------------------------------------------------------------


def test_grafana_provisioning_matches_compose_mounts() -> None:
    ds = yaml.safe_load((REPO / "grafana/provisioning/datasources/prometheus.yml").read_text())
    (source,) = ds["datasources"]
    assert source["uid"] == "llm-quota-prometheus" and source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((REPO / "grafana/provisioning/dashboards/llm-quota.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert f"./grafana/dashboards:{path}:ro" in compose["services"]["grafana"]["volumes"]


def test_dashboards_have_fixed_uids_variables_and_described_panels() -> None:
    boards = dashboards()
    assert set(boards) == {"llm-quota-overview", "llm-quota-account", "llm-quota-exporter"}
    for name, board in boards.items():
        assert board["uid"] == name
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        assert {"job", "instance", "provider", "account"} <= set(variables), name
        assert variables["instance"]["multi"] and variables["instance"]["includeAll"], name
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        titles = [p["title"] for p in panels(board)]
        assert len(titles) == len(set(titles)), f"{name}: duplicate panel titles"
        for panel in panels(board):
            if panel["type"] == "row":
                continue
            where = f"{name}: {panel['title']}"
            assert panel.get("description", "").strip(), f"{where}: no description"
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, where
            assert panel["targets"], where
    for name in ("llm-quota-overview", "llm-quota-account"):
        assert "model" in {v["name"] for v in boards[name]["templating"]["list"]}


def test_dashboard_thresholds_equal_the_alert_thresholds() -> None:
    """A Grafana step colours values at or above it, and the quota alerts fire at or
    below their thresholds: each quota step sits a hair (1e-6) above its threshold, so
    a quota exactly at 20% is coloured low, as LLMQuotaLow fires for it."""
    values = thresholds()
    quota_steps = [round(values["llm_quota:threshold_exhausted:fraction"] + 1e-6, 6),
                   round(values["llm_quota:threshold_low:fraction"] + 1e-6, 6)]
    stale_steps = [values["llm_quota:threshold_stale:seconds"]]
    checked = 0
    for name, board in dashboards().items():
        for panel in panels(board):
            for where, config in field_configs(panel):
                steps = threshold_values(config["thresholds"])
                if config["unit"] == "percentunit" and steps:
                    assert steps == quota_steps, f"{name}: {panel['title']} {where}: {steps}"
                    checked += 1
                elif config["unit"] == "s" and steps:
                    assert steps == stale_steps, f"{name}: {panel['title']} {where}: {steps}"
                    checked += 1
    assert checked >= 10


def test_dashboard_units_fractions_as_percent_and_resets_from_now() -> None:
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                expr, ref = target["expr"], target["refId"]
                units = {where: c["unit"] for where, c in field_configs(panel)}
                unit = next((u for where, u in units.items() if where.startswith("override ")
                             and re.fullmatch(where.removeprefix("override "), f"Value #{ref}")),
                            units["defaults"])
                where = f"{name}: {panel['title']} [{ref}]"
                if "reset_timestamp_seconds" in expr and "* 1000" in expr:
                    assert unit == "dateTimeFromNow", where
                # A count of quotas is a number, whatever fractions it counts.
                if re.search(r"remaining_fraction\{", expr) and not expr.startswith("count("):
                    assert unit == "percentunit", where


def test_dashboard_queries_parse_as_promql(tmp_path: Path) -> None:
    """Every panel and variable query, variables substituted, passes promtool's parser."""
    values = {"datasource": "llm-quota-prometheus", "job": "llm-quota",
              "instance": "exporter:10977", "provider": "antigravity",
              "account": "work", "model": "gemini-3-flash"}
    rules = [{"record": f"dashboard:query_{i}:check", "expr": substitute(q.expr, values)}
             for i, q in enumerate(queries())]
    assert len(rules) >= 40
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    ok(run(binary("promtool"), "check", "rules", str(path)))


def test_request_counts_read_as_42_of_300(tmp_path: Path) -> None:
    """The counts panel's query, run by promtool on Copilot-like series from two replicas:
    one row per pool window whose `requests` label reads "42 of 300"."""
    (query,) = [q for q in queries()
                if q.key == "llm-quota-overview: Request counts and unlimited pools [A]"]
    expr = substitute(query.expr, {"job": ".*", "instance": ".*", "provider": ".*",
                                   "account": ".*"})
    pool = 'provider="copilot",account="c",pool="premium-interactions",window="monthly"'
    series = [
        {"series": f'llm_quota_pool_remaining_requests{{instance="{i}",{pool}}}', "values": "42x5"}
        for i in ("a", "b")
    ] + [{"series": f'llm_quota_pool_limit_requests{{instance="{i}",{pool}}}', "values": "300x5"}
         for i in ("a", "b")]
    test = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "promql_expr_test": [{"expr": expr, "eval_time": "2m", "exp_samples": [{
            "labels": f'{{{pool},left="42",limit="300",requests="42 of 300"}}', "value": 1}]}]}]}
    path = tmp_path / "counts_test.yml"
    path.write_text(yaml.safe_dump(test), encoding="utf-8")
    ok(run(binary("promtool"), "test", "rules", str(path)))


# -- Containers -------------------------------------------------------------------------


def test_docker_compose_config_is_valid() -> None:
    ok(run(binary("docker-compose"), "-f", str(REPO / "docker-compose.yml"), "config", "-q"))


def test_compose_pins_images_and_checks_health() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"exporter", "prometheus", "alertmanager", "grafana"}
    assert services["exporter"]["build"] == "."
    assert services["exporter"]["command"] == ["demo", "--web.listen-address", "0.0.0.0:10977"]
    for name, service in services.items():
        assert "healthcheck" in service, name
        if name != "exporter":
            image = service["image"]
            assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+\.\d+", image), f"{name}: unpinned {image}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
    assert set(compose["volumes"]) == {"prometheus-data", "alertmanager-data", "grafana-data"}


def test_compose_real_accounts_variant_is_valid(tmp_path: Path) -> None:
    """The commented switch to real accounts, applied, is a valid compose file."""
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    documented = re.search(r"^\s+#\s+command: (\[.*\])$", text, re.MULTILINE)
    assert documented, "docker-compose.yml no longer documents the real-accounts command"
    command = json.loads(documented.group(1))
    assert command[:2] == ["--config.file", "/etc/llm-quota/config.yml"]
    volumes = re.findall(r"^\s+#\s+- (\S+:\S+:ro)$", text, re.MULTILINE)
    assert any(v.split(":")[1] == command[1] for v in volumes), volumes
    assert documented.group(1) in (REPO / "docs" / "monitoring.md").read_text(encoding="utf-8")
    compose = yaml.safe_load(text)
    compose["services"]["exporter"].update(command=command, volumes=volumes, build=str(REPO))
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(compose), encoding="utf-8")
    ok(run(binary("docker-compose"), "-f", str(path), "config", "-q"))


def test_dockerfile_runs_the_demo_as_non_root_with_a_healthcheck() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11\.\d+-slim-bookworm$", text, re.MULTILINE)
    assert "pip install ." in text
    user = re.search(r"^USER (\S+)$", text, re.MULTILINE)
    assert user and user.group(1).split(":")[0] not in ("root", "0")
    assert re.search(r"^EXPOSE 10977$", text, re.MULTILINE)
    assert re.search(r"^HEALTHCHECK .*\n.*urllib.*/-/healthy", text, re.MULTILINE)
    assert 'ENTRYPOINT ["llm-quota-exporter"]' in text
    assert 'CMD ["demo", "--web.listen-address", "0.0.0.0:10977"]' in text
    ignore = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert ignore[0] == "*" or "*" in ignore
    for needed in ("!pyproject.toml", "!README.md", "!exporter/"):
        assert needed in ignore, f".dockerignore drops {needed[1:]} from the build context"
