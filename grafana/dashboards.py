"""The single source of flagstream's Grafana dashboards.

``python grafana/dashboards.py`` writes ``grafana/dashboards/*.json``; ``--check`` fails when
the committed JSON differs from what this file generates (CI runs it). Edit this file, never
the JSON. Every query uses only metrics declared in ``streams/metrics.py`` plus ``up`` and
``ALERTS``; ``tests/observability`` runs each one against a real Prometheus.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
WORKER_JOB = "flagstream-worker"
LAG_JOB = "flagstream-lag-exporter"
DS = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"

# selectors shared by the queries; the template variables narrow them
W = 'instance=~"$instance"'  # worker series
WT = 'instance=~"$instance", topic=~"$topic"'  # worker series with a topic label
G = 'group=~"$group", topic=~"$topic"'  # lag exporter series

Panel = dict[str, Any]


def target(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": DS, "expr": expr, "refId": ref, "legendFormat": legend}
    if instant:
        t |= {"instant": True, "range": False, "format": "table"}
    return t


def _targets(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [target(e, lg, chr(ord("A") + i)) for i, (e, lg) in enumerate(pairs)]


def timeseries(
    title: str,
    description: str,
    targets: list[dict[str, Any]],
    unit: str = "short",
    *,
    stack: bool = False,
    max_value: float | None = None,
) -> Panel:
    defaults: dict[str, Any] = {
        "unit": unit,
        "custom": {"fillOpacity": 10, "lineWidth": 1, "showPoints": "never"},
    }
    if stack:
        defaults["custom"] |= {"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 40}
    if max_value is not None:
        defaults |= {"min": 0, "max": max_value}
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "calcs": ["lastNotNull", "max"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    }


def stat(
    title: str,
    description: str,
    expr: str,
    unit: str = "short",
    thresholds: list[tuple[float | None, str]] | None = None,
    legend: str = "",
) -> Panel:
    steps = [{"value": v, "color": c} for v, c in (thresholds or [(None, "green")])]
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, legend)],
        "fieldConfig": {
            "defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": steps}},
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "graphMode": "area",
            "textMode": "auto",
        },
    }


def table(title: str, description: str, expr: str) -> Panel:
    return {
        "type": "table",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [target(expr, instant=True)],
        "fieldConfig": {"defaults": {}, "overrides": []},
        "options": {"showHeader": True},
        "transformations": [
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ],
    }


def heatmap(title: str, description: str, expr: str) -> Panel:
    t = target(expr, "{{le}}")
    t["format"] = "heatmap"
    return {
        "type": "heatmap",
        "title": title,
        "description": description,
        "datasource": DS,
        "targets": [t],
        "options": {
            "calculate": False,
            "yAxis": {"unit": "short", "decimals": 2},
            "cellGap": 1,
            "color": {"mode": "scheme", "scheme": "Oranges", "exponent": 0.5},
        },
        "fieldConfig": {"defaults": {}, "overrides": []},
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def quantiles(metric: str, by: str, sel: str, legend_prefix: str = "") -> list[dict[str, Any]]:
    by_le = f"{by}, le" if by else "le"
    return [
        target(
            f"histogram_quantile({q}, sum by ({by_le}) (rate({metric}_bucket{{{sel}}}[{RATE}])))",
            f"{legend_prefix}p{round(q * 100)}",
            chr(ord("A") + i),
        )
        for i, q in enumerate((0.5, 0.95, 0.99))
    ]


def variable(name: str, label: str, query: str, *, multi: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-values"},
        "refresh": 2,  # on time range change: new workers and partitions appear
        "includeAll": True,
        "allValue": ".*",
        "multi": multi,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "options": [],
    }


def datasource_variable() -> dict[str, Any]:
    return {
        "name": "datasource",
        "label": "Prometheus",
        "type": "datasource",
        "query": "prometheus",
        "refresh": 1,
        "current": {},
        "options": [],
    }


def layout(panels: list[Panel], columns: int = 2) -> list[Panel]:
    """Give each panel a grid position: rows full width, other panels ``columns`` abreast."""
    y, x = 0, 0
    width = 24 // columns
    height = 8
    placed = []
    for i, panel in enumerate(panels, start=1):
        p = dict(panel, id=i)
        if p["type"] == "row":
            if x:
                y, x = y + height, 0
            p["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            y += 1
        elif p["type"] == "stat":
            p["gridPos"] = {"h": 4, "w": 6, "x": x, "y": y}
            x += 6
            if x >= 24:
                y, x = y + 4, 0
        else:
            p["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
            x += width
            if x >= 24:
                y, x = y + height, 0
        placed.append(p)
    return placed


def dashboard(
    uid: str, title: str, description: str, panels: list[Panel], variables: list[str]
) -> dict[str, Any]:
    all_vars = {
        "instance": variable(
            "instance", "Worker", f'label_values(up{{job="{WORKER_JOB}"}}, instance)'
        ),
        "topic": variable(
            "topic", "Topic", "label_values(flagstream_events_consumed_total, topic)"
        ),
        "group": variable(
            "group", "Consumer group", "label_values(flagstream_group_lag_messages, group)"
        ),
        "label": variable("label", "Label", "label_values(flagstream_score_count, label)"),
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["flagstream"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "timezone": "browser",
        "annotations": {
            "list": [
                {
                    "name": "Firing alerts",
                    "datasource": DS,
                    "enable": True,
                    "iconColor": "red",
                    "expr": 'ALERTS{alertname=~"Flagstream.*", alertstate="firing"}',
                    "titleFormat": "{{alertname}}",
                    "textFormat": "{{severity}}",
                    "step": "60s",
                }
            ]
        },
        "templating": {"list": [datasource_variable(), *(all_vars[v] for v in variables)]},
        "panels": layout(panels),
    }


def main_dashboard() -> dict[str, Any]:
    flagged = f'rate(flagstream_decisions_total{{{W}, action=~"review|block"}}[{RATE}])'
    decided = f"rate(flagstream_decisions_total{{{W}}}[{RATE}])"
    panels: list[Panel] = [
        row("Throughput"),
        timeseries(
            "Events consumed",
            "Events read from the input topic per second, by topic. Healthy: follows the "
            "firehose's produce rate (compare 'Produced to input topic').",
            [
                target(
                    f"sum by (topic) (rate(flagstream_events_consumed_total{{{WT}}}[{RATE}]))",
                    "{{topic}}",
                )
            ],
            "ops",
        ),
        timeseries(
            "Messages published",
            "Messages acknowledged by the broker per second, by output topic (events.flagged, "
            "events.dlq). Healthy: flagged ≈ consumed × flag rate; dlq near zero.",
            [
                target(
                    f"sum by (topic) (rate(flagstream_published_total{{{W}}}[{RATE}]))", "{{topic}}"
                )
            ],
            "ops",
        ),
        timeseries(
            "Produced to input topic (broker)",
            "Growth of the input topic's end offsets, as the lag exporter reads them from the "
            "brokers: the firehose's real rate, independent of the workers.",
            [
                target(
                    f'sum by (topic) (deriv(flagstream_topic_end_offset{{topic=~"$topic"}}[{RATE}]))',
                    "{{topic}}",
                )
            ],
            "ops",
        ),
        timeseries(
            "Decisions by action",
            "Events decided per second by action. Healthy: allow dominates; review and block "
            "are a steady small share.",
            [
                target(
                    f"sum by (action) (rate(flagstream_decisions_total{{{W}}}[{RATE}]))",
                    "{{action}}",
                )
            ],
            "ops",
            stack=True,
        ),
        timeseries(
            "Label flags by label and action",
            "Labels over their threshold per second, by label and the action taken on the event.",
            [
                target(
                    f"sum by (label, action) (rate(flagstream_label_flags_total{{{W}}}[{RATE}]))",
                    "{{label}} → {{action}}",
                )
            ],
            "ops",
        ),
        timeseries(
            "Flag rate per label",
            "Share of decided events on which each label crossed its threshold. Healthy: flat "
            "lines at each label's usual level; a jump or a drop to zero means an attack or a "
            "broken model (alert FlagstreamFlagRateAnomaly).",
            [
                target(
                    f"sum by (label) (rate(flagstream_label_flags_total{{{W}}}[{RATE}]))"
                    f" / ignoring (label) group_left () sum ({decided})",
                    "{{label}}",
                ),
                target(f"sum ({flagged}) / sum ({decided})", "any label (review or block)", "B"),
            ],
            "percentunit",
        ),
        row("Latency"),
        timeseries(
            "End-to-end latency",
            "Event created_at to its decision acknowledged by the broker: p50, p95, p99. "
            "Healthy: p99 under the 1 s SLO; it rises with consumer lag.",
            quantiles("flagstream_end_to_end_latency_seconds", "", W),
            "s",
        ),
        timeseries(
            "Classify latency by model",
            "Time to score one batch, per model of the cascade: p50, p95, p99. Healthy: a few "
            "milliseconds for the fast model at the usual batch size.",
            quantiles("flagstream_classify_duration_seconds", "model", W, "{{model}} "),
            "s",
        ),
        timeseries(
            "Batch duration",
            "From a batch's hand-over to its outputs acknowledged: p50, p95, p99.",
            quantiles("flagstream_batch_duration_seconds", "", W),
            "s",
        ),
        timeseries(
            "Batch size",
            "Events per classified batch: p50, p95 and mean. Batches grow with load (natural "
            "batching); full batches (batch_max) mean the worker is saturated.",
            [
                *quantiles("flagstream_batch_size_events", "", W)[:2],
                target(
                    f"sum (rate(flagstream_batch_size_events_sum{{{W}}}[{RATE}]))"
                    f" / sum (rate(flagstream_batch_size_events_count{{{W}}}[{RATE}]))",
                    "mean",
                    "C",
                ),
            ],
        ),
        timeseries(
            "Decided by model (cascade)",
            "Events whose scores came from each model. Healthy: the fast model decides most; "
            "a growing accurate share costs latency.",
            [
                target(
                    f"sum by (model) (rate(flagstream_decided_by_total{{{W}}}[{RATE}]))",
                    "{{model}}",
                )
            ],
            "ops",
            stack=True,
        ),
        timeseries(
            "Error budget burn rate (end-to-end SLO)",
            "How fast the 99%-under-1s end-to-end SLO spends its budget: 1 = exactly on budget "
            "over 30 days. Pages at 14.4 (1 h) and 6 (6 h); tickets at 3 (1 d) and 1 (3 d).",
            _targets(
                ("flagstream:e2e_latency_slo_errors:ratio_rate5m / 0.01", "5m"),
                ("flagstream:e2e_latency_slo_errors:ratio_rate1h / 0.01", "1h"),
                ("flagstream:e2e_latency_slo_errors:ratio_rate6h / 0.01", "6h"),
            ),
        ),
        row("Consumer lag"),
        timeseries(
            "Consumer lag per partition (workers)",
            "High watermark minus the next offset each worker will process, per partition it "
            "owns. Healthy: near zero, no steady climb. Gone when the workers are down: see the "
            "broker view next to it.",
            [
                target(
                    f"max by (topic, partition, instance) (flagstream_consumer_lag_messages{{{WT}}})",
                    "{{topic}}/{{partition}} {{instance}}",
                )
            ],
        ),
        timeseries(
            "Group lag per partition (brokers)",
            "End offset minus the group's committed offset, per partition, from the lag exporter: "
            "visible even when every worker is down. Healthy: near zero; a sawtooth under the "
            "commit interval is normal.",
            [
                target(
                    f"max by (group, topic, partition) (flagstream_group_lag_messages{{{G}}})",
                    "{{group}} {{topic}}/{{partition}}",
                )
            ],
        ),
        timeseries(
            "Group lag by group",
            "Total lag of each consumer group on each topic (brokers' view).",
            [
                target(
                    f"sum by (group, topic) (flagstream_group_lag_messages{{{G}}})",
                    "{{group}} {{topic}}",
                )
            ],
        ),
        timeseries(
            "Committed offsets progress (brokers)",
            "Messages committed per second by each group: the consumption rate as the brokers "
            "see it. Zero while lag exists means the group is stuck (FlagstreamNoConsumption).",
            [
                target(
                    f"sum by (group, topic) (deriv(flagstream_group_committed_offset{{{G}}}[{RATE}]))",
                    "{{group}} {{topic}}",
                )
            ],
            "ops",
        ),
        row("Dead letters and errors"),
        timeseries(
            "Dead-letter rate by reason",
            "Events sent to events.dlq per second, by reason: the input's (invalid_utf8, "
            "invalid_json, schema, oversized, tombstone, too_deep) and processing's (too_large, "
            "processing_error; next panel). Healthy: near zero; a spike in one input reason "
            "points at one bad producer.",
            [
                target(
                    f"sum by (reason) (rate(flagstream_dead_letters_total{{{W}}}[{RATE}]))",
                    "{{reason}}",
                )
            ],
            "ops",
            stack=True,
        ),
        timeseries(
            "Dead letters from processing",
            "Events dead-lettered because publishing or processing them failed, per second: "
            "too_large (its flagged output or dead letter exceeded the producer's or the topic's "
            "size limit; the DLQ keeps a truncated, marked copy with the original's size and "
            "sha256) and processing_error (classification, policy or serialisation raised on "
            "that event; the exception class is in a header). The partition moves on either "
            "way. Healthy: zero; any processing_error is a bug to report with the dead letter.",
            [
                target(
                    f'sum by (reason) (rate(flagstream_dead_letters_total{{{W}, reason=~"too_large|processing_error"}}[{RATE}]))',
                    "{{reason}}",
                )
            ],
            "ops",
        ),
        timeseries(
            "Errors by stage",
            "Failures per second by stage (flagstream_errors_total): batch (the worker exits "
            "with status 70 and its batch is consumed again after the restart), processing (an "
            "event failed and was dead-lettered), broker (a send or acknowledgement failed and "
            "is retried with backoff). Healthy: zero.",
            [target(f"sum by (stage) (rate(flagstream_errors_total{{{W}}}[{RATE}]))", "{{stage}}")],
            "ops",
        ),
        timeseries(
            "Lag exporter",
            "Seconds since the lag exporter last read the brokers (healthy: under two poll "
            "intervals) and its failed polls per second (healthy: zero).",
            _targets(
                (
                    f'max (time() - flagstream_lag_exporter_last_success_timestamp_seconds{{job="{LAG_JOB}"}})',
                    "seconds since last poll",
                ),
                (
                    f'sum (rate(flagstream_lag_exporter_errors_total{{job="{LAG_JOB}"}}[{RATE}]))',
                    "failed polls/s",
                ),
            ),
        ),
        row("Fleet and model"),
        timeseries(
            "Workers up",
            "Worker targets Prometheus scrapes successfully. Healthy: the replica count.",
            _targets(
                (f'sum (up{{job="{WORKER_JOB}", {W}}})', "up"),
                (f'count (up{{job="{WORKER_JOB}", {W}}})', "targets"),
            ),
        ),
        timeseries(
            "Workers ready",
            "flagstream_ready per worker: 1 while it can do its work (what /readyz answers), 0 "
            "while it cannot (starting, broker unreachable, input topic missing; /readyz gives "
            "the reason). Healthy: every worker at 1; a worker at 0 for minutes is not "
            "consuming.",
            _targets(
                (f"sum (flagstream_ready{{{W}}})", "ready"),
                (f"count (flagstream_ready{{{W}}})", "workers"),
            ),
        ),
        table(
            "Model in use",
            "Each model (role, name, version, sha256) and how many workers run it. Healthy: one "
            "row per role; two versions of one role only during a rollout.",
            f"count by (role, name, version, sha256) (flagstream_model_info{{{W}}})",
        ),
        table(
            "Policy in use",
            "Each policy version and how many workers run it.",
            f"count by (version) (flagstream_policy_info{{{W}}})",
        ),
        table(
            "flagstream build",
            "flagstream versions running and how many workers run each.",
            f"count by (version) (flagstream_build_info{{{W}}})",
        ),
        row("Campaigns and repeat actors"),
        timeseries(
            "Campaigns detected per kind",
            "Groups that crossed K distinct authors within the window W, per second, by kind "
            "(near_duplicate, shared_indicator, signal_list). Healthy: rare and bursty; a steady "
            "rise is an organised wave. Flat 0 with campaigns_enabled off (the default).",
            [
                target(
                    f"sum by (kind) (rate(flagstream_campaigns_detected_total{{{W}}}[{RATE}]))",
                    "{{kind}}",
                )
            ],
            "ops",
        ),
        timeseries(
            "Active campaigns and flagged events in them",
            "Campaigns active within the window (summed over workers: each holds its shards) "
            "and the share of flagged events that carry a campaign_id. Healthy: a small share; "
            "a large one means most harm now comes from coordinated accounts.",
            _targets(
                (f"sum by (kind) (flagstream_campaigns_active{{{W}}})", "active {{kind}}"),
                (
                    f"sum (rate(flagstream_flagged_in_campaign_total{{{W}}}[{RATE}])) / "
                    f"clamp_min(sum ({flagged}), 1e-9)",
                    "share of flagged in a campaign",
                ),
            ),
        ),
        timeseries(
            "Campaign state per worker",
            "Groups (candidate campaigns) and stored bytes in each worker's campaign tables. "
            "Healthy: flat under steady traffic (TTL eviction and per-key caps bound it); growth "
            "without bound means the window or the caps are too large for the memory.",
            _targets(
                (f"flagstream_campaign_state_groups{{{W}}}", "groups {{instance}}"),
                (f"flagstream_campaign_state_bytes{{{W}}} / 1e6", "MB {{instance}}"),
            ),
        ),
        timeseries(
            "Campaign table changelog",
            "Writes to the campaign table waiting to be sent to its changelog (Faust's producer "
            "buffer), and changelog records still to read while a worker recovers its stage "
            "partitions. Healthy: pending writes in the hundreds at most and recovery 0; pending "
            "writes in the thousands mean the changelog, and Faust's commits, lag the table.",
            _targets(
                (
                    f"flagstream_campaign_changelog_pending_writes{{{W}}}",
                    "pending writes {{instance}}",
                ),
                (
                    f"flagstream_campaign_changelog_recovery_remaining_messages{{{W}}}",
                    "to recover {{instance}}",
                ),
            ),
        ),
        timeseries(
            "Campaign stage delay and cost",
            "Seconds between now and the newest event the campaign stage processed, the CPU "
            "share of the hot path spent on indicators and signatures, and the share of events "
            "the near-duplicate stage compares (campaign_scope 'suspect': about 1 % of everyday "
            "traffic). Healthy: a delay of seconds; minutes mean campaign ids and escalations "
            "arrive late. A watched share that climbs is what makes the stage fall behind.",
            _targets(
                (f"flagstream_campaign_stage_delay_seconds{{{W}}}", "delay s {{instance}}"),
                (
                    f"rate(flagstream_network_features_seconds_total{{{W}}}[{RATE}])",
                    "features CPU s/s {{instance}}",
                ),
                (
                    f"sum (rate(flagstream_campaign_watched_events_total{{{W}}}[{RATE}])) / "
                    f"sum (rate(flagstream_events_consumed_total{{{W}}}[{RATE}]))",
                    "share watched",
                ),
            ),
        ),
        row("Score drift"),
        timeseries(
            "Mean score per label",
            "Average classifier score of each label. Healthy: flat; a slow drift means the "
            "traffic changed under the model, a step means the model or its input changed.",
            [
                target(
                    f'sum by (label) (rate(flagstream_score_sum{{{W}, label=~"$label"}}[{RATE}]))'
                    f' / sum by (label) (rate(flagstream_score_count{{{W}, label=~"$label"}}[{RATE}]))',
                    "{{label}}",
                )
            ],
            "percentunit",
            max_value=1,
        ),
        timeseries(
            "Share of scores above 0.5 per label",
            "Fraction of events whose label score is above 0.5. Compare with the flag rate: the "
            "two move together unless the policy thresholds changed.",
            [
                target(
                    f'1 - sum by (label) (rate(flagstream_score_bucket{{{W}, label=~"$label", le=~"0.5(0*)?"}}[{RATE}]))'
                    f' / sum by (label) (rate(flagstream_score_count{{{W}, label=~"$label"}}[{RATE}]))',
                    "{{label}}",
                )
            ],
            "percentunit",
            max_value=1,
        ),
        heatmap(
            "Score distribution (selected labels)",
            "Events per score bucket over time for the labels chosen above. Healthy: most mass "
            "in the lowest buckets, a thin band near 1; mass moving to the middle is drift.",
            f'sum by (le) (rate(flagstream_score_bucket{{{W}, label=~"$label"}}[{RATE}]))',
        ),
    ]
    return dashboard(
        "flagstream-main",
        "flagstream",
        "flagstream workers and consumer group: throughput, decisions, latency, lag, dead "
        "letters, model and score drift.",
        panels,
        ["instance", "topic", "group", "label"],
    )


def overview_dashboard() -> dict[str, Any]:
    panels: list[Panel] = [
        stat(
            "Workers up",
            "Worker targets up. Red at zero: page (FlagstreamNoWorkersUp).",
            f'sum (up{{job="{WORKER_JOB}", {W}}})',
            thresholds=[(None, "red"), (1, "green")],
        ),
        stat(
            "Workers ready",
            "Workers whose /readyz answers 200 (flagstream_ready). Red at zero: nothing is "
            "consuming; see /readyz of a worker for the reason.",
            f"sum (flagstream_ready{{{W}}})",
            thresholds=[(None, "red"), (1, "green")],
        ),
        stat(
            "Events in",
            "Events consumed per second, all workers.",
            f"sum (rate(flagstream_events_consumed_total{{{WT}}}[{RATE}]))",
            "ops",
        ),
        stat(
            "Flag rate",
            "Share of events sent to review or block.",
            f'sum (rate(flagstream_decisions_total{{{W}, action=~"review|block"}}[{RATE}]))'
            f" / sum (rate(flagstream_decisions_total{{{W}}}[{RATE}]))",
            "percentunit",
        ),
        stat(
            "End-to-end p99",
            "99th percentile from event creation to decision acknowledged. SLO: under 1 s.",
            f"histogram_quantile(0.99, sum by (le) (rate(flagstream_end_to_end_latency_seconds_bucket{{{W}}}[{RATE}])))",
            "s",
            [(None, "green"), (0.5, "orange"), (1, "red")],
        ),
        stat(
            "Group lag",
            "Messages behind, whole group, as the brokers see it.",
            f"sum (flagstream_group_lag_messages{{{G}}})",
            thresholds=[(None, "green"), (1000, "orange"), (10000, "red")],
        ),
        stat(
            "Dead letters",
            "Events sent to the dead-letter topic per second.",
            f"sum (rate(flagstream_dead_letters_total{{{W}}}[{RATE}]))",
            "ops",
            [(None, "green"), (1, "orange")],
        ),
        stat(
            "SLO burn (1 h)",
            "End-to-end latency error budget burn rate over the last hour. 1 = on budget.",
            "flagstream:e2e_latency_slo_errors:ratio_rate1h / 0.01",
            thresholds=[(None, "green"), (1, "orange"), (14.4, "red")],
        ),
        stat(
            "Alerts firing",
            "flagstream alerts firing now: see docs/runbook.md for each.",
            'count (ALERTS{alertname=~"Flagstream.*", alertstate="firing"}) or vector(0)',
            thresholds=[(None, "green"), (1, "red")],
        ),
        timeseries(
            "Throughput in and out",
            "Consumed per second against published per second (flagged and dead letters).",
            _targets(
                (f"sum (rate(flagstream_events_consumed_total{{{WT}}}[{RATE}]))", "consumed"),
                (
                    f"sum by (topic) (rate(flagstream_published_total{{{W}}}[{RATE}]))",
                    "published {{topic}}",
                ),
            ),
            "ops",
        ),
        timeseries(
            "Group lag (brokers)",
            "Messages behind per group and topic.",
            [
                target(
                    f"sum by (group, topic) (flagstream_group_lag_messages{{{G}}})",
                    "{{group}} {{topic}}",
                )
            ],
        ),
    ]
    return dashboard(
        "flagstream-overview",
        "flagstream overview",
        "On-call view: is flagstream up, keeping up, and deciding as usual?",
        panels,
        ["instance", "topic", "group"],
    )


DASHBOARDS = {"flagstream.json": main_dashboard, "flagstream-overview.json": overview_dashboard}


def render() -> Iterator[tuple[Path, str]]:
    for name, build in DASHBOARDS.items():
        yield OUT_DIR / name, json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the JSON is out of date")
    args = parser.parse_args(argv)
    stale = []
    for path, text in render():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        names = ", ".join(str(p) for p in stale)
        sys.stderr.write(f"{names} out of date: run python grafana/dashboards.py and commit\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
