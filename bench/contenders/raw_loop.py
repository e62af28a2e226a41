"""The minimal aiokafka loop behind raw-classify and raw-transport.

``getmany`` a batch → the worker's own batch runner (``streams.runner``): the work function in a
thread while the event loop keeps fetching, ``send`` every output, ack in order once the broker
acknowledged them → commit the acked offsets. One batch's acknowledgement overlaps the next
batch's work, so it is at-least-once exactly like the worker, with aiokafka in place of Faust.
Same producer settings as the worker's Faust app (acks=all, linger 1 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

from bench.contenders.common import arm_deadline
from streams.kafka_clients import client_config
from streams.publish import DeadLetters, InMessage, OutMessage
from streams.runner import BatchRunner, RetryPolicy
from streams.settings import Settings

Work = Callable[[Sequence[InMessage]], list[OutMessage]]


@dataclass(frozen=True, slots=True)
class _Outputs:
    outputs: list[OutMessage]


class AiokafkaTransport:
    """The batch runner's transport on plain aiokafka: acked offsets are committed by ``commit``."""

    def __init__(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        self._consumer = consumer
        self._producer = producer
        self._acked: dict[TopicPartition, int] = {}

    async def send(self, out: OutMessage) -> Awaitable[Any]:
        return await self._producer.send(out.topic, out.value, key=out.key, headers=out.headers)

    def ack(self, messages: Sequence[InMessage]) -> None:
        for msg in messages:  # offsets rise within a partition: the last one wins
            self._acked[TopicPartition(msg.topic, msg.partition)] = msg.offset + 1

    def too_large(self, exc: BaseException) -> bool:
        return isinstance(exc, MessageSizeTooLargeError | RecordTooLargeError)

    async def commit(self) -> None:
        """Commit what was acked, for the partitions still assigned."""
        if not self._acked:
            return
        assigned = self._consumer.assignment()
        offsets = {tp: off for tp, off in self._acked.items() if tp in assigned}
        self._acked = {}
        if offsets:
            await self._consumer.commit(offsets)


async def run(s: Settings, work: Work) -> None:
    """Consume ``s.input_topic`` until SIGTERM/SIGINT or the bench deadline."""
    # kafka-python's names for bootstrap and security are aiokafka's too
    config = client_config(s, "flagstream-bench-raw-loop")
    consumer = AIOKafkaConsumer(
        s.input_topic,
        **config,
        group_id=s.group_id,
        enable_auto_commit=False,
        auto_offset_reset=s.auto_offset_reset,
        max_partition_fetch_bytes=1_048_576,
    )
    producer = AIOKafkaProducer(
        **config,
        acks="all",
        linger_ms=1,
        max_request_size=s.producer_max_request_bytes,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await producer.start()
    await consumer.start()
    transport = AiokafkaTransport(consumer, producer)
    runner: BatchRunner[_Outputs] = BatchRunner(
        transport,
        lambda messages: _Outputs(work(messages)),
        DeadLetters(s.dlq_topic, s.producer_max_request_bytes),
        retry=RetryPolicy(timeout_s=s.broker_retry_timeout_s),
    )
    # getmany returns as soon as records are there (natural batching, like the worker's default);
    # the timeout only bounds an idle wait
    idle_ms = max(int(s.batch_within_s * 1000), 100)
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=idle_ms, max_records=s.batch_max)
            if not batches:  # idle: the last batch must not wait for a next one to be committed
                await runner.flush()
                await transport.commit()
                continue
            messages = [
                InMessage(r.topic, r.partition, r.offset, r.value, r.key, tuple(r.headers))
                for records in batches.values()
                for r in records
            ]
            await runner.handle(messages)  # returns once the previous batch is acked
            await transport.commit()
        await asyncio.wait_for(runner.flush(), 30)
        await transport.commit()
    finally:
        runner.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner.flush()
        await consumer.stop()
        await producer.stop()
        runner.close()


def main(s: Settings, work: Work) -> None:
    arm_deadline()
    asyncio.run(run(s, work))
