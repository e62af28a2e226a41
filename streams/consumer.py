"""Batch delivery below Faust's per-event stream.

Faust hands every fetched record to its topic's stream one at a time: per record it schedules four
asyncio tasks (``Service.wait_first``), takes the conductor's lock, builds an ``Event`` and passes
it through a queue and the stream's iterator. Profiling put Faust and asyncio at 156 of 293 µs of
CPU per event, more than decoding, classifying and publishing together (``docs/performance.md``). flagstream
classifies in batches anyway, so its consumer hands each fetched partition batch to the agent in
one call and acks a batch's offsets in one call. Everything else stays Faust's: group membership
and rebalances, flow control, offset bookkeeping (gaps, commit of the highest contiguous acked
offset), commits, the producer, shutdown.

Topics without a registered sink keep Faust's per-record delivery.

The aiokafka consumer itself runs on the app's event loop (:class:`InLoopConsumerThread`) rather
than in the thread Faust gives it, so a fetch does not cross threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from time import monotonic
from typing import Any, Protocol, cast

import faust
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, TransportT
from faust.types.tuples import ack_lock
from mode import Service, ServiceT
from mode.utils.futures import notify

from streams.publish import InMessage

#: how long a rebalance (or shutdown) waits for delivered batches to be processed and acked
SETTLE_TIMEOUT_S = 30.0


class BatchSink(Protocol):
    """Receives the records of one partition, in offset order, one fetched batch at a time."""

    def deliver(self, messages: list[InMessage]) -> Awaitable[None]:
        """Take the batch; may wait (backpressure), which pauses fetching."""
        ...

    def settled(self) -> Awaitable[None]:
        """Wait until every delivered record is processed and acked."""
        ...


class InLoopConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer "thread", run as a service of the app's own event loop.

    Faust runs the aiokafka consumer in a thread with its own event loop and reaches it through a
    method queue: every fetch is two hand-offs between threads (request in, records out), each
    waiting for the GIL held by the event loop or the classify thread. Measured at 5k events/s
    (``python -m bench.breakdown``, docs/performance.md) that hop was the largest stage of a
    flagged event's latency after the broker itself. Here the same service (aiokafka consumer,
    rebalance listener, Faust's event-path checks) runs on the app's loop, as a plain aiokafka
    consumer would, and a delegated call is a plain ``await``.
    """

    _serving: asyncio.Future[None] | None = None

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        kwargs["thread_loop"] = kwargs["loop"]
        super().__init__(consumer, **kwargs)

    async def start(self) -> None:
        """``ServiceThread.start`` without the thread: serve as a task of this loop."""
        self._thread_started.set()
        self._thread_running = asyncio.Future(loop=self.parent_loop)
        self._serving = asyncio.ensure_future(self._serve())
        try:
            await self._thread_running  # set once started; raises if starting failed
        finally:
            self._thread_running = None

    async def stop(self) -> None:
        await super().stop()
        if self._serving is not None and not self._serving.done():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._serving), SETTLE_TIMEOUT_S)

    async def call_thread(
        self, fun: Callable[..., Awaitable[Any] | Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Run a delegated call here and now (Faust delegates coroutines and plain calls)."""
        result = fun(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Faust's, except when the assignment changes while the committed offsets are read.

        aiokafka reads the group's committed offsets (an await) and then seeks each partition it
        was assigned; a rebalance that begins meanwhile revokes some of them and the seek raises
        ``IllegalStateError``, which crashed the worker (seen once in the rebalance-and-broker-
        restart fault test on Kafka 4.4.0). The next assignment seeks again, so this one has
        nothing left to do.
        """
        try:
            return await super().seek_to_committed()
        except IllegalStateError as exc:
            logging.getLogger(__name__).info(
                "seek to committed offsets skipped: %s (a rebalance is under way)", exc
            )
            return {}

    async def _fetch_records(
        self,
        consumer: Any,
        active_partitions: set[TP],
        timeout: float | None = None,  # noqa: ASYNC109 (Faust's signature)
        max_records: int | None = None,
    ) -> Mapping[TP, list[Any]]:
        """Faust's, serving the per-record topics' partitions first when batch sinks are busy.

        aiokafka returns buffered records partition by partition in the order they were
        fetched, up to ``max_records``, and a partition stays first until its buffer is empty.
        An input partition with a backlog buffers a whole fetch (thousands of events), so a
        per-record topic fetched after it (the campaign stage's observations, a changelog in
        recovery) waited until the input's buffers ran dry: on a preloaded 50,000-event
        firehose the stage saw its first bundle 3 s after it was written, at the end of the
        drain (docs/networks.md, "Session 12"). Here those partitions are read first, without
        waiting, and the sinks' partitions fill the rest of ``max_records``.
        """
        sinks = getattr(self.consumer, "batch_sinks", None)
        if active_partitions and sinks:
            first = {tp for tp in active_partitions if tp.topic not in sinks}
            if first and len(first) < len(active_partitions):
                early = await super()._fetch_records(
                    consumer, first, timeout=0, max_records=max_records
                )
                if early:
                    left = max_records
                    if left is not None:
                        left -= sum(len(records) for records in early.values())
                        if left <= 0:
                            return early
                    rest = await super()._fetch_records(
                        consumer, active_partitions - first, timeout=0, max_records=left
                    )
                    return {**early, **rest}
        return await super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )

    async def _gather_remaining_tasks(self) -> None:
        """Faust's thread cancels every task left on its loop when it stops; this loop is the
        app's, and all of its tasks belong to others."""


class BatchingConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer, delivering batch topics' records a fetched batch at a time,
    with the aiokafka consumer on the app's event loop (:class:`InLoopConsumerThread`)."""

    #: topic name → sink; topics not here get Faust's per-record delivery
    batch_sinks: MutableMapping[str, BatchSink]
    _commit_task: asyncio.Future[None] | None = None  # a commit started by the fetch loop

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_sinks = {}

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return InLoopConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def ack(self, message: Any) -> bool:
        """Faust's ``Consumer.ack``, refusing a message no stream ever handed to an agent.

        Faust's stream iterator (``Stream._py_aiter``) skips a record fetched before a rebalance
        (another generation) or while flow control is suspended (a rebalance or a table recovery
        in progress), and still acks it. For a partition that stays assigned, the next commit
        then passes a record nothing processed: the campaign stage lost a bundle that way in one
        of six rebalance test runs (docs/networks.md). Such a record is the only kind the
        iterator acks without tracking it first; refused here, the commit stops below it and
        the seek to the committed offset after the rebalance fetches it again (at-least-once;
        the stage drops a redelivered member by event id).
        """
        if not message.tracked and self.app.topics.acks_enabled_for(message.topic):
            return False
        return bool(super().ack(message))

    def ack_offsets(self, tp: TP, offsets: Iterable[int], assigned: set[TP] | None = None) -> int:
        """Mark ``offsets`` of ``tp`` processed (what ``Consumer.ack`` does per message).

        Faust commits the highest contiguous acked offset; returns how many were new. Offsets of a
        partition no longer assigned (``assigned``, default: the current assignment) are dropped:
        its new owner consumes them again from the last commit (at-least-once).
        """
        if not self.app.topics.acks_enabled_for(tp.topic):
            return 0
        if tp not in (self.assignment() if assigned is None else assigned):
            return 0
        with ack_lock:
            committed = self._committed_offset[tp]
            index = self._acked_index[tp]
            new = [
                off
                for off in offsets
                if (committed is None or off >= committed) and off not in index
            ]
            index.update(new)
            self._acked[tp].extend(new)
            self._n_acked += len(new)
        notify(self._waiting_for_ack)
        return len(new)

    async def wait_empty(self) -> None:
        """Before a rebalance revokes partitions, and on shutdown, Faust waits here for what it
        handed out to be acked, then commits. Batches delivered to sinks count too."""
        waiting = [sink.settled() for sink in self.batch_sinks.values()]
        if waiting:
            try:
                await asyncio.wait_for(asyncio.gather(*waiting), SETTLE_TIMEOUT_S)
            except TimeoutError:
                self.log.warning(
                    "delivered batches not acked within %.0f s; their partitions' next owner "
                    "consumes them again from the last commit",
                    SETTLE_TIMEOUT_S,
                )
        await super().wait_empty()

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """Faust's fetch loop (``Consumer._drain_messages``) with one delivery per batch."""
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                records, active = await self._wait_next_records(1.0)
                # before any await: nothing else may seek these partitions first
                held = await self._hand_back(records, active) if records else set()
                await asyncio.sleep(0)  # never spin without yielding to the loop
                if records is None or self.should_stop:
                    continue
                if not self.flow_active:
                    # what Faust's getmany does: a rebalance stopped the flow mid-fetch
                    await self.perform_seek()
                    continue
                generation = self.app.consumer_generation_id
                for tp, fetched in self._delivery_order(records):
                    if not self.flow_active or self.app.consumer_generation_id != generation:
                        break
                    if tp in held:
                        continue
                    if active is None or tp in active or tp in self._buffered_partitions:
                        await self._deliver(tp, fetched)
                if self._commit_every is not None and self._n_acked >= self._commit_every:
                    self._n_acked = 0
                    self._commit_soon()
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise

    async def _hand_back(
        self, records: Mapping[TP, Sequence[Any]], active: set[TP] | None
    ) -> set[TP]:
        """Seek back each partition of ``records`` whose records this loop will not deliver now,
        and return them: all of them if the flow stopped during the fetch; a partition paused
        meanwhile; a stream (not changelog) partition while a rebalance is not over.

        aiokafka moved each partition's position past the records it returned, and
        ``fetched_records`` reads the partitions it may return from Faust's live set of active
        partitions, which a rebalance empties (every partition paused): an empty set means every
        partition to aiokafka. A fetch started before a rebalance can so return, after the table
        recovery has sought a changelog partition to its start and before it resumes the flow,
        that partition's records. Faust's ``getmany`` drops them then and seeks only the
        partitions with committed offsets, which changelogs have none of: the recovery waited
        forever for records already passed. A stream record fetched at the end of the recovery,
        when Faust has resumed the stream partitions and the flow but not yet flow control, is
        delivered to an agent's queue that resuming flow control then empties. Either way a
        stream partition's first record after a rebalance could be lost for good: Faust's commit
        passes a missing record at exactly the committed offset (docs/networks.md, "Rebalance
        and kill -9"). Called before the loop yields to the event loop, so no other seek came in
        between: the seek puts each partition back where it was before this fetch.
        """
        buffered = self._buffered_partitions
        flowing = self.flow_active
        rebalancing = self.app.rebalancing
        changelogs = self.app.tables.changelog_topics if rebalancing else ()
        held: set[TP] = set()
        for tp, fetched in records.items():
            if fetched and not (
                flowing
                and (active is None or tp in active or tp in buffered)
                and (not rebalancing or tp.topic in changelogs)
            ):
                await self.seek(tp, fetched[0].offset)
                held.add(tp)
        return held

    def _delivery_order(
        self, records: Mapping[TP, Sequence[Any]]
    ) -> list[tuple[TP, Sequence[Any]]]:
        """Per-record topics' partitions first, then the batch sinks'.

        A sink's ``deliver`` waits while its agent is behind (backpressure), and the loop waits
        with it: a per-record topic fetched in the same round (the campaign stage's
        observations) would wait behind the input's whole backlog. Measured on a preloaded
        50,000-event firehose, the stage's bundles waited 2.6 s (median) to 4.5 s to be handled,
        until the input was drained (docs/networks.md, "Session 12").
        """
        sinks = self.batch_sinks
        items = list(records.items())
        return [i for i in items if i[0].topic not in sinks] + [
            i for i in items if i[0].topic in sinks
        ]

    def _commit_soon(self) -> None:
        """Commit what is acked (``broker_commit_every`` reached) without stopping the fetch loop.

        Faust's fetch loop awaits this commit, and a commit first waits for the producer to have
        every record it holds acknowledged (``producer.flush()``), then for the broker's answer:
        fetching stopped for both, 3-5 ms every 2 s at 5k events/s (docs/performance.md). Only
        acked offsets are committed either way (their outputs are acknowledged). Faust lets one
        commit run at a time; a failing one crashes the consumer, as from Faust's commit timer.
        """
        if self._commit_task is None or self._commit_task.done():
            self._commit_task = self.add_future(self.commit())

    async def _deliver(self, tp: TP, fetched: Sequence[Any]) -> None:
        """Hand one partition's fetched records (aiokafka ``ConsumerRecord``s) on."""
        last_read = self._read_offset[tp]
        batch = fetched
        if last_read is not None and batch and batch[0].offset < last_read:
            batch = [rec for rec in batch if rec.offset >= last_read]  # seen before a seek
        if not batch:
            return
        if self.app.topics.acks_enabled_for(tp.topic):
            await self._track_gaps(tp, last_read, batch)
        sink = self.batch_sinks.get(tp.topic)
        if sink is None:
            callback: Callable[[Any], Awaitable[None]] = self.callback
            for rec in batch:
                await self.wait_first(callback(self._to_message(tp, rec)), self.suspend_flow.wait())
                self._read_offset[tp] = rec.offset
            return
        messages = [
            InMessage(rec.topic, rec.partition, rec.offset, rec.value, rec.key, rec.headers)
            for rec in batch
        ]
        if self.app.monitor is not None:  # Faust's stalled-stream check reads this
            self.app.monitor.stream_inbound_time[tp] = monotonic()
        await self.wait_first(sink.deliver(messages), self.suspend_flow.wait())
        self._read_offset[tp] = batch[-1].offset

    async def _track_gaps(self, tp: TP, last_read: int | None, batch: Sequence[Any]) -> None:
        """Record offsets that will never arrive (compaction, transaction markers) as Faust does,
        so commits can pass them."""
        first, last = batch[0].offset, batch[-1].offset
        contiguous = last - first + 1 == len(batch)
        if contiguous and (not last_read or first - last_read <= 1):
            return
        previous = last_read
        for rec in batch:
            if previous and rec.offset - previous > 1:
                # only the missing offsets (Faust's loop also marks ``rec.offset``, which is then
                # acked twice and holds its commit back by one round)
                await self._add_gap(tp, previous + 1, rec.offset - 1)
            previous = rec.offset


class BatchingTransport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with the batching consumer."""

    Consumer = BatchingConsumer


class FlagstreamApp(faust.App):
    """A Faust app whose consumer can deliver a topic's records in batches.

    Shutdown is bounded: from the moment it starts (SIGTERM), the process exits within
    ``shutdown_timeout_s`` even if the broker is gone and a commit or a flush would wait for it.
    """

    shutdown_timeout_s: float = 8.0
    _watchdog: threading.Timer | None = None

    def arm_shutdown_watchdog(self) -> None:
        """Exit the process ``shutdown_timeout_s`` from now unless it has exited by then."""
        if self._watchdog is not None:
            return
        self._watchdog = threading.Timer(self.shutdown_timeout_s, _shutdown_overdue, (self,))
        self._watchdog.daemon = True
        self._watchdog.start()

    async def stop(self) -> None:
        self.arm_shutdown_watchdog()
        await super().stop()

    def _new_transport(self) -> TransportT:
        return BatchingTransport(self.conf.broker_consumer, self)

    @property
    def batching_consumer(self) -> BatchingConsumer:
        consumer = self.consumer
        if not isinstance(consumer, BatchingConsumer):  # pragma: no cover - wiring error
            raise TypeError(f"expected a BatchingConsumer, got {type(consumer).__name__}")
        return consumer


def _shutdown_overdue(app: FlagstreamApp) -> None:
    logging.getLogger(__name__).warning(
        "shutdown took longer than %.0f s (shutdown_timeout_s), likely waiting for an "
        "unreachable broker; exiting now: what was not committed is consumed again",
        app.shutdown_timeout_s,
    )
    logging.shutdown()
    os._exit(0)
