"""10,000+ events through a real worker process on the real broker, reconciled exactly.

consumed = allowed + flagged + dead-lettered; every flagged message is a schema-valid CloudEvent;
every dead letter is byte-identical to what was sent. Throughput is printed, never asserted.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import jsonschema
import orjson
import pytest
from kafka import KafkaAdminClient, KafkaProducer

from streams.events import load_schema
from streams.firehose import MALFORMED_KINDS, Firehose, Sample
from streams.kafka_clients import TopicSpec, create_topics
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import load_settings
from tests.support import metric_sum, read_topic, start_worker, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_EVENTS = 10_400
PARTITIONS = 4
EXPECTED_REASON = {
    "bad_json": "invalid_json",
    "wrong_type": "schema",
    "missing_field": "schema",
    "invalid_utf8": "invalid_utf8",
    "oversized": "oversized",
    "not_object": "schema",
}


def _topics(bootstrap: str, prefix: str) -> dict[str, str]:
    names = {
        "FLAGSTREAM_INPUT_TOPIC": f"{prefix}.events",
        "FLAGSTREAM_FLAGGED_TOPIC": f"{prefix}.flagged",
        "FLAGSTREAM_DLQ_TOPIC": f"{prefix}.dlq",
    }
    settings = load_settings(bootstrap=bootstrap)
    create_topics(settings, [TopicSpec(name, PARTITIONS, 1) for name in names.values()])
    return names


def _samples(count: int, seed: int) -> list[Sample]:
    hose = Firehose(seed=seed, harmful=0.25, malformed=0.03)
    samples = [hose.sample() for _ in range(count)]
    # every malformed kind at least twice, whatever the draw
    samples += [hose._malformed_sample(kind) for kind in MALFORMED_KINDS for _ in range(2)]
    return samples


def _send(bootstrap: str, topic: str, samples: list[Sample]) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=1_048_576
    )
    try:
        for sample in samples:
            producer.send(topic, value=sample.value, key=sample.key)
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=10)


@pytest.fixture
def flagged_validator() -> jsonschema.Draft7Validator:
    schema = load_schema("flagged.v1.json")
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def test_ten_thousand_events_reconcile_exactly(
    kafka_bootstrap: str, tmp_path: Path, flagged_validator: jsonschema.Draft7Validator
) -> None:
    prefix = f"e2e-{uuid.uuid4().hex[:8]}"
    topics = _topics(kafka_bootstrap, prefix)
    samples = _samples(N_EVENTS, seed=11)
    malformed = [s for s in samples if s.kind.startswith("malformed:")]
    langs = Counter(
        s.lang for s in samples if s.kind not in ("benign",) and not s.kind.startswith("malformed")
    )
    assert langs["zh"] > 100
    assert langs["en"] > 100

    group = f"{prefix}-group"
    env = {"FLAGSTREAM_BOOTSTRAP": kafka_bootstrap, "FLAGSTREAM_GROUP_ID": group, **topics}
    total = len(samples)
    _send(kafka_bootstrap, topics["FLAGSTREAM_INPUT_TOPIC"], samples)  # preload, then drain
    worker = start_worker(env, tmp_path)
    try:
        first_seen: list[float] = []

        def all_decided() -> bool:
            m = worker.metrics()
            if not first_seen and metric_sum(m, "flagstream_events_consumed_total") > 0:
                first_seen.append(time.monotonic())
            done = metric_sum(m, "flagstream_decisions_total") + metric_sum(
                m, "flagstream_dead_letters_total"
            )
            return done >= total

        wait_until(all_decided, 600, f"{total} events decided", interval=0.1)
        drained_s = time.monotonic() - first_seen[0]
        m = worker.metrics()
        wait_until(  # ready from the Faust app's start; the drain may be over before the probe
            lambda: (worker.probe("/healthz"), worker.probe("/readyz")) == (200, 200),
            10,
            "/healthz and /readyz to answer 200",
        )
    finally:
        code = worker.stop()
    log = worker.log()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-3000:]

    consumed = metric_sum(m, "flagstream_events_consumed_total")
    allowed = metric_sum(m, "flagstream_decisions_total", action="allow")
    review = metric_sum(m, "flagstream_decisions_total", action="review")
    block = metric_sum(m, "flagstream_decisions_total", action="block")
    dead = metric_sum(m, "flagstream_dead_letters_total")
    assert consumed == total
    assert consumed == allowed + review + block + dead
    assert dead == len(malformed)
    assert (
        review + block > 0.1 * total
    )  # the harmful share is 25%; a model that flags nothing fails

    flagged = read_topic(kafka_bootstrap, topics["FLAGSTREAM_FLAGGED_TOPIC"])
    assert len(flagged) == review + block
    sent_by_key = {s.key: s for s in samples}
    actions: Counter[str] = Counter()
    for record in flagged:
        payload = orjson.loads(record.value)
        errors = list(flagged_validator.iter_errors(payload))
        assert not errors, (errors[0].message, payload)
        headers = dict(record.headers)
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_type"] == b"io.flagstream.moderation.flagged.v1"
        assert headers["content-type"] == b"application/json"
        assert headers["ce_subject"] == record.key
        assert record.key == payload["event_id"].encode()
        assert orjson.loads(sent_by_key[record.key].value) == payload["event"]
        actions[payload["action"]] += 1
    assert actions["review"] == review
    assert actions["block"] == block

    dead_letters = read_topic(kafka_bootstrap, topics["FLAGSTREAM_DLQ_TOPIC"])
    assert Counter((r.key, r.value) for r in dead_letters) == Counter(
        (s.key, s.value) for s in malformed
    )
    for record in dead_letters:
        headers = dict(record.headers)
        kind = sent_by_key[record.key].kind.removeprefix("malformed:")
        assert headers["flagstream_dlq_reason"].decode() == EXPECTED_REASON[kind]
        assert headers["flagstream_source_topic"].decode() == topics["FLAGSTREAM_INPUT_TOPIC"]
        assert int(headers["flagstream_source_offset"]) >= 0
        assert headers["flagstream_dlq_detail"]
    for kind, reason in EXPECTED_REASON.items():
        assert metric_sum(m, "flagstream_dead_letters_total", reason=reason) >= 2, kind

    # the clean shutdown committed everything it processed
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        committed = admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()
    # the input topic's: the group also consumes the campaign stage's repartition topic
    source = topics["FLAGSTREAM_INPUT_TOPIC"]
    assert sum(m.offset for tp, m in committed.items() if tp.topic == source and m.offset > 0) == (
        total
    )

    print(
        f"\nend-to-end drain: {total} events in {drained_s:.2f}s = {total / drained_s:.0f} events/s"
    )


def test_sigterm_mid_stream_loses_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Stop a worker mid-stream, start another: every flagged event the model would flag is published."""
    prefix = f"e2e-term-{uuid.uuid4().hex[:8]}"
    topics = _topics(kafka_bootstrap, prefix)
    samples = _samples(6_000, seed=23)
    env = {
        "FLAGSTREAM_BOOTSTRAP": kafka_bootstrap,
        "FLAGSTREAM_GROUP_ID": f"{prefix}-group",
        **topics,
    }
    _send(kafka_bootstrap, topics["FLAGSTREAM_INPUT_TOPIC"], samples)

    # small batches keep the first worker busy long enough to be stopped mid-stream
    first = start_worker({**env, "FLAGSTREAM_BATCH_MAX": "16"}, tmp_path, "first")
    consumed_by_first = 0.0
    try:

        def started() -> bool:
            nonlocal consumed_by_first
            consumed_by_first = metric_sum(first.metrics(), "flagstream_events_consumed_total")
            return consumed_by_first > 0

        wait_until(started, 120, "the first worker's first batches", interval=0.05)
    finally:
        assert first.stop() == 0, first.log()[-3000:]
    assert "batch failed" not in first.log()
    assert 0 < consumed_by_first < len(samples)

    expected_flagged = _expected_flagged(samples)
    flagged_topic = topics["FLAGSTREAM_FLAGGED_TOPIC"]
    second = start_worker(env, tmp_path, "second")
    try:

        def caught_up() -> bool:
            keys = {r.key for r in read_topic(kafka_bootstrap, flagged_topic)}
            return expected_flagged <= keys

        wait_until(caught_up, 600, "every expected flagged event", interval=2)
    finally:
        assert second.stop() == 0, second.log()[-3000:]
    keys = Counter(r.key for r in read_topic(kafka_bootstrap, flagged_topic))
    assert set(keys) == expected_flagged  # nothing lost, nothing invented; duplicates are allowed


def _expected_flagged(samples: list[Sample]) -> set[bytes]:
    """What the same model and policy flag when run in-process on the same inputs."""
    pipeline = Pipeline.from_settings(load_settings())
    messages = [InMessage("t", 0, i, s.value, s.key) for i, s in enumerate(samples)]
    expected: set[bytes] = set()
    for start in range(0, len(messages), 256):
        result = pipeline.process(messages[start : start + 256])
        expected.update(
            o.key for o in result.outputs if o.topic == pipeline.settings.flagged_topic and o.key
        )
    return expected


def test_rebalances_under_traffic_lose_nothing(kafka_bootstrap: str, tmp_path: Path) -> None:
    """A second worker joins mid-stream and the first leaves while events keep arriving.

    Two rebalances move partitions between workers with batches in flight; afterwards every
    event the model flags is published, every malformed event is dead-lettered byte for byte, and
    the group's committed offsets reach the end of every partition.
    """
    prefix = f"e2e-rebal-{uuid.uuid4().hex[:8]}"
    topics = _topics(kafka_bootstrap, prefix)
    chunks = [_samples(n, seed=seed) for n, seed in ((12_000, 31), (3_000, 37), (3_000, 41))]
    samples = [s for chunk in chunks for s in chunk]
    group = f"{prefix}-group"
    env = {"FLAGSTREAM_BOOTSTRAP": kafka_bootstrap, "FLAGSTREAM_GROUP_ID": group, **topics}
    slow = {**env, "FLAGSTREAM_BATCH_MAX": "4"}  # tiny batches: still busy when the group changes
    source = topics["FLAGSTREAM_INPUT_TOPIC"]
    _send(kafka_bootstrap, source, chunks[0])

    a = start_worker(slow, tmp_path, "a")
    b = None
    try:
        wait_until(
            lambda: metric_sum(a.metrics(), "flagstream_events_consumed_total") > 0,
            120,
            "worker a's first batches",
            interval=0.05,
        )
        b = start_worker(slow, tmp_path, "b")  # rebalance 1: b takes some of a's partitions
        _send(kafka_bootstrap, source, chunks[1])  # new events on every partition
        wait_until(
            lambda: metric_sum(b.metrics(), "flagstream_events_consumed_total") > 0,
            120,
            "worker b's first batches (it was assigned partitions)",
            interval=0.1,
        )
        a_consumed = metric_sum(a.metrics(), "flagstream_events_consumed_total")
        _send(kafka_bootstrap, source, chunks[2])
        assert a.stop() == 0, a.log()[-3000:]  # rebalance 2: b takes everything

        def committed_everything() -> bool:
            return _committed_total(kafka_bootstrap, group, source) == len(samples)

        wait_until(committed_everything, 600, "the group's commits to reach the end", interval=1)
    finally:
        codes = [(w.stop(), w.log()[-3000:]) for w in (a, b) if w is not None]  # stop both first
    for code, log in codes:
        assert code == 0, log
    assert 0 < a_consumed < len(samples)
    for worker in (a, b):
        assert worker is not None
        assert "batch failed" not in worker.log()
        assert "Traceback" not in worker.log(), worker.log()[-3000:]

    flagged = Counter(
        r.key for r in read_topic(kafka_bootstrap, topics["FLAGSTREAM_FLAGGED_TOPIC"])
    )
    assert set(flagged) == _expected_flagged(samples)  # duplicates allowed (at-least-once)
    malformed = {(s.key, s.value) for s in samples if s.kind.startswith("malformed:")}
    dead = {(r.key, r.value) for r in read_topic(kafka_bootstrap, topics["FLAGSTREAM_DLQ_TOPIC"])}
    assert dead == malformed


def _committed_total(bootstrap: str, group: str, topic: str) -> int:
    """The group's committed offsets on ``topic`` (it also commits the campaign stage's)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets({group: None})[group]
    finally:
        admin.close()
    return sum(m.offset for tp, m in committed.items() if tp.topic == topic and m.offset > 0)
