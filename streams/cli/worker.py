"""``flagstream worker``: the moderation service."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click
import faust
from faust.worker import Worker

from streams import __version__
from streams.agents import BatchHandler, register_agent
from streams.app import create_app
from streams.cli.options import bootstrap_option, config_option, model_options, settings_from_cli
from streams.errors import FlagstreamError
from streams.health import (
    READINESS,
    Heartbeat,
    access_from_settings,
    limits_from_settings,
    serve,
)
from streams.metrics import NetworkMetrics, SignalMetrics, WorkerMetrics, process_registry
from streams.networks.signals_follow import start_signals
from streams.networks.stage import register_campaign_stage
from streams.pipeline import Pipeline

log = logging.getLogger("streams.worker")
HEARTBEAT_INTERVAL_S = 1.0
HEARTBEAT_STALE_S = 30.0  # /healthz fails when the event loop has not ticked for this long


def service_worker(app: faust.App, log_level: str) -> Worker:
    """Faust's worker, without its terminal spinner.

    At WARNING or ERROR, Faust's worker sets the root logger to DEBUG so that its spinner turns
    for every record (``Worker._setup_spinner_handler``). Every library's debug call then builds
    a log record and passes it through redaction: at 5k events/s that was ~20 % of the event
    loop's samples (py-spy) and raised the p50 latency of a WARNING-level worker ~9×
    (docs/performance.md). A service has no terminal to spin for.
    """
    worker = Worker(app, loglevel=log_level, quiet=True, redirect_stdouts=False)
    worker.spinner = None
    return worker


@click.command()
@config_option
@bootstrap_option
@click.option(
    "--group-id", default=None, help="Consumer group shared by all workers. [default: flagstream]"
)
@click.option(
    "--metrics-addr", default=None, help="host:port for /metrics. [default: 127.0.0.1:9108]"
)
@model_options
def worker(
    config_file: Path | None,
    bootstrap: str | None,
    group_id: str | None,
    metrics_addr: str | None,
    model_path: Path | None,
    policy_path: Path | None,
) -> None:
    """Consume the input topic, classify every event, publish flagged events and dead letters.

    Start one process per core; workers sharing a group id split the partitions. All settings
    can also come from FLAGSTREAM_* environment variables or --config (see docs/configuration.md).
    SIGTERM finishes the batch in hand, commits and exits.

    Missing topics: by default the worker creates the input, flagged and dead-letter topics at
    start-up with the broker's default partitions and replication (create them first with
    'flagstream topics create' to choose those). With FLAGSTREAM_CREATE_MISSING_TOPICS=0 a missing
    input topic is not an error: the worker runs, /readyz answers 503 until the topic exists, and
    it is picked up within FLAGSTREAM_METADATA_MAX_AGE_S.
    """
    settings = settings_from_cli(
        config_file,
        bootstrap=bootstrap,
        group_id=group_id,
        metrics_addr=metrics_addr,
        model_path=model_path,
        policy_path=policy_path,
    )
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        pipeline = Pipeline.from_settings(settings)
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None

    registry = process_registry()
    metrics = WorkerMetrics(registry, pipeline.labels)
    metrics.build_info.info({"version": __version__})
    for role, model in (
        ("fast", pipeline.classifier.fast),
        ("accurate", pipeline.classifier.accurate),
    ):
        if model is not None:
            metrics.model_info.labels(role, model.name, model.version, model.sha256).set(1)
    metrics.policy_info.labels(pipeline.policy.version).set(1)
    host, port = settings.metrics_host_port
    heartbeat = Heartbeat(stale_after_s=HEARTBEAT_STALE_S)
    try:
        access = access_from_settings(settings)
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        serve(host, port, registry, heartbeat, limits_from_settings(settings), access)
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve metrics on {settings.metrics_addr} ({exc.strerror}); "
            "choose a free address with --metrics-addr or FLAGSTREAM_METRICS_ADDR"
        ) from None

    if pipeline.signals is not None:  # issue 10: every worker holds the signal lists
        try:
            start_signals(settings, pipeline.signals, SignalMetrics(registry), READINESS)
        except FlagstreamError as exc:
            raise click.ClickException(str(exc)) from None

    app = create_app(settings)
    handler = BatchHandler(app, pipeline, metrics)
    register_agent(app, settings, handler)
    if pipeline.networks is not None:  # issue 10: the campaign stage (streams/networks/stage.py)
        register_campaign_stage(app, settings, NetworkMetrics(registry), pipeline.networks)

    @app.task
    async def tick() -> None:  # proves to /healthz that the event loop runs, from the start
        while True:
            heartbeat.beat()
            await asyncio.sleep(HEARTBEAT_INTERVAL_S)

    log.info(
        "flagstream %s: %s -> %s / %s, group %s, model %s %s, policy %s, metrics http://%s/metrics",
        __version__,
        settings.input_topic,
        settings.flagged_topic,
        settings.dlq_topic,
        settings.group_id,
        pipeline.classifier.fast.name,
        pipeline.classifier.fast.version,
        pipeline.policy.version,
        settings.metrics_addr,
    )
    try:
        service_worker(app, settings.log_level).execute_from_commandline()
    finally:
        handler.close()
