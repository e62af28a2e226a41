"""Single records that used to crash-loop their partition, through a real worker on the broker.

Each is followed by valid events on the same partition: the worker must dead-letter the bad
record with its reason, go on with the partition, and commit to its end (issue 12).
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError

from tests.support import metric_sum, read_topic, start_worker, wait_until

pytestmark = [pytest.mark.e2e]

BIG_TOPIC_BYTES = 6_000_000  # the input topic takes records this large


def _event(i: int, text: str = "see you tomorrow at the meeting", **extra: object) -> bytes:
    body: dict[str, object] = {
        "event_id": f"evt-{i}",
        "type": "post",
        "created_at": "2026-11-24T15:38:45.123Z",
        "source": "tests",
        "author": {"id": "u1"},
        "text": text,
        **extra,
    }
    return orjson.dumps(body)


def _nested(levels: int) -> bytes:
    return (
        b'{"event_id":"deep","type":"post","created_at":"2026-11-24T15:38:45Z","source":"t","author":{"id":"u"},"text":"x","x":'
        + (b"[" * levels + b"1" + b"]" * levels)
        + b"}"
    )


def _produce_null_record(bootstrap: str, topic: str) -> None:
    """A record with neither key nor value (librdkafka produces one; kafka-python does not)."""
    confluent_kafka = pytest.importorskip("confluent_kafka")
    producer = confluent_kafka.Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, value=None, key=None)
    assert producer.flush(30) == 0


def test_each_former_poison_pill_is_dead_lettered_and_the_partition_moves_on(
    kafka_bootstrap: str, kafka_admin: KafkaAdminClient, tmp_path: Path
) -> None:
    prefix = f"poison-{uuid.uuid4().hex[:8]}"
    source, flagged, dlq = f"{prefix}.events", f"{prefix}.flagged", f"{prefix}.dlq"
    kafka_admin.create_topics(
        [
            NewTopic(source, 1, 1, topic_configs={"max.message.bytes": str(BIG_TOPIC_BYTES)}),
            NewTopic(flagged, 1, 1),
            NewTopic(dlq, 1, 1),
        ]
    )
    kafka_admin.wait_for_topics([source, flagged, dlq], timeout_ms=30_000)
    one_mb = _event(1, "spam " * 207_000)  # ~1 MB: over max_event_bytes, its dead letter too big
    five_mb = _event(2, "spam " * 1_000_000)
    records: list[tuple[bytes | None, bytes | None, str]] = [
        (b"k-1mb", one_mb, "too_large"),
        (b"k-5mb", five_mb, "too_large"),
        (b"k-nul", _event(3, "free money\x00 click http://win.example now"), ""),
        (None, None, "tombstone"),
        (b"k-deep", _nested(300), "too_deep"),
        (b"k-deeper", _nested(5000), "invalid_json"),  # past orjson's own limit
        (b"k-empty", b"", "invalid_json"),
    ]
    valid = [(f"ok-{i}".encode(), _event(100 + i), "") for i in range(50)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, max_request_size=BIG_TOPIC_BYTES)
    try:
        for key, value, _ in records:
            if key is None and value is None:  # kafka-python refuses to produce one
                _produce_null_record(kafka_bootstrap, source)
            else:
                producer.send(source, key=key, value=value)
            producer.flush(timeout=60)  # keep the records in this order
        for key, value, _ in valid:
            producer.send(source, key=key, value=value)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    total = len(records) + len(valid)
    group = f"{prefix}-group"
    env = {
        "FLAGSTREAM_BOOTSTRAP": kafka_bootstrap,
        "FLAGSTREAM_GROUP_ID": group,
        "FLAGSTREAM_INPUT_TOPIC": source,
        "FLAGSTREAM_FLAGGED_TOPIC": flagged,
        "FLAGSTREAM_DLQ_TOPIC": dlq,
        "FLAGSTREAM_BATCH_MAX": "4",  # the bad records share batches with good ones
    }
    worker = start_worker(env, tmp_path)
    try:

        def committed_to_the_end() -> bool:
            if not worker.alive():
                raise AssertionError(f"the worker died:\n{worker.log()[-3000:]}")
            try:
                offsets = kafka_admin.list_group_offsets({group: None}).get(group, {})
            except KafkaError:  # the group's coordinator is not there yet
                return False
            return sum(m.offset for m in offsets.values() if m.offset > 0) == total

        wait_until(committed_to_the_end, 180, "commits to reach the end of the input topic")
        assert worker.alive()
        m = worker.metrics()
    finally:
        code = worker.stop()
    log = worker.log()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert metric_sum(m, "flagstream_events_consumed_total") == total

    letters = read_topic(kafka_bootstrap, dlq)
    by_key = {r.key: r for r in letters}
    for key, value, reason in records:
        if not reason:
            continue
        if key is None:
            tombstones = [r for r in letters if dict(r.headers).get("flagstream_dlq_null_value")]
            assert len(tombstones) == 1
            assert dict(tombstones[0].headers)["flagstream_dlq_reason"] == b"tombstone"
            assert tombstones[0].value == b""
            continue
        letter = by_key[key]
        headers = dict(letter.headers)
        assert headers["flagstream_dlq_reason"].decode() == reason, key
        if reason == "too_large":
            assert value is not None
            assert len(letter.value) < len(value)
            assert value.startswith(letter.value)  # a prefix of the original
            assert (
                headers["flagstream_original_sha256"] == hashlib.sha256(value).hexdigest().encode()
            )
            assert int(headers["flagstream_original_size"]) > len(value)
            assert (
                headers["flagstream_dlq_truncated"] == f"{len(letter.value)}/{len(value)}".encode()
            )
            assert b"oversized" in headers["flagstream_dlq_detail"]
            assert letter.serialized_value_size < 1_000_000
        else:
            assert letter.value == value  # byte for byte
    assert metric_sum(m, "flagstream_dead_letters_total", reason="too_large") == 2
    assert metric_sum(m, "flagstream_dead_letters_total", reason="tombstone") == 1
    assert metric_sum(m, "flagstream_dead_letters_total", reason="too_deep") == 1
    decided = metric_sum(m, "flagstream_decisions_total")
    assert decided == len(valid) + 1  # the NUL event is decided like any other
    flagged_keys = {r.key for r in read_topic(kafka_bootstrap, flagged)}
    assert b"evt-3" in flagged_keys  # the NUL event (a scam) is flagged
