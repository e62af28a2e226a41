"""``flagstream lag-exporter``: consumer-group lag from the brokers, on a Prometheus endpoint.

Runs beside the workers (one per cluster is enough) and keeps exporting while they are all
down. Stops on SIGTERM/SIGINT, or after ``--max-polls`` polls.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from types import FrameType

import click

from streams.cli.options import bootstrap_option, config_option, settings_from_cli, topic_names
from streams.errors import BrokerError, FlagstreamError
from streams.health import Heartbeat, Readiness, access_from_settings, limits_from_settings, serve
from streams.lag import BrokerOffsets, LagGauges, admin_config
from streams.metrics import LagExporterMetrics, process_registry

log = logging.getLogger("flagstream.lag_exporter")


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"{value!r} is not host:port (e.g. 127.0.0.1:9109)")
    return host or "0.0.0.0", int(port)  # ":9109" means every interface


@click.command("lag-exporter")
@config_option
@bootstrap_option
@click.option(
    "--listen",
    default="127.0.0.1:9109",
    show_default=True,
    envvar="FLAGSTREAM_LAG_EXPORTER_ADDR",
    help="host:port of this exporter's /metrics (env FLAGSTREAM_LAG_EXPORTER_ADDR).",
)
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Consumer group to watch; repeatable. Default: the group_id setting.",
)
@click.option(
    "--topic",
    "topics",
    multiple=True,
    callback=topic_names,
    help="Topic whose every partition is watched even before the group commits on it; "
    "repeatable. Default: the input_topic setting.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=1.0, max=600.0),
    default=15.0,
    show_default=True,
    help="Seconds between polls of the brokers.",
)
@click.option(
    "--max-polls",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many polls (default: run until SIGTERM).",
)
def lag_exporter(
    *,
    config_file: Path | None,
    bootstrap: str | None,
    listen: str,
    groups: tuple[str, ...],
    topics: tuple[str, ...],
    interval: float,
    max_polls: int | None,
) -> None:
    """Export committed offset, end offset and lag per partition of the consumer group."""
    settings = settings_from_cli(config_file, bootstrap=bootstrap)
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # kafka-python logs every connection attempt, and at ERROR every refused one: a failed poll
    # is reported once, by the exporter, naming the brokers and the fix (DEBUG keeps kafka's own)
    debug = logging.getLogger().level <= logging.DEBUG
    logging.getLogger("kafka").setLevel(logging.DEBUG if debug else logging.CRITICAL)
    host, port = _host_port(listen)
    watched_groups = list(groups) or [settings.group_id]
    watched_topics = list(topics) or [settings.input_topic]

    registry = process_registry()
    metrics = LagExporterMetrics(registry)
    gauges = LagGauges(metrics)
    # the exporter's loop beats after each poll: /healthz fails when polling stops
    heartbeat = Heartbeat(stale_after_s=max(60.0, 4 * interval), readiness=Readiness())
    try:
        access = access_from_settings(settings)
        server = serve(host, port, registry, heartbeat, limits_from_settings(settings), access)
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {listen}: {exc.strerror}; pick another with --listen"
        ) from exc

    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    log.info(
        "lag exporter on http://%s:%d/metrics: groups %s, topics %s, every %.0fs",
        host, port, watched_groups, watched_topics, interval,
    )  # fmt: skip
    offsets = BrokerOffsets(admin_config(settings))
    polls = 0
    last_error: BrokerError | None = None
    failed = 0
    try:
        while not stop.is_set() and (max_polls is None or polls < max_polls):
            polls += 1
            started = time.monotonic()
            try:
                rows = offsets.poll(watched_groups, watched_topics, settings.auto_offset_reset)
            except BrokerError as exc:
                last_error = exc
                failed += 1
                metrics.scrape_errors.inc()
                heartbeat.readiness.not_ready("broker", "the last poll of the brokers failed")
                log.error("%s", exc)
            else:
                gauges.update(rows, time.time())
                heartbeat.readiness.clear("broker")
            heartbeat.beat()
            if max_polls is not None and polls >= max_polls:
                break
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        offsets.close()
        server.close()
    if max_polls is not None and last_error is not None:
        # a bounded run is a check: its exit status says whether the brokers answered
        raise click.ClickException(f"{failed} of {polls} polls failed; the last: {last_error}")
