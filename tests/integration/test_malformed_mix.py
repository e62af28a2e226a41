"""20,000+ malformed messages mixed with valid ones through one real worker.

Kinds: random bytes, truncated and deeply nested JSON, huge numbers, NaN, lone surrogates,
invalid UTF-8, empty values, null key and value, oversized; plus valid events with NUL inside the
text, which must be decided like any other. Every malformed message must reach the dead-letter
topic with its reason, the worker must not crash, and the group's commits must reach the end.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaError

from streams.kafka_clients import TopicSpec, create_topics
from streams.metrics import DLQ_REASONS
from streams.settings import load_settings
from tests.support import metric_sum, read_topic, start_worker, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_MALFORMED = 20_400
N_VALID = 4_000
N_NULL = 20  # records with neither key nor value
PARTITIONS = 4


def _event(i: int, text: str) -> dict[str, object]:
    return {
        "event_id": f"evt-{i}",
        "type": "post",
        "created_at": "2026-11-24T15:38:45.123Z",
        "source": "fuzz",
        "author": {"id": f"u{i % 50}"},
        "text": text,
    }


def _malformed(rng: random.Random, i: int) -> tuple[str, bytes, str]:
    """(kind, value, expected reason) for the i-th malformed message."""
    valid = orjson.dumps(_event(i, "hello there"))
    kind = (
        "random",
        "truncated",
        "nested",
        "huge_number",
        "nan",
        "surrogate",
        "invalid_utf8",
        "empty",
        "oversized",
        "not_object",
    )[i % 10]
    if kind == "random":
        raw = rng.randbytes(rng.randint(1, 200))
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return kind, raw, ""  # invalid_json or invalid_utf8: either is right
        return kind, raw, "" if isinstance(parsed, dict) else "schema"
    if kind == "truncated":
        return kind, valid[: rng.randint(1, len(valid) - 1)], "invalid_json"
    if kind == "nested":
        depth = rng.randint(65, 900)
        return kind, valid[:-1] + b',"x":' + b"[" * depth + b"]" * depth + b"}", "too_deep"
    if kind == "huge_number":
        return (
            kind,
            valid[:-1] + b',"n":1e' + str(rng.randint(309, 9999)).encode() + b"}",
            ("invalid_json"),
        )
    if kind == "nan":
        return kind, valid[:-1] + b',"n":NaN}', "invalid_json"
    if kind == "surrogate":
        return kind, valid.replace(b"hello there", b"hello \\ud800 there"), "invalid_json"
    if kind == "invalid_utf8":
        return kind, valid.replace(b"hello", b"h\xc3(llo"), "invalid_utf8"
    if kind == "empty":
        return kind, b"", "invalid_json"
    if kind == "oversized":  # keep the volume modest: ~30 MB of large records in all
        if i % 2_000 == 8:
            return kind, orjson.dumps(_event(i, "spam " * 200_000)), "too_large"  # ~1 MB
        if i % 50 == 8:
            return kind, orjson.dumps(_event(i, "x" * 66_000)), "oversized"
    return kind, b"[1, 2, 3]", "schema"


def test_twenty_thousand_malformed_messages_all_reach_the_dead_letter_topic(
    kafka_bootstrap: str, kafka_admin: KafkaAdminClient, tmp_path: Path
) -> None:
    prefix = f"mix-{uuid.uuid4().hex[:8]}"
    topics = {
        "FLAGSTREAM_INPUT_TOPIC": f"{prefix}.events",
        "FLAGSTREAM_FLAGGED_TOPIC": f"{prefix}.flagged",
        "FLAGSTREAM_DLQ_TOPIC": f"{prefix}.dlq",
    }
    create_topics(
        load_settings(bootstrap=kafka_bootstrap),
        [TopicSpec(name, PARTITIONS, 1) for name in topics.values()],
    )
    source = topics["FLAGSTREAM_INPUT_TOPIC"]
    rng = random.Random(12)
    expected: dict[bytes, tuple[str, bytes, str]] = {}
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap, linger_ms=20, max_request_size=1_048_000
    )
    try:
        for i in range(N_MALFORMED + N_VALID):
            key = f"m{i}".encode() if i < N_MALFORMED else f"v{i}".encode()
            if i < N_MALFORMED:
                kind, value, reason = _malformed(rng, i)
                expected[key] = (kind, value, reason)
            else:
                text = "free money \x00 click http://win.example" if i % 4 == 0 else "see you"
                value = orjson.dumps(_event(i, text))
            producer.send(source, key=key, value=value)
        producer.flush(timeout=300)
    finally:
        producer.close(timeout=10)
    confluent_kafka = pytest.importorskip("confluent_kafka")
    nulls = confluent_kafka.Producer({"bootstrap.servers": kafka_bootstrap})
    for _ in range(N_NULL):
        nulls.produce(source, value=None, key=None)
    assert nulls.flush(60) == 0
    total = N_MALFORMED + N_VALID + N_NULL

    group = f"{prefix}-group"
    env = {"FLAGSTREAM_BOOTSTRAP": kafka_bootstrap, "FLAGSTREAM_GROUP_ID": group, **topics}
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

        wait_until(committed_to_the_end, 900, "the group's commits to reach the end", interval=2)
        m = worker.metrics()
    finally:
        code = worker.stop()
    log = worker.log()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]
    assert metric_sum(m, "flagstream_events_consumed_total") == total
    decided = metric_sum(m, "flagstream_decisions_total")
    dead = metric_sum(m, "flagstream_dead_letters_total")
    assert decided == N_VALID  # NUL inside a text is decided, not dead-lettered
    assert dead == N_MALFORMED + N_NULL

    letters = read_topic(kafka_bootstrap, topics["FLAGSTREAM_DLQ_TOPIC"], timeout=300)
    reasons: Counter[str] = Counter()
    seen: set[bytes] = set()
    nulls_seen = 0
    for record in letters:
        headers = dict(record.headers)
        reason = headers["flagstream_dlq_reason"].decode()
        assert reason in DLQ_REASONS
        reasons[reason] += 1
        if headers.get("flagstream_dlq_null_value") == b"1":
            assert reason == "tombstone"
            nulls_seen += 1
            continue
        kind, value, want = expected[record.key]
        seen.add(record.key)
        if want:
            assert reason == want, (kind, reason)
        if reason == "too_large":
            assert value.startswith(record.value)
        else:
            assert record.value == value, kind  # byte for byte
    assert seen == set(expected)  # every malformed message, none twice unnoticed
    assert nulls_seen == N_NULL
    print(f"\nmalformed mix: {total} records, dead letters by reason {dict(reasons)}")
