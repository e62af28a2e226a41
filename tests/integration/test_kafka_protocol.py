"""Client paths that Kafka 4.0 broke for older client releases (KIP-896), on the running broker.

CI runs these on 3.9.x and on 4.x (.ci/test-all). docs/local-kafka.md has the request each
client sends and the one that was refused.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from importlib.metadata import version

import faust
from click.testing import CliRunner
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from packaging.version import Version

from streams.cli.main import cli
from streams.lag import BrokerOffsets, admin_config
from streams.settings import load_settings

DECLARE_TIMEOUT_S = 60.0


def test_aiokafka_is_new_enough_for_faust_topic_creation_on_kafka_4() -> None:
    # faust-streaming 0.15 sends CreateTopics v1 (removed in Kafka 4.0) on aiokafka < 0.13
    assert Version(version("aiokafka")) >= Version("0.13")


def test_faust_creates_a_topic_through_aiokafka(
    kafka_bootstrap: str, kafka_admin: KafkaAdminClient
) -> None:
    """The path faust takes for tables and internal topics: CreateTopics through its driver."""
    name = f"test-faust-declare-{uuid.uuid4().hex[:10]}"
    app = faust.App(
        f"flagstream-test-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{kafka_bootstrap}",
        web_enabled=False,
    )
    topic = app.topic(name, partitions=2, internal=True)

    async def declare() -> None:
        await app.producer.start()
        try:
            await asyncio.wait_for(topic.maybe_declare(), DECLARE_TIMEOUT_S)
        finally:
            await app.producer.stop()

    try:
        asyncio.run(declare())
        (described,) = kafka_admin.describe_topics([name])
        assert described["error_code"] == 0
        assert len(described["partitions"]) == 2
    finally:
        kafka_admin.delete_topics([name], timeout_ms=30_000)


def test_topics_describe_reads_the_cluster(
    kafka_bootstrap: str, new_topics: Callable[..., list[str]]
) -> None:
    events, flagged = new_topics(2, partitions=3)
    env = {
        "FLAGSTREAM_INPUT_TOPIC": events,
        "FLAGSTREAM_FLAGGED_TOPIC": flagged,
        "FLAGSTREAM_DLQ_TOPIC": f"{events}.absent",
    }
    result = CliRunner().invoke(
        cli, ["topics", "describe", "--bootstrap", kafka_bootstrap], env=env
    )
    assert result.exit_code == 1, result.output
    assert f"{events}: 3 partitions, rf 1 (input topic)" in result.stdout
    assert f"{flagged}: 3 partitions, rf 1 (flagged topic)" in result.stdout
    assert f"{events}.absent: missing (dead-letter topic)" in result.stdout
    assert "flagstream topics create" in result.stderr


def test_lag_exporter_reads_committed_and_end_offsets(
    kafka_bootstrap: str, new_topics: Callable[..., list[str]]
) -> None:
    """The lag exporter's requests (OffsetFetch, Metadata, ListOffsets) on the running broker."""
    (topic,) = new_topics(partitions=2)
    group = f"test-lag-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        for partition, count in ((0, 7), (1, 3)):
            for i in range(count):
                producer.send(topic, value=f"{i}".encode(), partition=partition)
        producer.flush(timeout=15)
    finally:
        producer.close(timeout=5)
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    try:
        consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(5, "", -1)})
    finally:
        consumer.close()

    offsets = BrokerOffsets(admin_config(load_settings(bootstrap=kafka_bootstrap)))
    try:
        rows = offsets.poll([group], [topic], "earliest")
    finally:
        offsets.close()
    assert [(r.partition, r.committed, r.end, r.lag) for r in rows] == [
        (0, 5, 7, 2),
        (1, None, 3, 3),
    ]
