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
