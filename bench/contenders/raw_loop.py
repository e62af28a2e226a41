"""The minimal aiokafka loop behind raw-classify and raw-transport.

``getmany`` a batch → the work function in a thread (the event loop keeps fetching) → ``send``
every output → once the broker acknowledged them, commit the batch's offsets. One batch's
acknowledgement overlaps the next batch's work; commits stay in order, so it is at-least-once like
the worker. Same producer settings as the worker's Faust app (acks=all, linger 1 ms).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.contenders.common import arm_deadline
from streams.publish import InMessage, OutMessage
from streams.settings import Settings

Work = Callable[[Sequence[InMessage]], list[OutMessage]]


async def _ack_then_commit(
    previous: asyncio.Future[Any] | None,
    futures: list[asyncio.Future[Any]],
    consumer: AIOKafkaConsumer,
    offsets: dict[TopicPartition, int],
) -> None:
    if previous is not None:
        await previous
    if futures:
        await asyncio.gather(*futures)
    await consumer.commit(offsets)


async def run(s: Settings, work: Work) -> None:
    """Consume ``s.input_topic`` until SIGTERM/SIGINT or the bench deadline."""
    consumer = AIOKafkaConsumer(
        s.input_topic,
        bootstrap_servers=s.bootstrap,
        group_id=s.group_id,
        enable_auto_commit=False,
        auto_offset_reset=s.auto_offset_reset,
        max_partition_fetch_bytes=1_048_576,
    )
    producer = AIOKafkaProducer(bootstrap_servers=s.bootstrap, acks="all", linger_ms=1)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    executor = ThreadPoolExecutor(1, thread_name_prefix="bench-work")
    await producer.start()
    await consumer.start()
    pending: asyncio.Task[None] | None = None
    # getmany returns as soon as records are there (natural batching, like the worker's default);
    # the timeout only bounds an idle wait
    idle_ms = max(int(s.batch_within_s * 1000), 100)
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=idle_ms, max_records=s.batch_max)
            if not batches:
                continue
            messages: list[InMessage] = []
            offsets: dict[TopicPartition, int] = {}
            for tp, records in batches.items():
                messages.extend(
                    InMessage(r.topic, r.partition, r.offset, r.value, r.key, tuple(r.headers))
                    for r in records
                )
                offsets[tp] = records[-1].offset + 1
            outputs = await loop.run_in_executor(executor, work, messages)
            send = producer.send
            futures = [await send(o.topic, o.value, key=o.key, headers=o.headers) for o in outputs]
            pending = asyncio.ensure_future(_ack_then_commit(pending, futures, consumer, offsets))
        if pending is not None:
            await asyncio.wait_for(pending, 30)
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
        await consumer.stop()
        await producer.stop()
        executor.shutdown(wait=True)


def main(s: Settings, work: Work) -> None:
    arm_deadline()
    asyncio.run(run(s, work))
