"""Reading the monitoring bundle: rule files, thresholds, dashboards and their queries.

Shared by tests/e2e/test_rules.py (offline lint) and tests/e2e/test_monitoring_bundle.py
(queries against a real Prometheus). Nothing here starts a process.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
PROMETHEUS_DIR = REPO / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
RULE_TESTS_DIR = PROMETHEUS_DIR / "tests"
ALERTMANAGER_CONFIG = REPO / "alertmanager" / "alertmanager.yml"
DASHBOARDS_DIR = REPO / "grafana" / "dashboards"
RUNBOOK = REPO / "docs" / "runbook.md"
# Where every runbook_url starts; the repository owner is a placeholder.
RUNBOOK_BASE = "https://github.com/OWNER/llm-quota-exporter/blob/main/docs/runbook.md"
JOB_NAME = "llm-quota"

_VECTOR_CONSTANT = re.compile(r"^\s*vector\(\s*([0-9.eE+-]+)\s*\)\s*$")


def binary(*names: str) -> str:
    """Path of the first of `names` on PATH; a missing binary fails the test.

    `scripts/test` installs them; a skip here would hide a missing install step.
    """
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        f"none of {', '.join(names)} is installed (Debian packages prometheus, "
        "prometheus-alertmanager, docker-compose; scripts/install-test-deps installs them)"
    )


def rule_files() -> list[Path]:
    return sorted(RULES_DIR.glob("*.yml"))


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for path in rule_files():
        groups.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
    return groups


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def alert_rules() -> list[dict[str, Any]]:
    return [r for r in rules() if "alert" in r]


def recording_rules() -> list[dict[str, Any]]:
    return [r for r in rules() if "record" in r]


def thresholds() -> dict[str, float]:
    """Recorded constants `llm_quota:threshold_*` -> value, as the rules define them."""
    out: dict[str, float] = {}
    for rule in recording_rules():
        if rule["record"].startswith("llm_quota:threshold_"):
            match = _VECTOR_CONSTANT.match(rule["expr"])
            assert match, f"threshold {rule['record']} is not a vector(<number>): {rule['expr']}"
            out[rule["record"]] = float(match.group(1))
    return out


def shorten_for(groups_doc: dict[str, Any], longest: str,
                keep_firing: str | None = None) -> dict[str, Any]:
    """A copy of a rule file document with every `for:` set to `longest` and every
    `keep_firing_for:` to `keep_firing` (e2e speed)."""
    doc: dict[str, Any] = json.loads(json.dumps(groups_doc))
    for group in doc["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = longest
            if "keep_firing_for" in rule and keep_firing is not None:
                rule["keep_firing_for"] = keep_firing
    return doc


# -- dashboards ------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """One PromQL query a dashboard runs: a panel target or a template variable."""

    dashboard: str  # file stem
    where: str  # panel title and refId, or "variable <name>"
    expr: str  # as written in the dashboard, Grafana variables and all
    label: str | None = None  # for label_values(): the label whose values the variable lists

    @property
    def key(self) -> str:
        return f"{self.dashboard}: {self.where}"


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those folded inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


_LABEL_VALUES = re.compile(
    r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.DOTALL
)
_QUERY_RESULT = re.compile(r"^\s*query_result\((.+)\)\s*$", re.DOTALL)


def variable_query(dashboard: str, variable: Mapping[str, Any]) -> Query:
    """A query variable's query as PromQL: label_values(sel, l) -> count by (l) (sel)."""
    raw = variable.get("query")
    text = raw.get("query", "") if isinstance(raw, dict) else str(raw or "")
    where = f"variable {variable['name']}"
    match = _LABEL_VALUES.match(text)
    if match:
        selector = match.group(1) or f'{{{match.group(2)}!=""}}'
        return Query(dashboard, where, f"count by ({match.group(2)}) ({selector})",
                     match.group(2))
    match = _QUERY_RESULT.match(text)
    if match:
        return Query(dashboard, where, match.group(1))
    raise AssertionError(f"{dashboard}: {where}: unsupported variable query {text!r}")


def queries() -> list[Query]:
    """Every panel target and query variable of every dashboard."""
    out: list[Query] = []
    for name, dashboard in dashboards().items():
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                out.append(variable_query(name, variable))
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    where = f"{panel.get('title', '?')} [{target.get('refId', '?')}]"
                    out.append(Query(name, where, target["expr"]))
    return out


_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
    "__interval_ms": "15000",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)(?::\w+)?\]\]|\$(\w+)")


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Grafana variable references ($x, ${x}, ${x:fmt}, [[x]]) replaced by values.

    Built-ins ($__rate_interval, $__range, ...) have fixed defaults; `values` wins.
    An unknown variable is an error, so a typo in a dashboard cannot pass unnoticed.
    """
    merged = {**_BUILTINS, **values}

    def one(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in merged:
            raise KeyError(f"unknown Grafana variable ${name} in {expr!r}")
        return merged[name]

    return _VARIABLE.sub(one, expr)


def field_configs(panel: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, {"unit": ..., "thresholds": ...}) for the defaults and every override."""
    config = panel.get("fieldConfig", {})
    defaults = config.get("defaults", {})
    yield "defaults", {"unit": defaults.get("unit"), "thresholds": defaults.get("thresholds")}
    for override in config.get("overrides", []):
        props = {p["id"]: p.get("value") for p in override.get("properties", [])}
        yield (f"override {override['matcher'].get('options')}",
               {"unit": props.get("unit", defaults.get("unit")),
                "thresholds": props.get("thresholds")})


def threshold_values(config: Mapping[str, Any] | None) -> list[float]:
    """The step values of a thresholds config, without the base step (value null)."""
    if not config:
        return []
    return [step["value"] for step in config.get("steps", []) if step.get("value") is not None]
