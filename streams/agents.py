"""The Faust wiring: one agent that batches the input topic and hands batches to the pipeline.

At-least-once: the agent's stream does not ack by itself (``noack``). An event is acked only after
the broker acknowledged every flagged and dead-lettered record of its batch, so Faust can only
commit offsets whose outputs are safe. Batches are acked in the order they were consumed.

Pipelining: while one batch is classified (in a thread) and published, the agent keeps consuming
the next one, so Faust's per-event work on the event loop overlaps with inference. At most
``PIPELINE_DEPTH`` sealed batches wait; beyond that the agent stops pulling and Faust's flow
control pauses fetching.

``concurrency=1`` because with more actors Faust can commit past in-flight events
(faust-streaming issue #606); scale with partitions and processes instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

import faust
from faust.types import EventT

from streams.metrics import WorkerMetrics
from streams.pipeline import BatchResult, Pipeline, record_batch
from streams.publish import InMessage, OutMessage, send_and_wait
from streams.settings import Settings

log = logging.getLogger(__name__)

# EX_SOFTWARE: the supervisor restarts the worker; the failed batch's offsets were not committed
EXIT_BATCH_FAILED = 70
DRAIN_TIMEOUT_S = 30.0


def _die(exc: BaseException) -> NoReturn:
    """Exit at once, without letting Faust commit the failed batch's offsets on the way out."""
    log.critical(
        "batch failed, exiting so it is consumed again after restart: %r", exc, exc_info=exc
    )
    logging.shutdown()
    os._exit(EXIT_BATCH_FAILED)


class BatchHandler:
    """Runs the pipeline on a batch in a worker thread, publishes its outputs, records metrics."""

    def __init__(
        self,
        app: faust.App,
        pipeline: Pipeline,
        metrics: WorkerMetrics,
        die: Callable[[BaseException], NoReturn] = _die,
    ) -> None:
        self._app = app
        self._pipeline = pipeline
        self._metrics = metrics
        self._die = die
        # one thread: classification is CPU-bound and onnxruntime has its own threads
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="flagstream-classify")
        self._consumed = metrics.events_consumed.labels(pipeline.settings.input_topic)

    async def handle(
        self, events: Sequence[EventT], ack: Callable[[EventT], Awaitable[Any]]
    ) -> None:
        """Process one batch completely, then ack its events. Any failure exits the process."""
        try:
            await self._handle(events)
            for event in events:
                await ack(event)
        except Exception as exc:  # any failure: the batch must not be acked
            self._metrics.errors.labels("batch").inc()
            self._die(exc)

    async def _handle(self, events: Sequence[EventT]) -> None:
        started = time.time()
        messages = [_in_message(ev) for ev in events]
        self._consumed.inc(len(messages))
        loop = asyncio.get_running_loop()
        result: BatchResult = await loop.run_in_executor(
            self._executor, self._pipeline.process, messages
        )
        send = self._app.producer.send

        async def send_one(out: OutMessage) -> Any:
            return await send(out.topic, out.key, out.value, None, None, out.headers)

        await send_and_wait(send_one, result.outputs)
        acked = time.time()
        metrics = self._metrics
        for topic, count in Counter(out.topic for out in result.outputs).items():
            metrics.published.labels(topic).inc(count)
        record_batch(metrics, result, acked, len(messages))
        metrics.batch_seconds.observe(acked - started)
        metrics.last_batch_timestamp.set(acked)
        self._update_lag(events)

    def _update_lag(self, events: Sequence[EventT]) -> None:
        # a partition's events arrive in offset order: the last one seen is the highest
        last = {ev.message.tp: ev.message.offset for ev in events}
        consumer = self._app.consumer
        for tp, offset in last.items():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(highwater - offset - 1, 0)
                )

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def _in_message(ev: EventT) -> InMessage:
    msg = ev.message
    raw = msg.headers or ()
    headers = tuple(raw.items()) if isinstance(raw, Mapping) else tuple(raw)
    return InMessage(msg.topic, msg.partition, msg.offset, msg.value, msg.key, headers)


class BatchCollector:
    """Seals consumed events into batches by size or age; the agent's processor drains them in order."""

    def __init__(self, max_events: int, within_s: float, depth: int) -> None:
        self._max = max_events
        self._within = within_s
        self._depth = depth
        self._buffer: list[EventT] = []
        self._sealed: deque[list[EventT] | None] = deque()
        self._generation = 0
        self._timer: asyncio.TimerHandle | None = None
        self._have_batch = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    def add(self, event: EventT) -> None:
        self._buffer.append(event)
        if len(self._buffer) >= self._max:
            self.seal()
        elif (
            len(self._buffer) == 1
        ):  # a new batch starts: it is sealed at the latest after `within`
            self._timer = asyncio.get_running_loop().call_later(
                self._within, self._seal_if, self._generation
            )

    def _seal_if(self, generation: int) -> None:
        if generation == self._generation:
            self.seal()

    def seal(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._buffer:
            return
        self._sealed.append(self._buffer)
        self._buffer = []
        self._generation += 1
        self._have_batch.set()
        if len(self._sealed) >= self._depth:
            self._room.clear()

    def close(self) -> None:
        """Seal what is buffered and mark the end: the processor finishes everything sealed."""
        self.seal()
        self._sealed.append(None)
        self._have_batch.set()

    @property
    def has_room(self) -> bool:
        return self._room.is_set()

    async def wait_for_room(self) -> None:
        await self._room.wait()

    async def next_batch(self) -> list[EventT] | None:
        while not self._sealed:
            self._have_batch.clear()
            await self._have_batch.wait()
        batch = self._sealed.popleft()
        if len(self._sealed) < self._depth:
            self._room.set()
        return batch


PIPELINE_DEPTH = 2  # sealed batches that may wait while one is processed


def register_agent(app: faust.App, settings: Settings, handler: BatchHandler) -> faust.types.AgentT:
    """Subscribe the moderation agent to the input topic."""
    source = app.topic(
        settings.input_topic,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,  # tombstones reach the handler and are dead-lettered, not dropped
    )

    async def moderate(stream: Any) -> None:  # a faust.Stream; typed loosely by faust itself
        manual = stream.noack()
        collector = BatchCollector(settings.batch_max, settings.batch_within_s, PIPELINE_DEPTH)

        async def process() -> None:
            while (batch := await collector.next_batch()) is not None:
                await handler.handle(batch, manual.ack)

        processor = asyncio.ensure_future(process())
        try:
            add = collector.add
            async for _ in manual:  # the bare stream: one async generator fewer than .events()
                add(manual.current_event)
                if not collector.has_room:
                    await collector.wait_for_room()
        finally:
            # shutting down (SIGTERM cancels this agent) or the stream ended: finish and ack every
            # consumed event, so the offsets Faust commits on the way out are all safe
            collector.close()
            await asyncio.shield(asyncio.wait_for(processor, DRAIN_TIMEOUT_S))

    return app.agent(source, name="flagstream.moderate", concurrency=1)(moderate)
