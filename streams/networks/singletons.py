"""Near-duplicate singletons: texts no second author has posted yet, kept in numpy arrays.

Most of a firehose is texts that never meet a near-duplicate from another author. A stored
cluster (a table row of JSON with its members, authors and exemplars, plus ~10 band keys in a
Python dict) for each of them made the campaign state ~1.6 GB at 1M authors. Here a singleton
is one row of a segment's arrays: the low 16 bits of each signature position (``num_perm``
uint16: b-bit MinHash, two equal positions by chance 1 in 65,536; the tracker compares every
exemplar at 16 bits, see ``campaigns.py``), its event time (the newest of its events; int32 milliseconds from the
segment's first time, whole seconds), and a small packed record in the segment's byte arena:
author id, event id and labels separated by ``\x1f`` (~25 bytes), or, once its author has
posted it again, JSON with the id, time and labels of each of its events; either ends with
``\x1e``, so a row keeps only where its record starts. Its band keys are in the segment's sorted
``uint32`` array (the low 32 bits of each 63-bit band key) with the row of each: a lookup is a
``searchsorted`` per segment; a 32-bit key that collides only brings one more
candidate to the similarity test. A sealed segment of more than 131,074 keys keeps them as
65,536 buckets (a key's high 16 bits) of sorted uint16 low halves instead: 4 bytes a key, not
6, and the same rows found in the same order (``_Segment.bucket``).

Segments fill up to ``segment_size`` rows and are then sealed (so is the open one when a time
falls outside its ±24.8 days of milliseconds); a segment is dropped whole once
every row is older than the tracker's horizon (event time), and a row older than the horizon
is never returned: the same "idle for longer than W" rule as a stored group, to the
millisecond. A row promoted to a stored cluster (a second distinct author arrived) is marked
dead.

In memory only: see docs/networks.md ("Singletons and recovery") for what a restart loses.
"""

from __future__ import annotations

import bisect
import ctypes
import functools
import math
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

_LOW32: Final = 0xFFFF_FFFF
_LOW16: Final = 0xFFFF
_MS_MIN: Final = -(2**31)  # a row's time: int32 milliseconds from its segment's base
_MS_MAX: Final = 2**31 - 1
_EMPTY_KEYS: Final = np.zeros(0, np.uint32)
_EMPTY_ROWS: Final = np.zeros(0, np.uint16)
_SEP: Final = "\x1f"  # ASCII unit separator: not in ids as platforms make them (else JSON)
_END: Final = b"\x1e"  # ends every record: never in one (orjson escapes control characters)
_JSON: Final = b"\x00"  # a record in JSON follows
_FIRST_ROWS: Final = 1_024  # an open segment's first capacity, doubled as it fills
_BUCKETS: Final = 65_536  # a sealed segment's index: one bucket per high 16 bits of a key
_M_MMAP_THRESHOLD: Final = -3  # mallopt's parameter number (glibc's malloc.h)
#: allocations from this size up are mapped apart and returned to the system when freed:
#: 1 MiB, not the 128 KiB the environment variable was tried with, keeps the few-hundred-KB
#: temporaries of MinHash and the classifier on the heap (the same RSS, measured: 319.5 against
#: 317.8 MB at 1M authors; MinHash + bands 17.5-22.7 against 27.9-31.7 µs/event, 9.9-13.0 unset)
MMAP_THRESHOLD: Final = 1_048_576


@functools.cache
def set_mmap_threshold(size: int) -> bool:
    """glibc's ``mallopt(M_MMAP_THRESHOLD, size)``, once per process; False elsewhere.

    Process-wide, by necessity: every index rebuild (``_Segment.add_keys``) makes a new array of
    a few MB and frees the old one; glibc then raises its mmap threshold (it adapts it to the
    largest freed mapping), so later arrays come from the heap and leave resident holes there,
    ~25 MB at 1M singletons (docs/networks.md, "Heap holes"). Mapping only the segments' own
    arrays apart was tried and is not enough (339.5 MB at 1M authors: other large allocations,
    the table's dict among them, leave holes too). A fixed threshold turns that off
    for the whole process: every allocation of ``size`` or more is an mmap and its pages are
    faulted in afresh, which costs CPU wherever large arrays are made per batch (measured in
    the same docs section). The environment variable ``MALLOC_MMAP_THRESHOLD_`` does the same
    before start-up; ``mmap_threshold=None`` leaves the process's allocator alone.
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, size))


@dataclass(frozen=True, slots=True)
class Singleton:
    """One row, as the tracker sees it when it compares or promotes it."""

    segment: int  # the segment's id
    row: int
    author_id: str
    ts: float
    signature: npt.NDArray[np.uint16]  # the low 16 bits of each position
    members: list[list[Any]]  # [event_id, author_id, ts, labels], as a group's members


class _Segment:
    """Up to ``capacity`` singletons in preallocated arrays (sealed: trimmed to size)."""

    __slots__ = (
        "alive",
        "arena",
        "base",
        "ident",
        "keys",
        "lows",
        "max_ts",
        "ms",
        "offsets",
        "rows",
        "sigs",
        "size",
        "starts",
    )

    def __init__(self, ident: int, capacity: int, num_perm: int, base: float) -> None:
        self.ident = ident
        self.size = 0
        self.base = float(math.floor(base))  # whole seconds: row times are ms from it
        self.sigs = np.zeros((capacity, num_perm), np.uint16)  # low 16 bits of each position
        self.ms = np.zeros(capacity, np.int32)
        self.alive = np.zeros(capacity, np.bool_)
        self.starts = np.zeros(capacity, np.uint32)  # where each record starts in the arena
        self.arena = bytearray()
        self.keys: npt.NDArray[np.uint32] = _EMPTY_KEYS  # sorted band keys (low 32 bits)
        self.rows: npt.NDArray[np.uint16] = _EMPTY_ROWS  # the row of each key
        # sealed and bucketed (see ``bucket``): keys is empty, a key's high 16 bits are its
        # bucket, lows[offsets[b]:offsets[b + 1]] the sorted low 16 bits of bucket b's keys
        self.offsets: memoryview | None = None
        self.lows: memoryview | None = None
        self.max_ts = float("-inf")

    @property
    def capacity(self) -> int:
        return int(self.ms.shape[0])

    def to_ms(self, ts: float) -> int:
        """``ts`` as this segment keeps it (may be out of int32's range: see ``fits``)."""
        return round((ts - self.base) * 1000.0)

    def fits(self, ts: float) -> bool:
        return _MS_MIN <= self.to_ms(ts) <= _MS_MAX

    def time(self, row: int) -> float:
        return self.base + int(self.ms[row]) / 1000.0

    def since(self, horizon: float) -> int:
        """The first kept time at or after ``horizon`` (rows before it are never returned)."""
        if horizon == float("-inf"):
            return _MS_MIN
        return min(max(self.to_ms(horizon), _MS_MIN), _MS_MAX + 1)

    def resize(self, rows: int) -> None:
        """The arrays with room for ``rows`` (at least ``size``) rows."""
        n = self.size
        for name in ("sigs", "ms", "alive", "starts"):
            old = getattr(self, name)
            new = np.zeros((rows, *old.shape[1:]), old.dtype)
            new[:n] = old[:n]
            setattr(self, name, new)

    def seal(self) -> None:
        """Trim the arrays to the rows used (the segment takes no more rows), and bucket its
        index when that is smaller."""
        self.resize(self.size)
        self.arena = bytearray(self.arena)  # exact size, no growth slack
        # 2 bytes a key saved against 4 a bucket: worth it from 131,074 keys (~13k rows)
        if 2 * self.keys.size > 4 * (_BUCKETS + 1):
            self.bucket()

    def bucket(self) -> None:
        """The sorted index as 65,536 buckets of uint16 key halves: 4 bytes a key (low half,
        row) instead of 6 (uint32 key, row), plus 256 KiB of offsets: −16 bytes a singleton
        at 10 bands and 65,536 rows. The same keys in the same order, so every lookup returns
        the same rows in the same order."""
        keys = self.keys
        counts = np.bincount(keys >> 16, minlength=_BUCKETS)
        offsets = np.zeros(_BUCKETS + 1, np.uint32)
        np.cumsum(counts, out=offsets[1:])
        # memoryviews: indexing one gives a Python int, which bisect needs (a numpy scalar
        # per index would cost ~10x as much)
        self.offsets = offsets.data
        self.lows = (keys & _LOW16).astype(np.uint16).data
        self.keys = _EMPTY_KEYS

    def indexed(self) -> int:
        """Keys in the index."""
        return len(self.lows) if self.lows is not None else int(self.keys.size)

    def find(self, low: npt.NDArray[np.uint32]) -> list[int]:
        """The rows indexed under each of ``low`` (band keys, low 32 bits), key by key, each
        key's rows in index order."""
        rows = self.rows
        if self.lows is None:
            lo = np.searchsorted(self.keys, low, side="left").tolist()
            hi = np.searchsorted(self.keys, low, side="right").tolist()
            return [r for a, b in zip(lo, hi, strict=True) if a < b for r in rows[a:b].tolist()]
        offsets, lows = self.offsets, self.lows
        assert offsets is not None
        out: list[int] = []
        left, right = bisect.bisect_left, bisect.bisect_right
        for key in low.tolist():
            bucket, half = key >> 16, key & _LOW16
            first, end = offsets[bucket], offsets[bucket + 1]
            a = left(lows, half, first, end)
            b = right(lows, half, a, end)
            if a < b:
                out.extend(rows[a:b].tolist())
        return out

    def keys_of(self, row: int) -> list[int]:
        """The keys ``row`` is indexed under, ascending."""
        where = np.flatnonzero(self.rows == row)
        if self.lows is None:
            return [int(k) for k in self.keys[where].tolist()]
        offsets = np.asarray(self.offsets)
        lows = np.asarray(self.lows)
        buckets = np.searchsorted(offsets, where, side="right") - 1
        keys = (buckets.astype(np.uint32) << 16) | lows[where]
        return [int(k) for k in keys.tolist()]

    def add_keys(self, keys: npt.NDArray[np.uint32], rows: npt.NDArray[np.uint16]) -> None:
        if self.lows is not None:
            raise RuntimeError("a bucketed (sealed) segment's index takes no more keys")
        order = np.argsort(keys, kind="stable")
        keys, rows = keys[order], rows[order]
        at = np.searchsorted(self.keys, keys, side="right")
        self.keys = np.insert(self.keys, at, keys)
        self.rows = np.insert(self.rows, at, rows)

    def nbytes(self) -> int:
        return int(
            self.sigs.nbytes
            + self.ms.nbytes
            + self.alive.nbytes
            + self.starts.nbytes
            + len(self.arena)
            + self.keys.nbytes
            + self.rows.nbytes
            + (self.offsets.nbytes if self.offsets is not None else 0)
            + (self.lows.nbytes if self.lows is not None else 0)
        )


class SingletonStore:
    """The singletons of one tracker (see the module docstring)."""

    def __init__(
        self,
        num_perm: int,
        bands: int,
        segment_size: int = 65_536,
        mmap_threshold: int | None = MMAP_THRESHOLD,
    ) -> None:
        if not 0 < segment_size <= 65_536:  # rows are uint16
            raise ValueError(f"segment_size {segment_size} must be in 1..65536")
        if mmap_threshold is not None:
            set_mmap_threshold(mmap_threshold)
        self.num_perm = num_perm
        self.bands = bands
        self.segment_size = segment_size
        self._segments: dict[int, _Segment] = {}
        self._open: _Segment | None = None
        self._next_id = 0
        self._live = 0
        # keys of rows added since the last index(): found by a dict until the batch ends
        self._pending: dict[int, list[tuple[int, int]]] = {}
        self._pending_rows: list[tuple[_Segment, int, npt.NDArray[np.uint32]]] = []

    def __len__(self) -> int:
        """Live singletons (promoted ones and dropped segments not counted)."""
        return self._live

    def nbytes(self) -> int:
        """Bytes held by the arrays and arenas (the state-size metric counts them)."""
        return sum(s.nbytes() for s in self._segments.values())

    # --- lookups -----------------------------------------------------------------------------
    def candidates(
        self, bands: npt.NDArray[np.int64], horizon: float
    ) -> Iterator[tuple[_Segment, int]]:
        """Live rows sharing a band key with ``bands`` (one text's), newest segment first."""
        seen: set[tuple[int, int]] = set()
        low = (bands & _LOW32).astype(np.uint32)
        pending = self._pending
        if pending:
            for key in low.tolist():
                for ident, row in pending.get(key, ()):
                    if (ident, row) not in seen:
                        seen.add((ident, row))
                        segment = self._segments[ident]
                        if segment.alive[row] and segment.ms[row] >= segment.since(horizon):
                            yield segment, row
        for segment in sorted(self._segments.values(), key=lambda s: -s.ident):
            if segment.max_ts < horizon or not segment.indexed():
                continue
            since = segment.since(horizon)
            for row in segment.find(low):
                if (segment.ident, row) in seen:
                    continue
                seen.add((segment.ident, row))
                if segment.alive[row] and segment.ms[row] >= since:
                    yield segment, row

    def get(self, segment: _Segment, row: int) -> Singleton:
        start = int(segment.starts[row])
        blob = bytes(segment.arena[start : segment.arena.index(_END, start)])
        ts = segment.time(row)
        if blob[:1] == _JSON:  # repeated by its author: every event with its time
            author, members = orjson.loads(blob[1:])
        else:  # one event, at the row's time: author, event id, labels (unit-separated)
            author, event_id, labels = blob.decode().split(_SEP)
            members = [[event_id, ts, labels.split(",") if labels else []]]
        return Singleton(
            segment.ident,
            row,
            author,
            ts,
            segment.sigs[row],
            [[e, author, t, list(ls)] for e, t, ls in members],
        )

    def keys_of(self, segment: _Segment, row: int) -> list[int]:
        """The band keys (low 32 bits) a row was indexed under (a founder's, when its cluster
        is stored: they cannot be recomputed from 16-bit positions)."""
        for pending, at, keys in self._pending_rows:
            if pending is segment and at == row:
                return [int(k) for k in keys.tolist()]
        return segment.keys_of(row)

    # --- changes -----------------------------------------------------------------------------
    def add(
        self,
        event_id: str,
        author_id: str,
        ts: float,
        labels: tuple[str, ...],
        signature: npt.NDArray[np.uint32],
        bands: npt.NDArray[np.int64],
    ) -> None:
        """A new singleton (findable at once; indexed in bulk by :meth:`index`)."""
        if _SEP in author_id or _SEP in event_id or any(_SEP in x or "," in x for x in labels):
            blob = self._json(author_id, [[event_id, ts, list(labels)]])
        else:
            blob = _SEP.join((author_id, event_id, ",".join(labels))).encode()
            if _END in blob:
                blob = self._json(author_id, [[event_id, ts, list(labels)]])
        self._append(
            (signature & _LOW16).astype(np.uint16), ts, blob, (bands & _LOW32).astype(np.uint32)
        )

    def repeat(
        self, segment: _Segment, row: int, event_id: str, ts: float, labels: tuple[str, ...]
    ) -> bool:
        """The same author posted it again: one more event; False if it is a redelivery."""
        single = self.get(segment, row)
        if any(m[0] == event_id for m in single.members):
            return False
        members = [[m[0], m[2], m[3]] for m in single.members]
        members.append([event_id, ts, list(labels)])
        blob = self._json(single.author_id, members)
        newest = max(single.ts, ts)
        if not segment.fits(newest):  # beyond its segment's range of times: moved to the open one
            keys = np.array(self.keys_of(segment, row), np.uint32)
            self.remove(segment, row)
            self._append(single.signature, newest, blob, keys)
            return True
        self._put(segment, row, blob)
        segment.ms[row] = segment.to_ms(newest)
        segment.max_ts = max(segment.max_ts, ts)
        return True

    def remove(self, segment: _Segment, row: int) -> None:
        """Promoted to a stored cluster: the row is dead."""
        if segment.alive[row]:
            segment.alive[row] = False
            self._live -= 1

    def index(self) -> None:
        """Move the keys added since the last call into their segments' sorted arrays."""
        by_segment: dict[int, list[tuple[int, npt.NDArray[np.uint32]]]] = {}
        for segment, row, keys in self._pending_rows:
            by_segment.setdefault(segment.ident, []).append((row, keys))
        for ident, rows in by_segment.items():
            target = self._segments.get(ident)
            if target is None:
                continue
            keys = np.concatenate([k for _, k in rows])
            row_ids = np.repeat(
                np.array([r for r, _ in rows], np.uint16), [len(k) for _, k in rows]
            )
            target.add_keys(keys, row_ids)
        self._pending.clear()
        self._pending_rows.clear()

    def expire(self, horizon: float) -> int:
        """Drop the segments whose rows are all older than ``horizon``; returns the rows."""
        dropped = 0
        for ident, segment in list(self._segments.items()):
            if segment.max_ts < horizon and segment is not self._open:
                live = int(np.count_nonzero(segment.alive))
                self._live -= live
                dropped += live
                del self._segments[ident]
        if self._open is not None and self._open.max_ts < horizon and not self._pending_rows:
            live = int(np.count_nonzero(self._open.alive[: self._open.size]))
            self._live -= live
            dropped += live
            del self._segments[self._open.ident]
            self._open = None
        return dropped

    def clear(self) -> None:
        self._segments.clear()
        self._open = None
        self._live = 0
        self._pending.clear()
        self._pending_rows.clear()

    def _append(
        self,
        signature: npt.NDArray[np.uint16],
        ts: float,
        blob: bytes,
        keys: npt.NDArray[np.uint32],
    ) -> None:
        """A new live row in the open segment (a new one if it is full or ``ts`` does not fit)."""
        segment = self._open
        if segment is not None and segment.size >= segment.capacity < self.segment_size:
            segment.resize(min(2 * segment.capacity, self.segment_size))
        if segment is None or segment.size >= segment.capacity or not segment.fits(ts):
            if segment is not None:
                self.index()
                segment.seal()
            first = min(_FIRST_ROWS, self.segment_size)
            segment = self._open = _Segment(self._next_id, first, self.num_perm, ts)
            self._segments[segment.ident] = segment
            self._next_id += 1
        row = segment.size
        segment.size += 1
        segment.sigs[row] = signature
        segment.ms[row] = segment.to_ms(ts)
        segment.alive[row] = True
        self._put(segment, row, blob)
        segment.max_ts = max(segment.max_ts, ts)
        self._live += 1
        for key in keys.tolist():
            self._pending.setdefault(key, []).append((segment.ident, row))
        self._pending_rows.append((segment, row, keys))

    @staticmethod
    def _json(author_id: str, members: list[Any]) -> bytes:
        return _JSON + orjson.dumps([author_id, members])

    @staticmethod
    def _put(segment: _Segment, row: int, blob: bytes) -> None:
        segment.starts[row] = len(segment.arena)
        segment.arena += blob
        segment.arena += _END
