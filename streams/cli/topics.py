"""``flagstream topics``: create or describe the topics the worker reads and writes."""

from __future__ import annotations

from pathlib import Path

import click
from kafka.errors import KafkaError

from streams.cli.options import bootstrap_option, config_option, settings_from_cli
from streams.errors import BrokerError, FlagstreamError
from streams.kafka_clients import TopicSpec, admin_client, create_topics
from streams.settings import Settings


def describe_topics(settings: Settings, names: list[str]) -> dict[str, TopicSpec]:
    """The topics among ``names`` that exist, with their partitions and replication factor."""
    admin = admin_client(settings, "flagstream-topics")
    try:
        existing = set(admin.list_topics())
        wanted = [name for name in names if name in existing]
        described = admin.describe_topics(wanted) if wanted else []
    except KafkaError as exc:
        raise BrokerError(f"describing topics on {settings.bootstrap} failed: {exc!r}") from None
    finally:
        admin.close()
    found: dict[str, TopicSpec] = {}
    for topic in described:  # kafka-python: MetadataResponse topics as dicts
        if topic["error_code"] != 0:
            continue
        partitions = topic["partitions"]
        replicas = max((len(p["replica_nodes"]) for p in partitions), default=0)
        found[topic["name"]] = TopicSpec(topic["name"], len(partitions), replicas)
    return found


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


@topics.command("describe")
@config_option
@bootstrap_option
def describe(config_file: Path | None, bootstrap: str | None) -> None:
    """Show the input, flagged and dead-letter topics as the cluster has them.

    One line per topic: partitions and replication factor, or 'missing'. The exit status is 1
    when any of them is missing (create them with 'flagstream topics create').
    """
    settings = settings_from_cli(config_file, bootstrap=bootstrap)
    names = [settings.input_topic, settings.flagged_topic, settings.dlq_topic]
    try:
        found = describe_topics(settings, names)
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    missing = 0
    for role, name in zip(("input", "flagged", "dead-letter"), names, strict=True):
        info = found.get(name)
        if info is None:
            missing += 1
            click.echo(f"{name}: missing ({role} topic)")
            continue
        click.echo(
            f"{name}: {info.partitions} partitions, rf {info.replication_factor} ({role} topic)"
        )
    if missing:
        click.echo(
            f"{missing} of {len(names)} topics missing: run 'flagstream topics create' "
            "(or let the worker create them, FLAGSTREAM_CREATE_MISSING_TOPICS)",
            err=True,
        )
        raise SystemExit(1)
