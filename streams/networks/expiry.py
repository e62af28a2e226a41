"""Which stored keys have been idle since before a horizon: the trackers' expiry queue.

Both trackers delete a key once the time it was last written (event time) falls behind a
horizon, and both used to keep a heap of ``(time, key)`` with one entry per write: 88 bytes an
entry (a tuple, a float and the heap's slot; the key is the store's own string), 13 MB for the
150,000 flagged authors of the 1M-author bench. Here the entries are kept by time bucket, a list
of keys each (8 bytes an entry). Only the bucket the horizon falls in needs each entry's time:
its keys become an exact ``(time, key)`` heap once, when the horizon first reaches it, with the
time read back from the store, so what :meth:`ExpiryQueue.due` returns is what the heap gave
(every key whose latest write is older than the horizon), each bucket's keys in the order they
were written rather than by time.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterator
from typing import Final

#: a bucket's width, event-time seconds: the one bucket kept as an exact heap holds this long
#: of writes
BUCKET_S: Final = 60.0


class ExpiryQueue:
    """Keys by the time of their writes; :meth:`due` takes out those idle since a horizon."""

    __slots__ = ("_buckets", "_edge", "_edge_bucket", "_order", "width_s")

    def __init__(self, width_s: float = BUCKET_S) -> None:
        if not width_s > 0:
            raise ValueError(f"expiry bucket width {width_s} must be > 0 seconds")
        self.width_s = width_s
        self._buckets: dict[int, list[str]] = {}
        self._order: list[int] = []  # heap of the buckets' numbers
        self._edge: list[tuple[float, str]] = []  # the horizon's bucket (and older), exact
        self._edge_bucket = -math.inf  # the newest bucket merged into ``_edge``

    def __len__(self) -> int:
        return len(self._edge) + sum(len(keys) for keys in self._buckets.values())

    def clear(self) -> None:
        self._buckets.clear()
        self._order.clear()
        self._edge.clear()
        self._edge_bucket = -math.inf

    def push(self, ts: float, key: str) -> None:
        """``key`` was written with time ``ts`` (a key written again gets one more entry)."""
        bucket = math.floor(ts / self.width_s)
        if bucket <= self._edge_bucket:
            heapq.heappush(self._edge, (ts, key))
            return
        keys = self._buckets.get(bucket)
        if keys is None:
            keys = self._buckets[bucket] = []
            heapq.heappush(self._order, bucket)
        keys.append(key)

    def due(self, horizon: float, time_of: Callable[[str], float | None]) -> Iterator[str]:
        """Take out the entries written before ``horizon`` and yield their keys, as popping
        the heap did: the caller checks each key's latest write and deletes it if older (a key
        written again since, or deleted by an earlier entry, is yielded all the same).

        ``time_of(key)`` (the key's latest write, None if it is no longer stored) is read once
        for each entry of the bucket the horizon falls in, when the horizon first reaches it.
        """
        width = self.width_s
        order, buckets, edge = self._order, self._buckets, self._edge
        while order and (order[0] + 1) * width <= horizon:  # wholly older: every entry is due
            yield from buckets.pop(heapq.heappop(order))
        if order and order[0] * width <= horizon:  # the horizon's bucket: exact from now on
            bucket = heapq.heappop(order)
            for key in buckets.pop(bucket):
                ts = time_of(key)
                if ts is not None and math.floor(ts / width) <= bucket:  # else a later entry
                    heapq.heappush(edge, (ts, key))
            self._edge_bucket = bucket
        while edge and edge[0][0] < horizon:
            yield heapq.heappop(edge)[1]
