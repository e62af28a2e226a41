"""``flagstream topics``: create the topics the worker reads and writes."""

from __future__ import annotations

from pathlib import Path

import click

from streams.cli.options import bootstrap_option, config_option, settings_from_cli
from streams.errors import FlagstreamError
from streams.kafka_clients import TopicSpec, create_topics


@click.group()
def topics() -> None:
    """Manage flagstream's Kafka topics."""


@topics.command("create")
@config_option
@bootstrap_option
@click.option(
    "--partitions",
    default=4,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Partitions of the input topic: the most workers that can share the load.",
)
@click.option(
    "--output-partitions",
    default=None,
    type=click.IntRange(1, 10_000),
    help="Partitions of the flagged and dead-letter topics. [default: same as --partitions]",
)
@click.option(
    "--replication-factor",
    default=1,
    show_default=True,
    type=click.IntRange(1, 16),
    help="Replicas per partition (3 in production).",
)
def create(
    config_file: Path | None,
    bootstrap: str | None,
    partitions: int,
    output_partitions: int | None,
    replication_factor: int,
) -> None:
    """Create the input, flagged and dead-letter topics (existing ones are left as they are)."""
    settings = settings_from_cli(config_file, bootstrap=bootstrap)
    out = output_partitions or partitions
    specs = [
        TopicSpec(settings.input_topic, partitions, replication_factor),
        TopicSpec(settings.flagged_topic, out, replication_factor),
        TopicSpec(settings.dlq_topic, out, replication_factor),
    ]
    try:
        result = create_topics(settings, specs)
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    for spec in specs:
        click.echo(
            f"{spec.name}: {result[spec.name]} ({spec.partitions} partitions, rf {spec.replication_factor})"
        )
