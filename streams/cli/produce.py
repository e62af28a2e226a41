"""``flagstream produce``: a sample firehose into the input topic, at a chosen rate."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click
from tqdm import tqdm

from streams import kafka_clients
from streams.cli.options import bootstrap_option, config_option, settings_from_cli, topic_name
from streams.errors import FlagstreamError
from streams.firehose import Firehose


def _jsonl_values(stream: TextIO) -> Iterator[bytes]:
    for raw in stream:
        line = raw.rstrip("\n")
        if line.strip():
            yield line.encode("utf-8", "surrogateescape")


@click.command()
@config_option
@bootstrap_option
@click.option(
    "--topic",
    default=None,
    callback=topic_name,
    help="Topic to write to. [default: the input topic]",
)
@click.option(
    "--file",
    "jsonl",
    type=click.File("r", encoding="utf-8", errors="surrogateescape"),
    default=None,
    help="Send each line of this JSONL file as-is instead of generating events ('-' for stdin).",
)
@click.option(
    "--count",
    default=10_000,
    show_default=True,
    type=click.IntRange(0),
    help="Events to send (0: until interrupted).",
)
@click.option(
    "--rate",
    default=200.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Events per second (0: as fast as possible).",
)
@click.option(
    "--harmful",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of harmful events in the generated mix.",
)
@click.option(
    "--malformed",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of malformed messages (bad JSON, wrong types, invalid UTF-8, oversized).",
)
@click.option("--seed", default=7, show_default=True, help="Random seed of the generator.")
@click.option(
    "--progress/--no-progress", default=True, show_default=True, help="Show a progress bar."
)
def produce(
    config_file: Path | None,
    bootstrap: str | None,
    topic: str | None,
    jsonl: TextIO | None,
    count: int,
    rate: float,
    harmful: float,
    malformed: float,
    seed: int,
    progress: bool,
) -> None:
    """Send events: multilingual benign and harmful posts from the built-in generator, or a JSONL file."""
    settings = settings_from_cli(config_file, bootstrap=bootstrap)
    target = topic or settings.input_topic
    if jsonl is not None:
        values: Iterator[tuple[bytes | None, bytes]] = ((None, v) for v in _jsonl_values(jsonl))
    else:
        hose = Firehose(seed=seed, harmful=harmful, malformed=malformed)
        values = ((s.key, s.value) for s in hose)
    try:
        producer = kafka_clients.producer(
            settings, "flagstream-produce", acks="all", linger_ms=5, max_request_size=1_048_576
        )
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    interval = 1.0 / rate if rate > 0 else 0.0
    sent = 0
    started = time.monotonic()
    bar = tqdm(total=count or None, unit="ev", disable=not progress, file=sys.stderr)
    try:
        for key, value in values:
            if count and sent >= count:
                break
            if interval:
                delay = started + sent * interval - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            producer.send(target, value=value, key=key)
            sent += 1
            bar.update(1)
    except KeyboardInterrupt:
        pass
    finally:
        producer.flush(timeout=60)
        producer.close(timeout=10)
        bar.close()
    elapsed = time.monotonic() - started
    click.echo(
        f"sent {sent} events to {target} in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):.0f} ev/s)",
        err=True,
    )
