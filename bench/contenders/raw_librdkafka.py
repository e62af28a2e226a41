"""raw-librdkafka: a raw confluent-kafka loop, the second practical limit.

librdkafka fetches and produces in its own C threads, without the GIL, so the Python side is one
plain loop: ``consume`` a batch → ``Pipeline.process`` (the worker's decode, model, policy and
output records) → ``produce`` every output → commit. At-least-once as the worker: a batch's
offsets are committed only once the broker acknowledged all of its outputs, and in order; the
delivery reports of one batch are collected while the next batch is processed. Same producer
settings as the worker (acks=all, linger 1 ms, the same request size limit).

A delivery that fails (after librdkafka's own retries) stops the loop with status 70 without
committing the batch, as the worker does when the broker is gone; the benchmark's workload has no
record a publish would refuse.
"""

from __future__ import annotations

import signal
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

from bench.contenders import common
from bench.kafka import librdkafka_security
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import Settings

EXIT_DELIVERY_FAILED = 70
IDLE_POLL_S = 0.1  # longest wait for records when idle (then pending commits are made)


@dataclass(slots=True)
class _Batch:
    """One consumed batch: the offsets to commit once its ``pending`` outputs are delivered."""

    offsets: dict[tuple[str, int], int]
    pending: int = 0
    errors: list[str] = field(default_factory=list)


def _offsets(messages: Sequence[InMessage]) -> dict[tuple[str, int], int]:
    offsets: dict[tuple[str, int], int] = {}
    for msg in messages:
        offsets[(msg.topic, msg.partition)] = msg.offset + 1
    return offsets


class Loop:
    """The consume → classify → produce → commit loop."""

    def __init__(self, s: Settings) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": s.bootstrap,
                **librdkafka_security(s),
                "group.id": s.group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": s.auto_offset_reset,
                "max.partition.fetch.bytes": 1_048_576,
            }
        )
        self._producer = Producer(
            {
                "bootstrap.servers": s.bootstrap,
                **librdkafka_security(s),
                "acks": "all",
                "linger.ms": 1,
                "message.max.bytes": s.producer_max_request_bytes,
            }
        )
        self._pipeline = Pipeline.from_settings(s)
        self._topic = s.input_topic
        self._batch_max = s.batch_max
        self._in_flight: deque[_Batch] = deque()
        self._stop = False

    def stop(self, _signum: int = 0, _frame: FrameType | None = None) -> None:
        self._stop = True

    def run(self) -> int:
        consumer, producer = self._consumer, self._producer
        consumer.subscribe([self._topic])
        process = self._pipeline.process
        produce = producer.produce
        try:
            while not self._stop:
                # poll waits for the first record only; consume(timeout=0) then takes what else
                # has arrived (consume(n, timeout) would wait for n records or the timeout)
                first = consumer.poll(IDLE_POLL_S)
                producer.poll(0)  # delivery reports of earlier batches
                if self._commit_delivered() != 0:
                    return EXIT_DELIVERY_FAILED
                if first is None:
                    continue
                records = [first, *consumer.consume(self._batch_max - 1, 0)]
                messages = [_message(r) for r in records if r.error() is None]
                batch = _Batch(_offsets(messages))
                outputs = process(messages).outputs
                batch.pending = len(outputs)
                self._in_flight.append(batch)
                for out in outputs:
                    produce(
                        out.topic,
                        out.value,
                        out.key,
                        headers=list(out.headers),
                        on_delivery=lambda err, _msg, b=batch: _delivered(b, err),
                    )
            producer.flush(10)
            return self._commit_delivered()
        finally:
            consumer.close()

    def _commit_delivered(self) -> int:
        """Commit the offsets of the oldest batches whose outputs are all delivered."""
        offsets: dict[tuple[str, int], int] = {}
        while self._in_flight and self._in_flight[0].pending <= 0:
            batch = self._in_flight.popleft()
            if batch.errors:
                print(f"raw-librdkafka: delivery failed: {batch.errors[0]}", file=sys.stderr)
                return EXIT_DELIVERY_FAILED
            offsets.update(batch.offsets)
        if offsets:
            self._consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=True,
            )
        return 0


def _delivered(batch: _Batch, err: KafkaError | None) -> None:
    batch.pending -= 1
    if err is not None:
        batch.errors.append(str(err))


def _message(record: Message) -> InMessage:
    headers: Any = record.headers() or ()
    return InMessage(
        record.topic() or "",
        record.partition() or 0,
        record.offset() or 0,
        record.value(),
        record.key(),
        tuple(headers),
    )


def main() -> None:
    s = common.settings()
    common.arm_deadline()
    loop = Loop(s)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, loop.stop)
    sys.exit(loop.run())


if __name__ == "__main__":
    main()
