"""Preload: N events into a topic with P partitions, once; later runs reuse a complete topic."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Producer

from bench import kafka
from bench.errors import BenchError
from bench.workload import MALFORMED, Workload

PRELOAD_PREFIX = "pre"


@dataclass(frozen=True, slots=True)
class Preloaded:
    topic: str
    events: int
    partitions: int
    malformed: int
    reused: bool
    seconds: float


def preload_topic_name(n: int, partitions: int, seed: int) -> str:
    return f"bench.input.n{n}.p{partitions}.s{seed}"


def preload(bootstrap: str, workload: Workload, n: int, partitions: int, seed: int) -> Preloaded:
    """Fill ``bench.input.n<N>.p<P>.s<seed>`` with exactly ``n`` events, or reuse it if complete."""
    topic = preload_topic_name(n, partitions, seed)
    malformed = workload.count(n, MALFORMED)
    if kafka.topic_exists(bootstrap, topic):
        if sum(kafka.end_offsets(bootstrap, topic, partitions)) == n:
            return Preloaded(topic, n, partitions, malformed, True, 0.0)
        kafka.delete_topics(bootstrap, [topic])  # a half-written preload from an interrupted run
        time.sleep(2)
    kafka.create_topics(bootstrap, [topic], partitions)
    producer = Producer(
        {
            **kafka.client_conf(bootstrap),
            "linger.ms": 20,
            "batch.num.messages": 10_000,
            "compression.type": "none",
            "acks": "all",
            "queue.buffering.max.messages": 200_000,
        }
    )
    errors: list[str] = []

    def on_delivery(err: object, _msg: object) -> None:
        if err is not None and len(errors) < 5:
            errors.append(str(err))

    started = time.monotonic()
    created = time.time()
    for key, value, _ in workload.events(n, PRELOAD_PREFIX, created):
        for _attempt in range(10_000):  # a full local queue drains in milliseconds
            try:
                producer.produce(topic, value, key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        else:
            raise BenchError("preload: the producer queue stayed full for 100 s")
        producer.poll(0)
    left = producer.flush(120)
    if left or errors:
        raise BenchError(f"preload of {topic} failed: {left} undelivered, errors {errors}")
    seconds = time.monotonic() - started
    got = sum(kafka.end_offsets(bootstrap, topic, partitions))
    if got != n:
        raise BenchError(f"preload of {topic}: {got} records instead of {n}")
    return Preloaded(topic, n, partitions, malformed, False, seconds)
