"""The Faust wiring: one agent that classifies the input topic in batches.

Delivery: the app's consumer (``streams.consumer``) hands each fetched partition batch to the
agent's ``BatchCollector`` in one call, below Faust's per-event stream, which cost more CPU per
event than the whole pipeline (``docs/performance.md``). The collector seals batches of up to
``batch_max`` records or ``batch_within_s`` of age.

At-least-once: a batch's offsets are acked only after the broker acknowledged every flagged and
dead-lettered record of it, so Faust can only commit offsets whose outputs are safe. Batches are
acked in the order they were consumed.

Pipelining: while one batch is classified (in a thread) and published, the consumer keeps
fetching into the next one. At most ``PIPELINE_DEPTH`` sealed batches wait; beyond that delivery
waits, which pauses fetching.

``concurrency=1`` because with more actors Faust can commit past in-flight events
(faust-streaming issue #606); scale with partitions and processes instead.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NoReturn

import faust
from faust.types import TP

from streams.consumer import FlagstreamApp
from streams.metrics import WorkerMetrics
from streams.pipeline import BatchResult, Pipeline, record_batch
from streams.publish import InMessage
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
        app: FlagstreamApp,
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
        self._pending: asyncio.Future[None] | None = None  # the batch awaiting the broker

    async def handle(
        self, messages: Sequence[InMessage], on_acked: Callable[[], None] | None = None
    ) -> None:
        """Classify a batch and hand its outputs to the producer; ack it once the broker has them.

        The broker's acknowledgement of batch N is awaited while batch N+1 is classified; batches
        are acked strictly in order, and at most one waits for the broker at a time. Any failure
        exits the process before the failed batch is acked. ``on_acked`` is called once the
        batch is acked.
        """
        try:
            sent = await self._classify_and_send(messages, on_acked)
            if self._pending is not None:
                await self._pending
            self._pending = asyncio.ensure_future(self._complete(sent))
        except Exception as exc:  # any failure: the batch must not be acked
            self._fail(exc)

    async def flush(self) -> None:
        """Wait until every handled batch is acknowledged and acked."""
        if self._pending is not None:
            await self._pending
            self._pending = None

    def _fail(self, exc: BaseException) -> NoReturn:
        self._metrics.errors.labels("batch").inc()
        self._die(exc)

    async def _classify_and_send(
        self, messages: Sequence[InMessage], on_acked: Callable[[], None] | None
    ) -> _Sent:
        started = time.time()
        self._consumed.inc(len(messages))
        loop = asyncio.get_running_loop()
        result: BatchResult = await loop.run_in_executor(
            self._executor, self._pipeline.process, messages
        )
        send = self._app.producer.send
        futures = [
            await send(out.topic, out.key, out.value, None, None, out.headers)
            for out in result.outputs
        ]
        return _Sent(messages, result, futures, started, on_acked)

    async def _complete(self, sent: _Sent) -> None:
        try:
            if sent.futures:
                await asyncio.gather(*sent.futures)
            acked = time.time()
            consumer = self._app.batching_consumer
            assigned = consumer.assignment()
            by_partition = _offsets_by_partition(sent.messages)
            for tp, offsets in by_partition.items():
                consumer.ack_offsets(tp, offsets, assigned)
            if sent.on_acked is not None:
                sent.on_acked()
            metrics = self._metrics
            for topic, count in Counter(out.topic for out in sent.result.outputs).items():
                metrics.published.labels(topic).inc(count)
            record_batch(metrics, sent.result, acked, len(sent.messages))
            metrics.batch_seconds.observe(acked - sent.started)
            metrics.last_batch_timestamp.set(acked)
            self._update_lag(by_partition, assigned)
        except Exception as exc:  # a delivery failed: nothing of this batch may be committed
            self._fail(exc)

    def _update_lag(self, by_partition: dict[TP, list[int]], assigned: set[TP]) -> None:
        consumer = self._app.consumer
        for tp, offsets in by_partition.items():
            if tp not in assigned:  # revoked by a rebalance meanwhile: its new owner reports it
                continue
            offset = offsets[-1]  # a partition's records arrive in offset order
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(highwater - offset - 1, 0)
                )

    def close(self) -> None:
        self._executor.shutdown(wait=True)


@dataclass(slots=True)
class _Sent:
    """A classified batch whose outputs are with the producer."""

    messages: Sequence[InMessage]
    result: BatchResult
    futures: list[Any]
    started: float
    on_acked: Callable[[], None] | None


def _offsets_by_partition(messages: Sequence[InMessage]) -> dict[TP, list[int]]:
    # records arrive in runs of one partition (one fetched batch each): one TP per run
    by_tp: dict[TP, list[int]] = {}
    current: tuple[str, int] | None = None
    offsets: list[int] = []
    for msg in messages:
        if (msg.topic, msg.partition) != current:
            current = (msg.topic, msg.partition)
            offsets = by_tp.setdefault(TP(*current), [])
        offsets.append(msg.offset)
    return by_tp


class BatchCollector:
    """Seals delivered records into batches; the agent drains them in order.

    With ``within_s`` = 0 (the default) batching is natural: a processor that asks for a batch
    gets whatever has arrived, at once, so batches are small at low load (low latency) and grow to
    ``max_events`` while the previous batch is being processed (throughput). With ``within_s`` > 0
    a batch is sealed when full or ``within_s`` after its first record, as ``stream.take`` does.

    It is the consumer's sink for the input topic (``streams.consumer.BatchSink``): ``deliver``
    takes one fetched partition batch and waits while ``depth`` sealed batches are queued, which
    pauses fetching.
    """

    def __init__(self, max_events: int, within_s: float, depth: int) -> None:
        self._max = max_events
        self._within = within_s
        self._depth = depth
        self._buffer: list[InMessage] = []
        self._sealed: deque[list[InMessage] | None] = deque()
        self._generation = 0
        self._timer: asyncio.TimerHandle | None = None
        self._have_batch = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closed = False
        self._outstanding = 0  # delivered, not yet acked
        self._all_acked = asyncio.Event()
        self._all_acked.set()

    async def deliver(self, messages: list[InMessage]) -> None:
        if self._closed:
            return  # shutting down: not acked, so consumed again after the restart
        self._add(messages)
        if not self._room.is_set():
            await self._room.wait()

    def _add(self, messages: list[InMessage]) -> None:
        if not messages:
            return
        self._outstanding += len(messages)
        self._all_acked.clear()
        start = 0
        while start < len(messages):
            take = self._max - len(self._buffer)
            was_empty = not self._buffer
            self._buffer.extend(messages[start : start + take])
            start += take
            if len(self._buffer) >= self._max:
                self.seal()
            elif not self._within:
                self._have_batch.set()  # an idle processor takes what is there
            elif was_empty:  # a new batch starts: it is sealed at the latest after `within`
                self._timer = asyncio.get_running_loop().call_later(
                    self._within, self._seal_if, self._generation
                )

    def acked(self, count: int) -> None:
        """``count`` delivered records were processed and acked."""
        self._outstanding -= count
        if self._outstanding <= 0:
            self._outstanding = 0
            self._all_acked.set()

    async def settled(self) -> None:
        """Wait until every delivered record is acked (a rebalance or shutdown is waiting)."""
        self.seal()  # don't let a partial batch wait out `within`
        await self._all_acked.wait()

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
        self._closed = True
        self.seal()
        self._sealed.append(None)
        self._have_batch.set()

    async def next_batch(self) -> list[InMessage] | None:
        """The oldest sealed batch; with ``within_s`` = 0, else whatever has arrived, at once."""
        while not self._sealed:
            if self._buffer and not self._within:
                self.seal()
                break
            self._have_batch.clear()
            await self._have_batch.wait()
        batch = self._sealed.popleft()
        if len(self._sealed) < self._depth:
            self._room.set()
        return batch


PIPELINE_DEPTH = 2  # sealed batches that may wait while one is processed


def register_agent(
    app: FlagstreamApp, settings: Settings, handler: BatchHandler
) -> faust.types.AgentT:
    """Subscribe the moderation agent to the input topic."""
    source = app.topic(
        settings.input_topic,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,  # tombstones reach the handler and are dead-lettered, not dropped
    )

    async def moderate(stream: Any) -> None:  # a faust.Stream; typed loosely by faust itself
        # Iterating the topic subscribes it with Faust's conductor, as iterating the stream would;
        # the consumer then delivers its records to the collector a fetched batch at a time.
        aiter(stream.channel)
        collector = BatchCollector(settings.batch_max, settings.batch_within_s, PIPELINE_DEPTH)
        app.batching_consumer.batch_sinks[settings.input_topic] = collector
        processor = asyncio.ensure_future(_process(collector, handler))
        try:
            await asyncio.shield(processor)  # a SIGTERM must not cut a batch in half
        finally:
            # shutting down (SIGTERM cancels this agent): stop taking records, then finish and ack
            # every delivered one, so the offsets Faust commits on the way out are all safe
            collector.close()
            await asyncio.shield(asyncio.wait_for(processor, DRAIN_TIMEOUT_S))

    return app.agent(source, name="flagstream.moderate", concurrency=1)(moderate)


async def _process(collector: BatchCollector, handler: BatchHandler) -> None:
    while (batch := await collector.next_batch()) is not None:
        await handler.handle(batch, functools.partial(collector.acked, len(batch)))
    await handler.flush()
