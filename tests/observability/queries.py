"""What the dashboards and the rules ask Prometheus: their queries and the metric names in them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = REPO / "grafana" / "dashboards"
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
RUNBOOK = REPO / "docs" / "runbook.md"

# what Grafana substitutes for the template variables when "All" is selected
ALL_VALUE = ".*"
_LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$")
PROMQL_WORDS = {
    "sum", "by", "without", "rate", "deriv", "max", "min", "avg", "count", "time", "vector",
    "histogram_quantile", "ignoring", "group_left", "group_right", "on", "abs", "clamp_min",
    "avg_over_time", "stddev_over_time", "present_over_time", "changes", "absent", "or", "and",
    "unless", "offset", "le", "scalar", "bool",
}  # fmt: skip


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    ref: str
    expr: str
    instant: bool

    def __str__(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"


@dataclass(frozen=True)
class RuleQuery:
    group: str
    name: str  # alert or record name
    expr: str
    rule: dict[str, Any]

    @property
    def is_alert(self) -> bool:
        return "alert" in self.rule


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        p.name: json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(DASHBOARD_DIR.glob("*.json"))
    }


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def panel_queries() -> list[PanelQuery]:
    return [
        PanelQuery(name, panel["title"], t["refId"], t["expr"], bool(t.get("instant")))
        for name, board in dashboards().items()
        for panel in _panels(board["panels"])
        for t in panel.get("targets", [])
    ]


def variable_queries() -> list[tuple[str, str, str | None, str]]:
    """(dashboard, variable, series selector or None, label) of each label_values variable."""
    found = []
    for name, board in dashboards().items():
        for var in board["templating"]["list"]:
            if var["type"] != "query":
                continue
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            match = _LABEL_VALUES.match(query)
            if not match:
                raise AssertionError(f"{name}: variable {var['name']}: unsupported query {query}")
            found.append((name, var["name"], match.group(1), match.group(2)))
    return found


def substitute(expr: str, rate_interval: str) -> str:
    """The query as Grafana sends it with every variable on "All"."""
    expr = expr.replace("$__rate_interval", rate_interval)
    return re.sub(r"\$\{?(\w+)\}?", ALL_VALUE, expr)


def rule_queries() -> list[RuleQuery]:
    return [
        RuleQuery(group["name"], rule.get("alert") or rule["record"], rule["expr"], rule)
        for path in sorted(RULES_DIR.glob("*.yml"))
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    ]


def metric_names(expr: str) -> set[str]:
    """Metric and recording-rule names an expression selects."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values out of the way
    stripped = re.sub(r"\{[^}]*\}", "{}", stripped)  # label matchers
    stripped = re.sub(r"\[[^\]]*\]", "[]", stripped)  # ranges
    stripped = re.sub(r"(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    names = set(re.findall(r"(?<![\w:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]*\s*\()", stripped))
    return {n for n in names if n not in PROMQL_WORDS and not re.fullmatch(r"[0-9.e]+", n)}
