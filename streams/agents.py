"""The Faust wiring: one agent that classifies the input topic in batches.

Delivery: the app's consumer (``streams.consumer``) hands each fetched partition batch to the
agent's ``BatchCollector`` in one call, below Faust's per-event stream, which cost more CPU per
event than the whole pipeline (``docs/performance.md``). The collector seals batches of up to
``batch_max`` records or ``batch_within_s`` of age.

At-least-once, per-event failures, broker retries: the transport-neutral
:class:`streams.runner.BatchRunner`. This module gives it a Faust transport (the app's producer,
the batching consumer's acks), records the metrics of every acked batch, and turns the two
failures that are no event's fault (the broker gone for ``broker_retry_timeout_s``, a pipeline
that fails even on a known-good event) into an exit with status 70.

Around the agent: start-up checks of the cluster (``streams.startup``: topics exist or are
created, size limits), a probe of the broker every two seconds for ``/readyz``, a limit on
repeated log lines, and a bound on shutdown (``shutdown_timeout_s``).

``concurrency=1`` because with more actors Faust can commit past in-flight events
(faust-streaming issue #606); scale with partitions and processes instead.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

import faust
from faust.types import TP

from streams import faust_internals
from streams.consumer import FlagstreamApp
from streams.errors import BrokerError, FlagstreamError
from streams.health import READINESS, Readiness
from streams.logfilter import install_repeat_filter
from streams.metrics import WorkerMetrics
from streams.pipeline import BatchResult, Pipeline, record_result
from streams.publish import InMessage, OutMessage
from streams.runner import (
    BatchRunner,
    BrokerUnavailableError,
    Completed,
    ProcessingBrokenError,
    RetryPolicy,
)
from streams.settings import Settings
from streams.startup import ClusterCheck, check_cluster

log = logging.getLogger(__name__)

# EX_SOFTWARE: the supervisor restarts the worker; the failed batch's offsets were not committed
EXIT_BATCH_FAILED = 70
PROBE_INTERVAL_S = 2.0  # how often the broker is probed for /readyz
PROBE_TIMEOUT_S = 3.0
_TOO_LARGE_ERRORS = frozenset(
    {"MessageSizeTooLargeError", "RecordTooLargeError", "RecordListTooLargeError"}
)


def _die(exc: BaseException) -> NoReturn:
    """Exit at once: nothing of the failed batch was acked, so it is consumed again."""
    log.critical("%s; exiting (status %d)", exc, EXIT_BATCH_FAILED, exc_info=exc)
    logging.shutdown()
    os._exit(EXIT_BATCH_FAILED)


class FaustTransport:
    """The batch runner's transport: Faust's producer, and acks to the batching consumer."""

    def __init__(self, app: FlagstreamApp, metrics: WorkerMetrics | None = None) -> None:
        self._app = app
        self._metrics = metrics

    async def send(self, out: OutMessage) -> Awaitable[Any]:
        return await self._app.producer.send(
            out.topic, out.key, out.value, partition=None, timestamp=None, headers=out.headers
        )

    def ack(self, messages: Sequence[InMessage]) -> None:
        consumer = self._app.batching_consumer
        assigned = consumer.assignment()
        by_partition = offsets_by_partition(messages)
        for tp, offsets in by_partition.items():
            consumer.ack_offsets(tp, offsets, assigned)
        if self._metrics is not None:
            self._update_lag(by_partition, assigned)

    def too_large(self, exc: BaseException) -> bool:
        # Faust wraps the producer's errors (ProducerSendError from the KafkaError)
        seen: BaseException | None = exc
        for _ in range(5):
            if seen is None:
                return False
            if type(seen).__name__ in _TOO_LARGE_ERRORS:
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    def _update_lag(self, by_partition: dict[TP, list[int]], assigned: set[TP]) -> None:
        assert self._metrics is not None
        consumer = self._app.consumer
        for tp, offsets in by_partition.items():
            if tp not in assigned:  # revoked by a rebalance meanwhile: its new owner reports it
                continue
            highwater = consumer.highwater(tp)
            if highwater is not None:  # a partition's records arrive in offset order
                self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(highwater - offsets[-1] - 1, 0)
                )


class BatchHandler:
    """The worker's batch runner on the Faust app, with the worker's metrics and exit policy."""

    def __init__(
        self,
        app: FlagstreamApp,
        pipeline: Pipeline,
        metrics: WorkerMetrics,
        die: Callable[[BaseException], NoReturn] = _die,
        readiness: Readiness = READINESS,
    ) -> None:
        self._app = app
        self.pipeline = pipeline
        self._metrics = self.metrics = metrics
        self._die = die
        self.readiness = readiness
        settings = pipeline.settings
        self._consumed = metrics.events_consumed.labels(settings.input_topic)
        self._published = {
            t: metrics.published.labels(t) for t in (settings.flagged_topic, settings.dlq_topic)
        }
        self._errors = {stage: metrics.errors.labels(stage) for stage in ("processing", "broker")}
        self.runner: BatchRunner[BatchResult] = BatchRunner(
            FaustTransport(app, metrics),
            pipeline.process,
            pipeline.dead_letters(),
            canary=pipeline.canary(),
            retry=RetryPolicy(timeout_s=settings.broker_retry_timeout_s),
            on_completed=self._completed,
            on_error=lambda stage: self._errors[stage].inc(),
        )

    def set_publish_limit(self, limit: int) -> None:
        """The largest record the producer and the output topics take (read at start-up)."""
        self.pipeline.publish_limit = limit
        self.runner.dead_letters = self.pipeline.dead_letters()

    async def handle(
        self, messages: Sequence[InMessage], on_acked: Callable[[], None] | None = None
    ) -> None:
        """Process a batch and hand its outputs to the producer; it is acked once the broker
        has them (then ``on_acked``). Exits the process on a failure that is no event's fault."""
        self._consumed.inc(len(messages))
        try:
            await self.runner.handle(messages, on_acked)
        except (BrokerUnavailableError, ProcessingBrokenError) as exc:
            self._fail(exc)
        self.readiness_from_runner()

    async def flush(self) -> None:
        """Wait until every handled batch is acknowledged and acked."""
        try:
            await self.runner.flush()
        except (BrokerUnavailableError, ProcessingBrokenError) as exc:
            self._fail(exc)

    def readiness_from_runner(self) -> None:
        if self.runner.broker_ok:
            self.readiness.clear("publish")
        else:
            self.readiness.not_ready("publish", "the broker does not acknowledge records")

    def _fail(self, exc: BaseException) -> NoReturn:
        self._metrics.errors.labels("batch").inc()
        self._die(exc)

    def _completed(self, done: Completed[BatchResult]) -> None:
        metrics = self._metrics
        for topic, count in Counter(out.topic for out in done.outputs).items():
            child = self._published.get(topic)
            (child or metrics.published.labels(topic)).inc(count)
        metrics.batch_size.observe(len(done.messages))
        for part in done.parts:
            record_result(metrics, part, done.acked)
        for reason, count in Counter(done.extra_dead_letters).items():
            metrics.dead_letter(reason, count)
        metrics.batch_seconds.observe(done.acked - done.started)
        metrics.last_batch_timestamp.set(done.acked)
        self.readiness_from_runner()

    def close(self) -> None:
        self.runner.close()


def offsets_by_partition(messages: Sequence[InMessage]) -> dict[TP, list[int]]:
    """Offsets per partition; records arrive in runs of one partition (one fetched batch each),
    so one TP is built per run, not per record."""
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
    app.shutdown_timeout_s = settings.shutdown_timeout_s

    async def moderate(stream: Any) -> None:  # a faust.Stream; typed loosely by faust itself
        install_repeat_filter()  # after Faust's worker configured logging
        # Iterating the topic subscribes it with Faust's conductor, as iterating the stream would;
        # the consumer then delivers its records to the collector a fetched batch at a time.
        aiter(stream.channel)
        collector = BatchCollector(settings.batch_max, settings.batch_within_s, PIPELINE_DEPTH)
        app.batching_consumer.batch_sinks[settings.input_topic] = collector
        freeze_startup_objects()
        watcher = asyncio.ensure_future(_watch_cluster(app, settings, handler))
        processor = asyncio.ensure_future(_process(collector, handler))
        try:
            await asyncio.shield(processor)  # a SIGTERM must not cut a batch in half
        finally:
            # shutting down (SIGTERM cancels this agent): stop taking records, then finish and ack
            # what is delivered, within the shutdown bound, so what Faust commits is all safe
            app.arm_shutdown_watchdog()
            watcher.cancel()
            collector.close()
            try:
                await asyncio.shield(
                    asyncio.wait_for(processor, max(settings.shutdown_timeout_s - 2.0, 1.0))
                )
            except TimeoutError:
                handler.runner.stop()  # the broker is not acknowledging: give up the batch
                log.warning(
                    "shutdown: the batch in hand was not acknowledged in time; it is consumed "
                    "again after the restart"
                )

    return app.agent(source, name="flagstream.moderate", concurrency=1)(moderate)


def freeze_startup_objects() -> None:
    """Take what start-up built (Faust's app and services, the models, the settings) out of the
    garbage collector's reach: it lives as long as the process anyway.

    Otherwise every full (generation 2) collection walks all of it: measured at 5k events/s, one
    of 69-103 ms every ~15 s, during which the event loop and the classify thread both stand
    still (the collector holds the GIL), some 500 events held up to 0.1 s each time
    (docs/performance.md). After the freeze a full collection took ~3 ms. Objects made later
    are collected as before.
    """
    gc.collect()
    gc.freeze()


async def _process(collector: BatchCollector, handler: BatchHandler) -> None:
    while (batch := await collector.next_batch()) is not None:
        await handler.handle(batch, functools.partial(collector.acked, len(batch)))
    await handler.flush()


async def _watch_cluster(app: FlagstreamApp, settings: Settings, handler: BatchHandler) -> None:
    """Start-up checks (bounded retries), then a probe of the broker every two seconds."""
    readiness = handler.readiness
    readiness.not_ready("startup", "checking the cluster's topics and size limits")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.broker_retry_timeout_s
    backoff = 0.5
    checked: ClusterCheck | None = None
    while True:
        try:
            checked = await loop.run_in_executor(None, check_cluster, settings)
            break
        except BrokerError as exc:  # unreachable: retried, bounded
            if loop.time() > deadline:
                handler._fail(exc)
            readiness.not_ready("broker", str(exc))
            log.warning("start-up check failed, retrying: %s", exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
        except FlagstreamError as exc:  # a configuration the cluster cannot serve: the fix
            handler._fail(exc)
        except Exception as exc:  # an answer we cannot read: run on the producer's limit
            log.warning(
                "start-up check of the cluster failed (%r); publishing records up to "
                "producer_max_request_bytes=%d",
                exc,
                settings.producer_max_request_bytes,
            )
            checked = None
            break
    if checked is not None:
        handler.set_publish_limit(checked.publish_limit)
        for line in checked.notes:
            log.warning("%s", line)
    readiness.clear("startup")
    while True:
        await _probe(app, settings, readiness)
        handler.readiness_from_runner()
        handler.metrics.ready.set(0 if readiness.reasons() else 1)
        await asyncio.sleep(PROBE_INTERVAL_S)


async def _probe(app: FlagstreamApp, settings: Settings, readiness: Readiness) -> None:
    try:
        client = faust_internals.producer_client(app)
        metadata = await asyncio.wait_for(client.fetch_all_metadata(), PROBE_TIMEOUT_S)
    except Exception as exc:
        readiness.not_ready("broker", f"no broker answers a metadata request ({exc!r})")
        return
    readiness.clear("broker")
    if settings.input_topic in metadata.topics():
        readiness.clear("input_topic")
    else:
        readiness.not_ready(
            "input_topic",
            f"topic {settings.input_topic!r} does not exist: create it (flagstream topics "
            "create) or set FLAGSTREAM_CREATE_MISSING_TOPICS=1",
        )
