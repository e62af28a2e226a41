"""The dashboards and the rules against the metric declarations and the runbook: no broker."""

from __future__ import annotations

import re

import pytest

from tests.observability.names import BUILT_IN, declared_metric_names
from tests.observability.queries import (
    RUNBOOK,
    PanelQuery,
    RuleQuery,
    dashboards,
    metric_names,
    panel_queries,
    rule_queries,
    variable_queries,
)

RECORDED = {r.name for r in rule_queries() if not r.is_alert}
ALERTS = [r for r in rule_queries() if r.is_alert]


def test_there_is_something_to_check() -> None:
    assert set(dashboards()) == {"flagstream.json", "flagstream-overview.json"}
    assert len(panel_queries()) > 40
    assert len(ALERTS) >= 10


@pytest.mark.parametrize("query", panel_queries(), ids=str)
def test_panel_queries_use_only_declared_metrics(query: PanelQuery) -> None:
    unknown = metric_names(query.expr) - declared_metric_names() - RECORDED - BUILT_IN
    assert not unknown, f"{query}: {sorted(unknown)} not declared in streams/metrics.py"


@pytest.mark.parametrize("rule", rule_queries(), ids=lambda r: r.name)
def test_rules_use_only_declared_metrics(rule: RuleQuery) -> None:
    unknown = metric_names(rule.expr) - declared_metric_names() - RECORDED - BUILT_IN
    assert not unknown, f"{rule}: {sorted(unknown)} not declared in streams/metrics.py"


def test_variables_select_declared_metrics() -> None:
    for board, name, selector, _label in variable_queries():
        assert selector, f"{board}: variable {name} lists every series"
        assert metric_names(selector) <= declared_metric_names() | BUILT_IN, (board, name)


def test_every_panel_says_what_healthy_looks_like() -> None:
    for name, board in dashboards().items():
        for panel in board["panels"]:
            if panel["type"] != "row":
                assert len(panel.get("description", "")) > 20, f"{name}: {panel['title']}"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda r: r.name)
def test_alert_has_severity_summary_and_a_runbook_section(alert: RuleQuery) -> None:
    rule = alert.rule
    assert rule["labels"]["severity"] in {"critical", "warning"}
    assert rule["annotations"]["summary"]
    assert rule["annotations"]["description"]
    anchor = rule["annotations"]["runbook"]
    assert anchor == f"docs/runbook.md#{rule['alert'].lower()}"
    headings = re.findall(r"^## (\S+)$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    assert rule["alert"] in headings, f"docs/runbook.md has no section '## {rule['alert']}'"


def test_metric_name_extraction_finds_names_and_skips_labels_and_functions() -> None:
    expr = (
        'sum by (label) (rate(flagstream_label_flags_total{instance=~"$instance"}[5m]))'
        " / ignoring (label) group_left () (flagstream:decisions:rate5m > 0)"
        ' and on () absent(up{job="x"}) or vector(0)'
    )
    assert metric_names(expr) == {
        "flagstream_label_flags_total",
        "flagstream:decisions:rate5m",
        "up",
    }
