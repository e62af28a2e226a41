"""The signals topic: a log-compacted Kafka topic holding every list's signals by stable key.

Readers never join a consumer group: each assigns itself every partition and reads from the
beginning (compaction keeps the newest record per key, and tombstones until
``delete.retention.ms``), so every worker holds all signals and no offsets are committed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Final

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.errors import BrokerError
from streams.kafka_clients import admin_client, consumer, producer
from streams.networks.signals import Signal
from streams.settings import Settings

log = logging.getLogger(__name__)

TOPIC_CONFIG: Final = {
    "cleanup.policy": "compact",
    # a tombstone stays a day so that a reader that was down for less still sees the removal
    "delete.retention.ms": str(86_400_000),
    "min.compaction.lag.ms": "0",
}
Record = tuple[str, bytes | None]  # key, value (None: a tombstone)


def ensure_topic(settings: Settings) -> bool:
    """Create the compacted signals topic unless it exists; True if it exists afterwards."""
    admin = admin_client(settings, "flagstream-signals-admin")
    try:
        if settings.signals_topic in set(admin.list_topics()):
            return True
        with contextlib.suppress(TopicAlreadyExistsError):  # another worker was first
            admin.create_topics(
                # one partition (lists are small, read whole by every worker); the broker's
                # default replication, as for the campaign stage's topics: never a lone copy on
                # a production cluster
                [NewTopic(settings.signals_topic, 1, -1, topic_configs=TOPIC_CONFIG)],
                timeout_ms=30_000,
            )
        return True
    except KafkaError as exc:
        raise BrokerError(
            f"creating the signals topic {settings.signals_topic!r} on {settings.bootstrap} "
            f"failed ({exc!r}); create it compacted (cleanup.policy=compact) or check the broker"
        ) from None
    finally:
        admin.close()


def topic_reader(settings: Settings, client_id: str) -> KafkaConsumer:
    """A group-less consumer for the signals topic (assign, not subscribe)."""
    return consumer(
        settings,
        client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # a metadata request must not create the topic: it would not be compacted
        allow_auto_create_topics=False,
    )


def assign_all(reader: KafkaConsumer, topic: str) -> list[TopicPartition]:
    """Assign every partition of ``topic`` from its beginning; [] if the topic does not exist."""
    partitions = [
        TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())
    ]
    if partitions:
        reader.assign(partitions)
        reader.seek_to_beginning(*partitions)
    return partitions


def poll_records(reader: KafkaConsumer, timeout_ms: int) -> list[Record]:
    out: list[Record] = []
    for batch in reader.poll(timeout_ms=timeout_ms, max_records=10_000).values():
        out.extend((r.key.decode("utf-8", "replace"), r.value) for r in batch if r.key is not None)
    return out


def read_to_end(
    reader: KafkaConsumer, partitions: list[TopicPartition], timeout_s: float, topic: str
) -> Iterator[list[Record]]:
    """Batches of records up to the end offsets taken now; BrokerError past ``timeout_s``."""
    if not partitions:
        return
    end = reader.end_offsets(partitions)
    deadline = time.monotonic() + timeout_s
    while any(reader.position(tp) < end[tp] for tp in partitions):
        if time.monotonic() > deadline:
            raise BrokerError(
                f"reading the signals topic {topic!r} to its end took over {timeout_s:.0f}s; "
                "check the broker, or raise FLAGSTREAM_SIGNALS_LOAD_TIMEOUT_S"
            )
        yield poll_records(reader, 500)


def read_all(settings: Settings, timeout_s: float) -> dict[str, bytes]:
    """The live signals: key → record, tombstoned keys left out (the compacted view)."""
    reader = topic_reader(settings, "flagstream-signals-export")
    try:
        live: dict[str, bytes] = {}
        partitions = assign_all(reader, settings.signals_topic)
        for batch in read_to_end(reader, partitions, timeout_s, settings.signals_topic):
            for key, value in batch:
                if value is None:
                    live.pop(key, None)
                else:
                    live[key] = value
        return live
    finally:
        reader.close()


def publish(settings: Settings, signals: Iterable[Signal], tombstones: Iterable[str] = ()) -> int:
    """Write signals (and tombstones by key) and wait for the broker; the count sent."""
    out = producer(settings, "flagstream-signals", acks="all")
    try:
        futures = [
            out.send(settings.signals_topic, key=s.key.encode(), value=s.to_json()) for s in signals
        ]
        futures += [
            out.send(settings.signals_topic, key=k.encode(), value=None) for k in tombstones
        ]
        out.flush(timeout=60)
        for future in futures:
            future.get(timeout=60)
        return len(futures)
    except KafkaError as exc:
        raise BrokerError(
            f"writing to the signals topic {settings.signals_topic!r} failed ({exc!r}); "
            "check the broker and that the topic exists (flagstream signals import creates it)"
        ) from None
    finally:
        out.close()
