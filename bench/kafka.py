"""The harness's own Kafka plumbing, on librdkafka (confluent-kafka) so that it costs the
contenders as little CPU as possible: topics, committed offsets, and scanning output topics."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bench.errors import BenchError
from streams.errors import ConfigError
from streams.settings import Settings, load_settings

# Output topics stamp the broker's append time: throughput is read from outside every contender
# from the first and last output record, whatever client each contender produces with.
OUTPUT_TOPIC_CONFIG = {"message.timestamp.type": "LogAppendTime"}


# FLAGSTREAM_* variables of the connection's security (and their *_FILE forms): the harness
# reads them, and passes them on to every contender it starts
SECURITY_PREFIXES = ("FLAGSTREAM_SECURITY_PROTOCOL", "FLAGSTREAM_SASL_", "FLAGSTREAM_SSL_")


def librdkafka_security(settings: Settings) -> dict[str, Any]:
    """librdkafka's names for the security settings (empty for PLAINTEXT)."""
    conf: dict[str, Any] = {}
    if settings.security_protocol != "PLAINTEXT":
        conf["security.protocol"] = settings.security_protocol.lower()
    if settings.sasl_mechanism is not None:
        conf["sasl.mechanism"] = settings.sasl_mechanism
        conf["sasl.username"] = settings.sasl_username
        if settings.sasl_password is not None:
            conf["sasl.password"] = settings.sasl_password.get_secret_value()
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        if settings.ssl_ca_file is not None:
            conf["ssl.ca.location"] = str(settings.ssl_ca_file)
        if settings.ssl_cert_file is not None:
            conf["ssl.certificate.location"] = str(settings.ssl_cert_file)
            conf["ssl.key.location"] = str(settings.ssl_key_file or settings.ssl_cert_file)
        if settings.ssl_key_password is not None:
            conf["ssl.key.password"] = settings.ssl_key_password.get_secret_value()
        conf["ssl.endpoint.identification.algorithm"] = (
            "https" if settings.ssl_check_hostname else "none"
        )
    return conf


def client_conf(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """A librdkafka client's configuration: ``bootstrap`` with the FLAGSTREAM_* security."""
    try:
        settings = load_settings(bootstrap=bootstrap)
    except ConfigError as exc:
        raise BenchError(str(exc)) from None
    return {"bootstrap.servers": bootstrap, **librdkafka_security(settings), **extra}


def admin(bootstrap: str) -> AdminClient:
    return AdminClient(client_conf(bootstrap))


def check_broker(bootstrap: str, timeout_s: float = 10.0) -> None:
    """Raise :class:`BenchError` with the fix if no broker answers at ``bootstrap``."""
    try:
        admin(bootstrap).list_topics(timeout=timeout_s)
    except KafkaException as exc:
        raise BenchError(
            f"no Kafka broker at {bootstrap} ({exc}): start one with `deploy/local/kafka up` "
            "or pass --bootstrap"
        ) from None


def topic_exists(bootstrap: str, topic: str) -> bool:
    return topic in admin(bootstrap).list_topics(timeout=10).topics


def create_topics(
    bootstrap: str, names: list[str], partitions: int, config: dict[str, str] | None = None
) -> None:
    """Create the topics (single broker: replication 1) and wait until each exists."""
    client = admin(bootstrap)
    futures = client.create_topics(
        [
            NewTopic(n, num_partitions=partitions, replication_factor=1, config=config or {})
            for n in names
        ],
        operation_timeout=30,
    )
    for name, fut in futures.items():
        try:
            fut.result(timeout=60)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise BenchError(f"cannot create topic {name}: {exc}") from None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        md = client.list_topics(timeout=10).topics
        if all(n in md and len(md[n].partitions) == partitions for n in names):
            return
        time.sleep(0.2)
    raise BenchError(f"topics {names} were not visible 30 s after creation")


def delete_topics(bootstrap: str, names: list[str]) -> None:
    if not names:
        return
    client = admin(bootstrap)  # keep a reference: the futures die with their client
    for fut in client.delete_topics(names, operation_timeout=30).values():
        # deleting is housekeeping: a topic left over is harmless
        with contextlib.suppress(KafkaException, TimeoutError):
            fut.result(timeout=60)


def _consumer(bootstrap: str, group: str | None = None, **extra: Any) -> Consumer:
    conf: dict[str, Any] = {
        **client_conf(bootstrap),
        "group.id": group or "flagstream-bench-reader",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "auto.offset.reset": "earliest",
    }
    conf.update(extra)
    return Consumer(conf)


def end_offsets(bootstrap: str, topic: str, partitions: int) -> list[int]:
    """High watermarks; retried briefly, as a new topic's leaders take a moment to be known."""
    c = _consumer(bootstrap)
    try:
        for attempt in range(20):
            try:
                return [
                    c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                    for p in range(partitions)
                ]
            except KafkaException:
                if attempt == 19:
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")
    finally:
        c.close()


_COORDINATOR_WAIT = frozenset(
    (
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    )
)


def committed_total(bootstrap: str, group: str, topic: str, partitions: int) -> int:
    """Sum over partitions of the group's committed offsets (0 where it has none yet)."""
    c = _consumer(bootstrap, group)
    try:
        for attempt in range(20):
            try:
                tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
                return sum(max(tp.offset, 0) for tp in tps)
            except KafkaException as exc:
                # a fresh broker answers NOT_COORDINATOR (or loading) until the group
                # coordinator's offsets partition is ready: retriable, bounded
                err = exc.args[0]
                if attempt == 19 or not (err.retriable() or err.code() in _COORDINATOR_WAIT):
                    raise
                time.sleep(0.5)
        raise AssertionError("unreachable")
    finally:
        c.close()


@dataclass(slots=True)
class TopicScan:
    """What a topic holds: record count and first/last broker timestamps (ms)."""

    count: int
    first_ts_ms: int | None
    last_ts_ms: int | None
    # flagged events per `decided_by` (fast, accurate, fast-degraded, ...), when asked for;
    # "-" counts records without one (raw-transport forwards input events unchanged)
    decided_by: dict[str, int] = field(default_factory=dict)


def _decided_by(value: bytes | None) -> str:
    try:
        doc = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return "-"
    got = doc.get("decided_by") if isinstance(doc, dict) else None
    return got if isinstance(got, str) else "-"


def scan_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    timeout_s: float = 120.0,
    *,
    decided_by: bool = False,
    compacted: bool = False,
) -> TopicScan:
    """Read a whole topic once, up to each partition's end offset, counting records and
    tracking their min/max timestamps; with ``decided_by``, also count the records per
    ``decided_by`` field (flagged events). A ``compacted`` topic (a table's changelog) has gaps
    in its offsets: its count is the writes made (the end offsets' sum), not the records the
    compaction kept."""
    ends = end_offsets(bootstrap, topic, partitions)
    total = sum(ends)
    if total == 0:
        return TopicScan(0, None, None)
    c = _consumer(bootstrap, None, **{"fetch.max.bytes": 52_428_800})
    c.assign([TopicPartition(topic, p, 0) for p, end in enumerate(ends) if end])
    pending = {p for p, end in enumerate(ends) if end}
    seen, lo, hi = 0, None, None
    deciders: Counter[str] = Counter()
    deadline = time.monotonic() + timeout_s
    try:
        while pending and time.monotonic() < deadline:
            for msg in c.consume(num_messages=10_000, timeout=1.0):
                if msg.error():
                    continue
                seen += 1
                if msg.offset() + 1 >= ends[msg.partition()]:
                    pending.discard(msg.partition())
                if decided_by:
                    deciders[_decided_by(msg.value())] += 1
                ts = msg.timestamp()[1]
                lo = ts if lo is None or ts < lo else lo
                hi = ts if hi is None or ts > hi else hi
    finally:
        c.close()
    if pending:
        raise BenchError(
            f"read {seen} of {total} records of {topic} in {timeout_s:.0f} s "
            f"(partitions {sorted(pending)} short of their end)"
        )
    return TopicScan(total if compacted else seen, lo, hi, dict(sorted(deciders.items())))
