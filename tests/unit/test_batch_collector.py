"""The agent's batch collector: sealing by size and age, backpressure, shutdown. No broker."""

from __future__ import annotations

import asyncio

from streams.agents import BatchCollector
from streams.publish import InMessage


def _msgs(start: int, n: int, partition: int = 0) -> list[InMessage]:
    return [InMessage("events", partition, off, b"{}") for off in range(start, start + n)]


def test_batches_are_cut_at_max_in_delivery_order() -> None:
    async def scenario() -> list[list[int]]:
        c = BatchCollector(max_events=4, within_s=60.0, depth=10)
        await c.deliver(_msgs(0, 6))
        await c.deliver(_msgs(6, 5, partition=1))
        c.close()
        out = []
        while (batch := await c.next_batch()) is not None:
            out.append([m.offset for m in batch])
        return out

    assert asyncio.run(scenario()) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]


def test_a_partial_batch_is_sealed_after_within() -> None:
    async def scenario() -> tuple[int, float]:
        c = BatchCollector(max_events=256, within_s=0.05, depth=2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await c.deliver(_msgs(0, 3))
        batch = await asyncio.wait_for(c.next_batch(), 5)
        assert batch is not None
        return len(batch), loop.time() - started

    size, waited = asyncio.run(scenario())
    assert size == 3
    assert waited >= 0.04


def test_delivery_waits_while_depth_batches_are_sealed() -> None:
    async def scenario() -> list[str]:
        c = BatchCollector(max_events=2, within_s=60.0, depth=2)
        log: list[str] = []

        async def producer() -> None:
            await c.deliver(_msgs(0, 2))
            log.append("delivered 1")
            await c.deliver(_msgs(2, 2))  # second sealed batch: no room until one is taken
            log.append("delivered 2")

        task = asyncio.ensure_future(producer())
        await asyncio.sleep(0.01)
        log.append("taking")
        assert await c.next_batch() is not None
        await asyncio.wait_for(task, 5)
        return log

    assert asyncio.run(scenario()) == ["delivered 1", "taking", "delivered 2"]


def test_after_close_deliveries_are_refused_and_everything_sealed_is_drained() -> None:
    async def scenario() -> list[int]:
        c = BatchCollector(max_events=10, within_s=60.0, depth=4)
        await c.deliver(_msgs(0, 3))
        c.close()
        await c.deliver(_msgs(3, 3))  # not taken: never acked, so consumed again after restart
        offsets: list[int] = []
        while (batch := await c.next_batch()) is not None:
            offsets.extend(m.offset for m in batch)
        return offsets

    assert asyncio.run(scenario()) == [0, 1, 2]


def test_natural_batching_takes_what_has_arrived_at_once() -> None:
    async def scenario() -> list[list[int]]:
        c = BatchCollector(max_events=4, within_s=0.0, depth=2)
        sizes: list[list[int]] = []
        waiter = asyncio.ensure_future(c.next_batch())  # an idle processor
        await asyncio.sleep(0)
        await c.deliver(_msgs(0, 1))
        first = await asyncio.wait_for(waiter, 1)  # no waiting for the batch to fill
        assert first is not None
        sizes.append([m.offset for m in first])
        # while the processor is busy, deliveries accumulate (up to max per batch)
        await c.deliver(_msgs(1, 2))
        await c.deliver(_msgs(3, 3))
        while (batch := await asyncio.wait_for(c.next_batch(), 1)) is not None:
            sizes.append([m.offset for m in batch])
            if batch[-1].offset == 5:
                break
        return sizes

    assert asyncio.run(scenario()) == [[0], [1, 2, 3, 4], [5]]


def test_settled_waits_until_every_delivered_record_is_acked() -> None:
    async def scenario() -> list[str]:
        c = BatchCollector(max_events=4, within_s=60.0, depth=4)
        log: list[str] = []
        await c.settled()  # nothing delivered: settled at once
        await c.deliver(_msgs(0, 6))  # one full batch sealed, two records buffered

        async def rebalance() -> None:
            await c.settled()  # seals the partial batch rather than waiting out `within`
            log.append("settled")

        waiter = asyncio.ensure_future(rebalance())
        for _ in range(2):
            batch = await asyncio.wait_for(c.next_batch(), 1)
            assert batch is not None
            await asyncio.sleep(0.01)
            log.append(f"acked {len(batch)}")
            c.acked(len(batch))
        await asyncio.wait_for(waiter, 1)
        return log

    assert asyncio.run(scenario()) == ["acked 4", "acked 2", "settled"]
