"""A backlog on the input topic must not starve the per-record topics fetched beside it.

aiokafka hands out buffered records partition by partition, in the order they were fetched, up to
``max_records``; a partition stays first until its buffer is empty. The campaign stage's
observations used to wait behind the input's whole backlog (docs/networks.md, "Session 12").
No broker: the fetcher below keeps aiokafka's order.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streams.app import create_app
from streams.consumer import BatchingConsumer, InLoopConsumerThread
from streams.settings import Settings

INPUT = "events"
OBSERVATIONS = "flagstream-networks-observations"


class _OrderedFetcher:
    """aiokafka's ``Fetcher.fetched_records`` order: buffered partitions in fetch order, each
    drained before the next, until ``max_records``; partitions not asked for are left alone."""

    _closed = False

    def __init__(self, buffered: dict[TP, int]) -> None:
        self.records: dict[TP, list[int]] = {tp: list(range(n)) for tp, n in buffered.items()}
        self.calls: list[set[TP]] = []
        self._subscriptions = SimpleNamespace(fetch_context=contextlib.nullcontext)

    async def fetched_records(
        self,
        partitions: set[TP],
        timeout: float = 0,  # noqa: ASYNC109 (aiokafka's signature)
        max_records: int | None = None,
    ) -> dict[TP, list[int]]:
        self.calls.append(set(partitions))
        out: dict[TP, list[int]] = {}
        left = max_records
        for tp in list(self.records):
            if partitions and tp not in partitions:
                continue
            take = self.records[tp] if left is None else self.records[tp][:left]
            if not take:
                continue
            out[tp] = take
            self.records[tp] = self.records[tp][len(take) :]
            if left is not None:
                left -= len(take)
                if left == 0:
                    break
        return out


@contextlib.contextmanager
def _thread(data_dir: Path) -> Iterator[tuple[InLoopConsumerThread, BatchingConsumer]]:
    app = create_app(Settings(data_dir=data_dir))
    consumer = app.batching_consumer
    thread = consumer._thread
    assert isinstance(thread, InLoopConsumerThread)
    yield thread, consumer


def _fetch(
    thread: InLoopConsumerThread, fetcher: _OrderedFetcher, active: set[TP], max_records: int
) -> dict[TP, list[int]]:
    aiokafka = SimpleNamespace(_fetcher=fetcher, _closed=False)
    coro = thread._fetch_records(aiokafka, active, timeout=1.0, max_records=max_records)
    return dict(asyncio.run(coro))


def test_per_record_partitions_are_read_before_a_sinks_backlog(tmp_path: Path) -> None:
    with _thread(tmp_path) as (thread, consumer):
        consumer.batch_sinks[INPUT] = SimpleNamespace()
        backlog, stage = TP(INPUT, 0), TP(OBSERVATIONS, 0)
        fetcher = _OrderedFetcher({backlog: 5_000, TP(INPUT, 1): 5_000, stage: 3})
        got = _fetch(thread, fetcher, {backlog, TP(INPUT, 1), stage}, 1_024)
    assert list(got) == [stage, backlog]  # the stage's records first, the backlog fills the rest
    assert got[stage] == [0, 1, 2]
    assert len(got[backlog]) == 1_021


def test_without_per_record_records_the_fetch_is_fausts(tmp_path: Path) -> None:
    with _thread(tmp_path) as (thread, consumer):
        consumer.batch_sinks[INPUT] = SimpleNamespace()
        backlog, stage = TP(INPUT, 0), TP(OBSERVATIONS, 0)
        fetcher = _OrderedFetcher({backlog: 5_000})
        got = _fetch(thread, fetcher, {backlog, stage}, 1_024)
    assert list(got) == [backlog]
    assert len(got[backlog]) == 1_024
    assert fetcher.calls[-1] == {backlog, stage}  # one plain fetch of every active partition


def test_a_worker_without_sinks_fetches_as_faust_does(tmp_path: Path) -> None:
    with _thread(tmp_path) as (thread, _consumer):
        first, second = TP(INPUT, 0), TP(OBSERVATIONS, 0)
        fetcher = _OrderedFetcher({first: 5_000, second: 3})
        got = _fetch(thread, fetcher, {first, second}, 1_024)
    assert list(got) == [first]  # aiokafka's order: nothing to put first
    assert len(fetcher.calls) == 1


def test_per_record_partitions_are_delivered_before_the_sinks(tmp_path: Path) -> None:
    """A sink's ``deliver`` waits while its agent is behind: what follows it in a round waits
    too, so the stage's records are handed on first."""
    with _thread(tmp_path) as (_, consumer):
        consumer.batch_sinks[INPUT] = SimpleNamespace()
        records: dict[TP, Any] = {TP(INPUT, 0): [1], TP(OBSERVATIONS, 2): [2], TP(INPUT, 1): [3]}
        order = [tp for tp, _ in consumer._delivery_order(records)]
    assert order == [TP(OBSERVATIONS, 2), TP(INPUT, 0), TP(INPUT, 1)]


def test_a_poll_returns_a_few_batches_not_a_whole_fetch(tmp_path: Path) -> None:
    """A sink's ``deliver`` waits until what it was given is nearly processed: a whole fetch
    (thousands of records per partition) made every round of the fetch loop last about a
    second under a backlog."""
    settings = Settings(data_dir=tmp_path, batch_max=128, campaigns_enabled=True)
    app = create_app(settings)
    assert app.conf.broker_max_poll_records == 4 * settings.batch_max
    # without the campaign stage no other topic waits behind the input: the cap only cost
    # throughput (40 % of the drain on the bench workload), so a poll takes what was fetched
    plain = create_app(Settings(data_dir=tmp_path / "plain", batch_max=128))
    assert plain.conf.broker_max_poll_records is None
