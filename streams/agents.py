"""The Faust wiring: one agent that takes batches from the input topic and hands them on.

At-least-once: Faust acks a batch's events only when the ``take_events`` loop asks for the next
batch, so a batch's offsets can be committed only after :meth:`BatchHandler.handle` returned, i.e.
after the broker acknowledged every flagged and dead-lettered record of it. ``concurrency=1``
because with more actors Faust can commit past in-flight events (faust-streaming issue #606);
scale with partitions and processes instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NoReturn

import faust
from faust.types import EventT

from streams.metrics import WorkerMetrics
from streams.pipeline import BatchResult, Pipeline, record_batch
from streams.publish import InMessage, OutMessage, send_and_wait
from streams.settings import Settings

log = logging.getLogger(__name__)

EXIT_BATCH_FAILED = (
    70  # EX_SOFTWARE: the supervisor restarts the worker; offsets were not committed
)
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

    async def handle(self, events: Sequence[EventT]) -> None:
        """Process one batch completely. On SIGTERM the batch is drained, not abandoned."""
        task = asyncio.ensure_future(self._handle(events))
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # shutting down: finish this batch so the offsets Faust commits on the way out are
            # exactly those whose outputs the broker has acknowledged
            await asyncio.wait_for(task, DRAIN_TIMEOUT_S)
            raise
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
        for out in result.outputs:
            metrics.published.labels(out.topic).inc()
        record_batch(metrics, result, acked, len(messages))
        metrics.batch_seconds.observe(acked - started)
        metrics.last_batch_timestamp.set(acked)
        self._update_lag(events)

    def _update_lag(self, events: Sequence[EventT]) -> None:
        last: dict[Any, int] = {}
        for ev in events:
            tp = ev.message.tp
            last[tp] = max(last.get(tp, -1), ev.message.offset)
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


def register_agent(app: faust.App, settings: Settings, handler: BatchHandler) -> faust.types.AgentT:
    """Subscribe the moderation agent to the input topic."""
    source = app.topic(
        settings.input_topic,
        key_serializer="raw",
        value_serializer="raw",
        allow_empty=True,  # tombstones reach the handler and are dead-lettered, not dropped
    )

    async def moderate(stream: Any) -> None:  # faust.Stream: take_events is not on StreamT
        async for events in stream.take_events(settings.batch_max, within=settings.batch_within_s):
            await handler.handle(events)

    return app.agent(source, name="flagstream.moderate", concurrency=1)(moderate)
