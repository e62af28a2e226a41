"""Every dashboard panel and every alert against a real Prometheus scraping a real worker.

One stack per module: the local broker, ``flagstream worker`` and ``flagstream lag-exporter`` as
processes, a sample firehose from ``flagstream produce`` (with malformed events, so that the
dead-letter panels have data), and the Debian ``prometheus`` scraping both every second with
deploy/prometheus/rules loaded. Then each panel query is sent through Prometheus' HTTP API as
Grafana would send it, each rule is checked to parse and evaluate, and the metric names are
checked against what the processes export. The last test stops the worker and checks that the
lag stays visible and the worker alerts go pending.
"""

from __future__ import annotations

import math
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kafka import KafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka_clients import TopicSpec, create_topics
from streams.settings import load_settings
from tests.observability.conftest import Prometheus
from tests.observability.names import BUILT_IN, SUFFIXES
from tests.observability.queries import (
    PanelQuery,
    RuleQuery,
    metric_names,
    panel_queries,
    rule_queries,
    substitute,
    variable_queries,
)
from tests.support import FLAGSTREAM, REPO, WorkerProcess, free_port, start_worker, wait_until

pytestmark = [pytest.mark.prometheus, pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 2
FIREHOSE_EVENTS = 4_000
FIREHOSE_RATE = 150  # events/s: about 27 s of traffic
BACKLOG_EVENTS = 300  # sent while every worker is down
# what Grafana would send for $__rate_interval with a 1 s scrape interval, with a margin
RATE_INTERVAL = "10s"


@dataclass
class Stack:
    prometheus: Prometheus
    worker: WorkerProcess
    worker_target: str
    lag_exporter_target: str
    env: dict[str, str]
    group: str
    topic: str
    started: float


def _run_produce(env: dict[str, str], *args: str, timeout: float) -> None:
    done = subprocess.run(
        [*FLAGSTREAM, "produce", "--no-progress", *args],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"flagstream produce failed:\n{done.stderr[-3000:]}"


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, prometheus: Prometheus, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    prefix = f"obs-{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-group"
    env = {
        "FLAGSTREAM_BOOTSTRAP": kafka_bootstrap,
        "FLAGSTREAM_GROUP_ID": group,
        "FLAGSTREAM_INPUT_TOPIC": f"{prefix}.events",
        "FLAGSTREAM_FLAGGED_TOPIC": f"{prefix}.flagged",
        "FLAGSTREAM_DLQ_TOPIC": f"{prefix}.dlq",
        # off by default; on here so that the campaign panels and alert meet real series
        "FLAGSTREAM_CAMPAIGNS_ENABLED": "1",
        "FLAGSTREAM_CAMPAIGN_TOPIC": f"{prefix}.campaigns",
    }
    topics = [
        env["FLAGSTREAM_INPUT_TOPIC"],
        env["FLAGSTREAM_FLAGGED_TOPIC"],
        env["FLAGSTREAM_DLQ_TOPIC"],
    ]
    create_topics(
        load_settings(bootstrap=kafka_bootstrap), [TopicSpec(t, PARTITIONS, 1) for t in topics]
    )
    started = time.time()
    lag_target = f"127.0.0.1:{free_port()}"
    with (workdir / "lag-exporter.log").open("wb") as exporter_log:
        lag_exporter = subprocess.Popen(
            [*FLAGSTREAM, "lag-exporter", f"--listen={lag_target}", "--interval=1"],
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            cwd=REPO,
            stdout=exporter_log,
            stderr=subprocess.STDOUT,
        )
    worker: WorkerProcess | None = None
    try:
        prometheus.set_targets("flagstream-lag-exporter", [lag_target])
        worker = start_worker(env, workdir)
        worker_target = worker.metrics_url.removeprefix("http://").removesuffix("/metrics")
        prometheus.set_targets("flagstream-worker", [worker_target])
        _run_produce(
            env,
            f"--count={FIREHOSE_EVENTS}",
            f"--rate={FIREHOSE_RATE}",
            "--malformed=0.05",
            "--harmful=0.3",
            timeout=FIREHOSE_EVENTS / FIREHOSE_RATE + 120,
        )
        consumed = f'sum(flagstream_events_consumed_total{{topic="{topics[0]}"}})'
        wait_until(
            lambda: (prometheus.scalar(consumed) or 0) >= FIREHOSE_EVENTS,
            180,
            f"Prometheus to see {FIREHOSE_EVENTS} events consumed",
            interval=1,
        )
        caught_up = f'max(flagstream_group_lag_messages{{group="{group}"}})'
        wait_until(
            lambda: prometheus.scalar(caught_up) == 0,
            60,
            "the lag exporter to see the group caught up",
            interval=1,
        )
        yield Stack(prometheus, worker, worker_target, lag_target, env, group, topics[0], started)
    finally:
        if worker is not None:
            worker.stop()
        _stop(lag_exporter)
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        try:
            admin.delete_topics(topics)
        finally:
            admin.close()


def _returns_series(prom: Prometheus, expr: str) -> Callable[[], bool]:
    return lambda: bool(prom.query(expr))


def _has_finite_value(result: list[dict[str, Any]]) -> bool:
    for series in result:
        points = series.get("values") or [series["value"]]
        if any(math.isfinite(float(v)) for _, v in points):
            return True
    return False


@pytest.mark.parametrize("query", panel_queries(), ids=str)
def test_panel_query_parses_and_returns_data(stack: Stack, query: PanelQuery) -> None:
    expr = substitute(query.expr, RATE_INTERVAL)
    if query.instant:
        result = stack.prometheus.query(expr)
    else:
        result = stack.prometheus.query_range(expr, stack.started, time.time(), step=1)
    if _has_finite_value(result):
        return
    # every worker series is created at 0 at start-up, so no data is always a defect
    raise AssertionError(f"{query}: no data for {expr}")


@pytest.mark.parametrize("rule", rule_queries(), ids=lambda r: r.name)
def test_rule_expression_parses(stack: Stack, rule: RuleQuery) -> None:
    # an empty result is fine here (most alerts are quiet); a parse error raises
    stack.prometheus.query(rule.expr)


def test_every_rule_loaded_and_evaluates_without_error(stack: Stack) -> None:
    groups = stack.prometheus.api("rules")["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    assert set(loaded) == {r.name for r in rule_queries()}
    broken = {n: r.get("lastError") for n, r in loaded.items() if r["health"] != "ok"}
    assert not broken, broken


def test_variables_list_the_running_worker_topic_and_group(stack: Stack) -> None:
    expected = {
        "instance": stack.worker_target,
        "topic": stack.topic,
        "group": stack.group,
        "label": None,  # any label of the model
    }
    for board, name, selector, label in variable_queries():
        values = stack.prometheus.api(f"label/{label}/values", **{"match[]": selector or ""})
        assert values, f"{board}: variable {name} has no values"
        if expected[name] is not None:
            assert expected[name] in values, f"{board}: variable {name}: {values}"


def _exported_names(url: str) -> set[str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return {f.name + s for f in text_string_to_metric_families(text) for s in SUFFIXES[f.type]}


def test_every_referenced_metric_is_exported_and_has_series(stack: Stack) -> None:
    recorded = {r.name for r in rule_queries() if not r.is_alert}
    referenced: set[str] = set()
    for query in panel_queries():
        referenced |= metric_names(query.expr)
    for rule in rule_queries():
        referenced |= metric_names(rule.expr)
    referenced -= recorded | BUILT_IN

    exported = _exported_names(stack.worker.metrics_url) | _exported_names(
        f"http://{stack.lag_exporter_target}/metrics"
    )
    assert referenced <= exported, f"not exported: {sorted(referenced - exported)}"
    # and Prometheus stored series for each (a declared family without samples would not be)
    stored = set(stack.prometheus.api("label/__name__/values"))
    # the baselines look 30 minutes back (offset), longer than this test has run: each must be
    # the only kind missing, and must return data once the offset is taken out
    for rule in rule_queries():
        if rule.is_alert or rule.name in stored:
            continue
        assert re.search(r"offset \d+m", rule.expr), f"recording rule {rule.name} has no series"
        now = re.sub(r"\s*offset \d+m", "", rule.expr)
        assert _has_finite_value(stack.prometheus.query(now)), f"{rule.name} without offset: {now}"
    missing = referenced - stored
    assert not missing, f"exported but no series stored: {sorted(missing)}"


def test_lag_stays_visible_and_worker_alerts_go_pending_with_every_worker_down(
    stack: Stack,
) -> None:
    # runs last in this module: it stops the worker
    assert stack.worker.stop() == 0, stack.worker.log()[-3000:]
    _run_produce(stack.env, f"--count={BACKLOG_EVENTS}", "--rate=0", timeout=120)
    prom = stack.prometheus
    lag = f'sum(flagstream_group_lag_messages{{group="{stack.group}"}})'
    wait_until(
        lambda: (prom.scalar(lag) or 0) >= BACKLOG_EVENTS,
        60,
        f"the lag exporter to show {BACKLOG_EVENTS} messages of lag",
        interval=1,
    )
    assert prom.scalar('max(up{job="flagstream-worker"})') == 0
    for alert in ("FlagstreamWorkerDown", "FlagstreamNoWorkersUp"):
        pending = f'ALERTS{{alertname="{alert}", alertstate="pending"}}'
        wait_until(_returns_series(prom, pending), 30, f"{alert} pending", interval=1)
    # the broker view of the backlog, per partition, as the lag panels show it (of the input
    # topic: the group also consumes the campaign stage's repartition topic)
    per_partition = prom.query(
        f'flagstream_group_lag_messages{{group="{stack.group}", topic="{stack.topic}"}}'
    )
    assert {s["metric"]["partition"] for s in per_partition} == {str(p) for p in range(PARTITIONS)}
