"""The batching consumer's offset bookkeeping is Faust's: acked offsets commit contiguously.

Each test builds the app inside ``asyncio.run`` so Faust's services use (and close) that loop.
Nothing is started: no broker is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiokafka.structs import ConsumerRecord
from faust.types import TP
from faust.types.tuples import Message

from streams.app import create_app
from streams.consumer import BatchingConsumer
from streams.settings import Settings

TOPIC = "events"


@contextlib.contextmanager
def _consumer(data_dir: Path) -> Iterator[BatchingConsumer]:
    app = create_app(Settings(data_dir=data_dir))
    app.topics.acking_topics.add(TOPIC)  # what subscribing an acking topic does
    yield app.batching_consumer


def test_acked_offsets_commit_up_to_the_first_hole(tmp_path: Path) -> None:
    async def scenario() -> None:
        with _consumer(tmp_path) as consumer:
            tp = TP(TOPIC, 0)
            consumer._committed_offset[tp] = 5
            assert consumer.ack_offsets(tp, [5, 6, 7, 9], {tp}) == 4
            assert consumer.ack_offsets(tp, [6, 7], {tp}) == 0  # acked twice counts once
            assert consumer._new_offset(tp) == 8  # offset to commit: 5, 6, 7 done, 8 is not
            consumer._committed_offset[tp] = 8  # what the commit does
            assert consumer.ack_offsets(tp, [8], {tp}) == 1
            assert consumer._new_offset(tp) == 10

    asyncio.run(scenario())


def test_offsets_below_the_committed_one_are_ignored(tmp_path: Path) -> None:
    async def scenario() -> None:
        with _consumer(tmp_path) as consumer:
            tp = TP(TOPIC, 1)
            consumer._committed_offset[tp] = 100
            assert consumer.ack_offsets(tp, [98, 99], {tp}) == 0
            assert consumer._new_offset(tp) is None
            assert (
                consumer.ack_offsets(TP("other", 0), [0, 1], {TP("other", 0)}) == 0
            )  # not an acking topic

    asyncio.run(scenario())


def test_missing_offsets_become_gaps_that_commits_pass(tmp_path: Path) -> None:
    async def scenario() -> None:
        with _consumer(tmp_path) as consumer:
            tp = TP(TOPIC, 2)  # offsets 11 and 12 never arrive (transaction markers, compaction)
            consumer._committed_offset[tp] = 10
            await consumer._track_gaps(tp, 9, [SimpleNamespace(offset=o) for o in (10, 13, 14)])
            consumer.ack_offsets(tp, [10, 13, 14], {tp})
            assert consumer._new_offset(tp) == 15

    asyncio.run(scenario())


def test_offsets_of_a_revoked_partition_are_dropped(tmp_path: Path) -> None:
    async def scenario() -> None:
        with _consumer(tmp_path) as consumer:
            kept, revoked = TP(TOPIC, 0), TP(TOPIC, 1)
            assert consumer.ack_offsets(revoked, [0, 1, 2], {kept}) == 0
            assert consumer._new_offset(revoked) is None  # its new owner consumes them again
            assert consumer.ack_offsets(kept, [0, 1], {kept}) == 2

    asyncio.run(scenario())


def _message(tp: TP, offset: int, *, tracked: bool) -> Message:
    message = Message(tp.topic, tp.partition, offset, 0.0, 0, None, None, b"v", None)
    message.tracked = tracked
    return message


def test_a_record_the_stream_skipped_without_tracking_is_not_acked(tmp_path: Path) -> None:
    """Faust's stream iterator acks a record it skipped (fetched before a rebalance, or while
    flow control was suspended) without tracking it: the commit must not pass it."""

    async def scenario() -> None:
        with _consumer(tmp_path) as consumer:
            tp = TP(TOPIC, 3)
            consumer._committed_offset[tp] = 0
            assert consumer.ack(_message(tp, 0, tracked=True))
            assert not consumer.ack(_message(tp, 1, tracked=False))  # skipped by the stream
            assert consumer.ack(_message(tp, 2, tracked=True))
            assert consumer._new_offset(tp) == 1  # stops below the skipped record
            other = TP("not-acking", 0)  # a topic without acks: Faust's rule, unchanged
            assert not consumer.ack(_message(other, 0, tracked=False))
            assert consumer._new_offset(other) is None

    asyncio.run(scenario())


CHANGELOG = TP("app-networks-campaigns-changelog", 1)
OBSERVATIONS = TP("app-networks-observations", 2)


class _FakeAiokafka:
    """The aiokafka consumer under the fetch loop, holding one partition of 4 records.

    As aiokafka does: a fetch moves the partition's position past what it returns, a seek moves
    it, and a fetch reads which partitions it may return from the set it was given at the moment
    it returns, an empty set meaning every partition (``Fetcher.fetched_records``). The first
    fetch stays in flight until the test releases it, as one begun before a rebalance does; a
    fetch that finds nothing sets ``idle`` and never returns.
    """

    def __init__(self, consumer: BatchingConsumer, tp: TP = CHANGELOG) -> None:
        self.consumer = consumer
        self.tp = tp
        self.position = 0
        self.in_flight = asyncio.Event()
        self.release = asyncio.Event()
        self.idle = asyncio.Event()
        self.fetches = 0

    async def getmany(self, active_partitions: set[TP] | None, timeout_s: float) -> dict[TP, list]:
        self.fetches += 1
        if self.fetches == 1:
            self.in_flight.set()
            await self.release.wait()
        tp = self.tp
        if self.position >= 4 or (active_partitions and tp not in active_partitions):
            self.idle.set()
            await asyncio.Event().wait()
        records = [
            ConsumerRecord(tp.topic, tp.partition, o, 0, 0, b"k", b"v", None, 1, 1, [])
            for o in range(self.position, 4)
        ]
        self.position = 4
        return {tp: records}

    def seek(self, tp: TP, offset: int) -> None:
        assert tp == self.tp
        self.position = offset

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        """The table recovery's seek (Faust's thread also forgets the partition's read offset)."""
        for tp, offset in partitions.items():
            self.seek(tp, offset)
            self.consumer._read_offset.pop(tp, None)

    async def seek_to_committed(self) -> dict[TP, int]:
        return {}  # a changelog partition has no committed offset

    def assignment(self) -> set[TP]:
        return {self.tp}


@pytest.mark.parametrize("flow", ["stopped", "running"])
def test_records_fetched_while_their_partition_was_paused_are_fetched_again(
    tmp_path: Path, flow: str
) -> None:
    """A fetch begun before a rebalance returns after the table recovery sought a changelog
    partition to its start, while every partition is paused: with the flow stopped (the
    rebalance's), or running (the end of a recovery: actives paused, standbys sought, not yet
    resumed). The loop must not deliver those records then, and must deliver them once the
    recovery resumes the partition. It used to drop them with the position past them: the
    recovery waited for them forever (docs/networks.md, "Rebalance and kill -9")."""

    async def scenario() -> list[int]:
        with _consumer(tmp_path) as consumer:
            fake = _FakeAiokafka(consumer)
            consumer._thread = fake  # type: ignore[assignment]
            delivered: list[int] = []
            waiting = asyncio.Event()  # the loop waits: flow stopped, or nothing to fetch from
            wake = asyncio.Event()

            async def callback(message: Message) -> None:
                delivered.append(message.offset)

            async def perform_seek() -> None:  # the loop's reaction to a stopped flow
                waiting.set()

            async def sleep(seconds: float) -> None:  # Faust's fetch with no active partition
                waiting.set()
                await wake.wait()

            consumer.callback = callback
            consumer.perform_seek = perform_seek  # type: ignore[method-assign]
            consumer.sleep = sleep  # type: ignore[method-assign,assignment]
            consumer._set_active_tps({CHANGELOG})
            fetcher = SimpleNamespace(_stopped=asyncio.Event())
            task = asyncio.ensure_future(consumer._drain_messages(fetcher))  # type: ignore[arg-type]
            try:
                await fake.in_flight.wait()
                if flow == "stopped":
                    consumer.stop_flow()
                consumer.pause_partitions({CHANGELOG})
                await consumer.seek_wait({CHANGELOG: 0})
                fake.release.set()  # the fetch in flight returns records 0..3
                await waiting.wait()  # ... which the loop did not deliver
                assert delivered == []
                consumer.resume_partitions({CHANGELOG})  # the recovery resumes
                consumer.resume_flow()
                wake.set()
                await fake.idle.wait()
                return delivered
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    assert asyncio.run(scenario()) == [0, 1, 2, 3]


def test_stream_records_wait_for_the_end_of_the_rebalance(tmp_path: Path) -> None:
    """At the end of a table recovery Faust resumes the stream partitions and the flow, seeks
    them to their committed offsets, and only then resumes flow control, which empties every
    agent's queue: a record delivered in between was dropped from the campaign agent's queue
    with the position past it, and Faust's commit passes a missing record at the committed
    offset (docs/networks.md). Until the rebalance ends (``app.rebalancing``) a stream
    partition's records are sought back, and delivered after."""

    async def scenario() -> tuple[list[int], list[int]]:
        with _consumer(tmp_path) as consumer:
            fake = _FakeAiokafka(consumer, OBSERVATIONS)
            consumer._thread = fake  # type: ignore[assignment]
            fetched_again = asyncio.Event()
            go_on = asyncio.Event()
            getmany = fake.getmany

            async def fetch(active: set[TP] | None, timeout_s: float) -> dict[TP, list]:
                if fake.fetches == 1:  # the second fetch, after the first one's records
                    fetched_again.set()
                    await go_on.wait()
                return await getmany(active, timeout_s)

            fake.getmany = fetch  # type: ignore[method-assign,assignment]
            fake.release.set()
            delivered: list[int] = []

            async def callback(message: Message) -> None:
                delivered.append(message.offset)

            consumer.callback = callback
            consumer._set_active_tps({OBSERVATIONS})
            consumer.app.rebalancing = True  # streams resumed, the recovery not over yet
            fetcher = SimpleNamespace(_stopped=asyncio.Event())
            task = asyncio.ensure_future(consumer._drain_messages(fetcher))  # type: ignore[arg-type]
            try:
                waited = [asyncio.ensure_future(e.wait()) for e in (fetched_again, fake.idle)]
                await asyncio.wait(waited, return_when=asyncio.FIRST_COMPLETED)
                for w in waited:
                    w.cancel()
                during = list(delivered)
                consumer.app.rebalancing = False  # Recovery.on_recovery_completed is done
                go_on.set()
                await fake.idle.wait()
                return during, delivered
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    during, after = asyncio.run(scenario())
    assert during == []
    assert after == [0, 1, 2, 3]
