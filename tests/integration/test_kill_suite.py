"""Faults under load, on real brokers: kill -9s, a rebalance to one worker and back, a broker
restart.

``test_ten_kills…``: three workers, at least ten SIGKILLs, a 200,000-event stream; each killed
worker is restarted at once with its static group instance id, as a supervisor would.
``test_a_rebalance…``: three workers on a private broker (so restarting it disturbs no other
test); two are stopped (the group rebalances to one), started again (back to three), then the
broker is restarted under traffic.

Afterwards, each time: nothing lost (every event the model flags offline is on the flagged
topic), every malformed event dead-lettered, duplicates carry their original's ce_id, the group's
commits reach the end of every partition, no worker crashed. Durations and duplicate counts are
printed, not asserted.
"""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from streams.firehose import Firehose, Sample
from streams.kafka_clients import TopicSpec, create_topics
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import load_settings
from tests.integration.conftest import run_kafka_script
from tests.support import (
    WorkerProcess,
    metric_sum,
    read_topic,
    start_worker,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_EVENTS = 200_000
CHUNKS = 8  # produced one after the other while the workers are killed
KILLS = 10
WORKERS = 3
PARTITIONS = 6


def _samples(seed: int, n: int = N_EVENTS) -> list[Sample]:
    hose = Firehose(seed=seed, harmful=0.2, malformed=0.01)
    return [hose.sample() for _ in range(n)]


def _produce(bootstrap: str, topic: str, samples: list[Sample], chunks: int = CHUNKS) -> None:
    confluent_kafka = pytest.importorskip("confluent_kafka")
    producer = confluent_kafka.Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"}
    )
    step = len(samples) // chunks
    for c in range(chunks):
        for s in samples[c * step : (c + 1) * step if c < chunks - 1 else len(samples)]:
            while True:
                try:
                    producer.produce(topic, value=s.value, key=s.key)
                    break
                except BufferError:
                    producer.poll(0.1)
        producer.flush(120)
        time.sleep(1)  # a stream, not one preload


def _committed(admin: KafkaAdminClient, group: str, topic: str) -> int:
    """The group's committed offsets on ``topic`` (it also commits the campaign stage's)."""
    try:
        offsets = admin.list_group_offsets({group: None}).get(group, {})
    except KafkaError:
        return 0
    return sum(m.offset for tp, m in offsets.items() if tp.topic == topic and m.offset > 0)


# delivery under kills is what this suite measures, not judgement: the fast tier alone keeps its
# 200,000 events affordable in CI (the encoder tier is exercised by test_end_to_end)
FAST_ONLY = {"FLAGSTREAM_ACCURATE_MODEL_PATH": "none"}


def _expected_flagged(samples: list[Sample]) -> set[bytes]:
    pipeline = Pipeline.from_settings(load_settings(accurate_model_path="none"))
    messages = [InMessage("t", 0, i, s.value, s.key) for i, s in enumerate(samples)]
    expected: set[bytes] = set()
    for start in range(0, len(messages), 256):
        result = pipeline.process(messages[start : start + 256])
        expected.update(
            o.key for o in result.outputs if o.topic == pipeline.settings.flagged_topic and o.key
        )
    return expected


def test_ten_kills_of_three_workers_lose_nothing(
    kafka_bootstrap: str, kafka_admin: KafkaAdminClient, tmp_path: Path
) -> None:
    prefix = f"kill9-{uuid.uuid4().hex[:8]}"
    topics = {
        "FLAGSTREAM_INPUT_TOPIC": f"{prefix}.events",
        "FLAGSTREAM_FLAGGED_TOPIC": f"{prefix}.flagged",
        "FLAGSTREAM_DLQ_TOPIC": f"{prefix}.dlq",
    }
    create_topics(
        load_settings(bootstrap=kafka_bootstrap),
        [TopicSpec(name, PARTITIONS, 1) for name in topics.values()],
    )
    samples = _samples(seed=53)
    group = f"{prefix}-group"
    base = {
        "FLAGSTREAM_BOOTSTRAP": kafka_bootstrap,
        "FLAGSTREAM_GROUP_ID": group,
        **FAST_ONLY,
        **topics,
    }

    def env(i: int) -> dict[str, str]:
        return {**base, "FLAGSTREAM_GROUP_INSTANCE_ID": f"{prefix}-w{i}"}

    workers: list[WorkerProcess] = []
    producer = threading.Thread(
        target=_produce, args=(kafka_bootstrap, topics["FLAGSTREAM_INPUT_TOPIC"], samples)
    )
    rng = random.Random(7)
    kills = 0
    restarts: list[float] = []
    try:
        workers.extend(start_worker(env(i), tmp_path, f"w{i}-0") for i in range(WORKERS))
        started = time.monotonic()
        producer.start()
        # a kill each time the group has committed another share of the stream
        for k in range(KILLS):
            target = (k + 1) * N_EVENTS // (KILLS + 2)

            def reached(t: int = target) -> bool:
                return _committed(kafka_admin, group, topics["FLAGSTREAM_INPUT_TOPIC"]) >= t

            wait_until(reached, 600, f"{target} committed", interval=0.5)
            victim = rng.randrange(WORKERS)
            workers[victim].process.send_signal(signal.SIGKILL)
            workers[victim].process.wait(30)
            kills += 1
            t0 = time.monotonic()
            workers[victim] = start_worker(env(victim), tmp_path, f"w{victim}-{k + 1}")
            restarts.append(time.monotonic() - t0)
        producer.join(600)
        assert not producer.is_alive(), "producing the stream took over 10 minutes"
        wait_until(
            lambda: _committed(kafka_admin, group, topics["FLAGSTREAM_INPUT_TOPIC"]) == N_EVENTS,
            900,
            "commits to the end",
            interval=1,
        )
        elapsed = time.monotonic() - started
    finally:
        codes = [(w.stop(), w.log()[-3000:]) for w in workers]
        if producer.is_alive():
            producer.join(600)
    for code, log in codes:
        assert code == 0, log
        assert "Traceback" not in log, log
    assert kills >= KILLS

    flagged = read_topic(kafka_bootstrap, topics["FLAGSTREAM_FLAGGED_TOPIC"], timeout=300)
    ce_ids: dict[bytes, set[bytes]] = defaultdict(set)
    for record in flagged:
        ce_ids[record.key].add(dict(record.headers)["ce_id"])
    expected = _expected_flagged(samples)
    assert set(ce_ids) == expected  # nothing lost, nothing invented
    assert all(len(ids) == 1 for ids in ce_ids.values())  # a duplicate has its original's ce_id
    malformed = {s.key for s in samples if s.kind.startswith("malformed:")}
    dead = {r.key for r in read_topic(kafka_bootstrap, topics["FLAGSTREAM_DLQ_TOPIC"], timeout=300)}
    assert dead == malformed
    duplicates = len(flagged) - len(ce_ids)
    print(
        f"\nkill suite: {N_EVENTS} events, {kills} kills of {WORKERS} workers in {elapsed:.0f} s; "
        f"{len(ce_ids)} flagged, {duplicates} duplicates ({duplicates / kills:.0f} per kill), "
        f"0 lost; restarted workers serving after {max(restarts):.1f} s at most"
    )


REBALANCE_EVENTS = 60_000
# the stream in three parts, one per phase (three workers; one; three again, with the broker
# restart): each phase has traffic of its own, however fast the workers drained the part before
PARTS = 3
PART_CHUNKS = (4, 4, 20)  # the last part streams for ~20 s: traffic across the restart


def _consumed(worker: WorkerProcess) -> float:
    return metric_sum(worker.metrics(), "flagstream_events_consumed_total")


def test_a_rebalance_to_one_worker_and_back_and_a_broker_restart_lose_nothing(
    private_broker: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    bootstrap, broker_env = private_broker
    prefix = f"rebal-{uuid.uuid4().hex[:8]}"
    topics = {
        "FLAGSTREAM_INPUT_TOPIC": f"{prefix}.events",
        "FLAGSTREAM_FLAGGED_TOPIC": f"{prefix}.flagged",
        "FLAGSTREAM_DLQ_TOPIC": f"{prefix}.dlq",
    }
    create_topics(
        load_settings(bootstrap=bootstrap),
        [TopicSpec(name, PARTITIONS, 1) for name in topics.values()],
    )
    samples = _samples(seed=59, n=REBALANCE_EVENTS)
    size = REBALANCE_EVENTS // PARTS
    parts = [samples[k * size : (k + 1) * size if k < PARTS - 1 else None] for k in range(PARTS)]
    group = f"{prefix}-group"
    # dynamic membership: a stopped worker leaves the group at once, so the group rebalances to
    # one worker without waiting out a session; the broker restart may take minutes here, and a
    # busy worker must ride it out rather than give up after broker_retry_timeout_s
    env = {
        "FLAGSTREAM_BOOTSTRAP": bootstrap,
        "FLAGSTREAM_GROUP_ID": group,
        "FLAGSTREAM_BROKER_RETRY_TIMEOUT_S": "900",
        **FAST_ONLY,
        **topics,
    }
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    producers = [
        threading.Thread(
            target=_produce,
            args=(bootstrap, topics["FLAGSTREAM_INPUT_TOPIC"], part, chunks),
        )
        for part, chunks in zip(parts, PART_CHUNKS, strict=True)
    ]
    workers: list[WorkerProcess] = []
    stopped: list[WorkerProcess] = []

    def committed_through(part: int) -> bool:
        return _committed(admin, group, topics["FLAGSTREAM_INPUT_TOPIC"]) >= sum(
            len(p) for p in parts[: part + 1]
        )

    try:
        workers.extend(start_worker(env, tmp_path, f"w{i}-0") for i in range(WORKERS))
        started = time.monotonic()
        producers[0].start()
        wait_until(lambda: committed_through(0), 600, "part 1 committed by 3 workers", 0.5)

        stopped = workers[1:]  # rebalance to one worker
        for w in stopped:
            w.process.send_signal(signal.SIGTERM)
        for w in stopped:
            w.process.wait(60)
        workers = workers[:1]
        producers[1].start()
        # all of part 2, on every partition, committed: the one worker left took them all
        wait_until(lambda: committed_through(1), 600, "part 2 committed by 1 worker", 0.5)

        workers.extend(start_worker(env, tmp_path, f"w{i}-1") for i in (1, 2))  # and back
        producers[2].start()
        wait_until(
            lambda: all(_consumed(w) > 0 for w in workers[1:]),
            300,
            "both returning workers consuming part 3",
            interval=0.5,
        )

        admin.close()  # kafka-python's admin client leaks sockets reconnecting to a dead broker
        down = run_kafka_script("down", timeout=90, env=broker_env)  # a restart, under traffic
        assert down.returncode == 0, down.stderr
        up = run_kafka_script("up", timeout=300, env=broker_env)
        assert up.returncode == 0, up.stderr
        restarted = time.monotonic()
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        wait_until(lambda: committed_through(2), 900, "commits to the end", interval=1)
        after_restart_s = time.monotonic() - restarted
        elapsed = time.monotonic() - started
        for p in producers:
            p.join(600)
            assert not p.is_alive(), "producing the stream took over 10 minutes"
    finally:
        codes = [(w.stop(), w.log()[-3000:]) for w in workers]
        codes += [(w.process.wait(60), w.log()[-3000:]) for w in stopped]
        for p in producers:
            if p.is_alive():
                p.join(600)
        admin.close()
    for code, log in codes:
        assert code == 0, log
        assert "Traceback" not in log, log

    flagged = read_topic(bootstrap, topics["FLAGSTREAM_FLAGGED_TOPIC"], timeout=300)
    ce_ids: dict[bytes, set[bytes]] = defaultdict(set)
    for record in flagged:
        ce_ids[record.key].add(dict(record.headers)["ce_id"])
    assert set(ce_ids) == _expected_flagged(samples)  # nothing lost, nothing invented
    assert all(len(ids) == 1 for ids in ce_ids.values())
    malformed = {s.key for s in samples if s.kind.startswith("malformed:")}
    dead = {r.key for r in read_topic(bootstrap, topics["FLAGSTREAM_DLQ_TOPIC"], timeout=300)}
    assert dead == malformed
    duplicates = len(flagged) - len(ce_ids)
    print(
        f"\nrebalance 3 -> 1 -> 3 workers and a broker restart: {REBALANCE_EVENTS} events in "
        f"{elapsed:.0f} s; {len(ce_ids)} flagged, {duplicates} duplicates, 0 lost; commits "
        f"reached the end {after_restart_s:.0f} s after the broker was back"
    )
