"""The expiry queue deletes exactly what the heap of (time, key) it replaced deleted."""

from __future__ import annotations

import heapq
import random

import pytest

from streams.networks.expiry import ExpiryQueue


def _heap_expire(
    heap: list[tuple[float, str]], store: dict[str, float], horizon: float
) -> set[str]:
    gone: set[str] = set()
    while heap and heap[0][0] < horizon:
        _ts, key = heapq.heappop(heap)
        if key in store and store[key] < horizon:
            del store[key]
            gone.add(key)
    return gone


def _queue_expire(queue: ExpiryQueue, store: dict[str, float], horizon: float) -> set[str]:
    gone: set[str] = set()
    for key in queue.due(horizon, store.get):
        if key in store and store[key] < horizon:
            del store[key]
            gone.add(key)
    return gone


@pytest.mark.parametrize("seed", range(6))
def test_the_same_keys_are_deleted_as_by_a_heap_whatever_the_order_of_writes(seed: int) -> None:
    rng = random.Random(seed)
    width = rng.choice([0.5, 7.0, 60.0])
    queue = ExpiryQueue(width)
    heap: list[tuple[float, str]] = []
    mine: dict[str, float] = {}
    theirs: dict[str, float] = {}
    now = 0.0
    for _step in range(300):
        now += rng.uniform(0.0, 5.0)
        for _ in range(rng.randint(0, 12)):
            key = f"k{rng.randrange(200)}"
            # late writes too (event time goes back), a key's time only grows as stored
            ts = max(now - rng.uniform(0.0, 90.0), mine.get(key, float("-inf")))
            assert mine.get(key) == theirs.get(key)
            mine[key] = theirs[key] = ts
            queue.push(ts, key)
            heapq.heappush(heap, (ts, key))
        horizon = now - rng.uniform(10.0, 60.0)
        assert _queue_expire(queue, mine, horizon) == _heap_expire(heap, theirs, horizon)
        assert mine == theirs
    assert len(queue) >= len(mine)  # every stored key still has an entry


def test_a_key_written_again_later_is_kept_until_its_newest_write_is_old() -> None:
    queue = ExpiryQueue(60.0)
    store = {"a": 10.0}
    queue.push(10.0, "a")
    store["a"] = 500.0
    queue.push(500.0, "a")
    assert _queue_expire(queue, store, 200.0) == set()
    assert _queue_expire(queue, store, 499.5) == set()  # in its bucket, not yet older
    assert _queue_expire(queue, store, 500.0) == set()
    assert _queue_expire(queue, store, 500.001) == {"a"}
    assert len(queue) == 0


def test_the_width_must_be_positive() -> None:
    with pytest.raises(ValueError, match="width"):
        ExpiryQueue(0.0)
