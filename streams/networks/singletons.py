"""Near-duplicate singletons: texts no second author has posted yet, kept in numpy arrays.

Most of a firehose is texts that never meet a near-duplicate from another author. A stored
cluster (a table row of JSON with its members, authors and exemplars, plus ~10 band keys in a
Python dict) for each of them made the campaign state ~1.6 GB at 1M authors. Here a singleton
is one row of a segment's arrays: the low 16 bits of each signature position (``num_perm``
uint16: b-bit MinHash, two equal positions by chance 1 in 65,536; the tracker compares every
exemplar at 16 bits, see ``campaigns.py``), its event time
(the newest of its events), and a small packed record in the segment's byte arena: author id,
event id and labels separated by ``\x1f`` (~25 bytes), or, once its author has posted it again,
JSON with the id, time and labels of each of its events. Its band keys are in the segment's sorted
``uint32`` array (the low 32 bits of each 63-bit band key) with the row of each: a lookup is a
``searchsorted`` per segment; a 32-bit key that collides only brings one more
candidate to the similarity test.

Segments fill up to ``segment_size`` rows and are then sealed; a segment is dropped whole once
every row is older than the tracker's horizon (event time), and a row older than the horizon
is never returned: the same "idle for longer than W" rule as a stored group. A row promoted to
a stored cluster (a second distinct author arrived) is marked dead.

In memory only: see docs/networks.md ("Singletons and recovery") for what a restart loses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

_LOW32: Final = 0xFFFF_FFFF
_LOW16: Final = 0xFFFF
_EMPTY_KEYS: Final = np.zeros(0, np.uint32)
_EMPTY_ROWS: Final = np.zeros(0, np.uint16)
_SEP: Final = "\x1f"  # ASCII unit separator: not in ids as platforms make them (else JSON)
_JSON: Final = b"\x00"  # a record in JSON follows


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
        "ends",
        "ident",
        "keys",
        "max_ts",
        "rows",
        "sigs",
        "size",
        "starts",
        "ts",
    )

    def __init__(self, ident: int, capacity: int, num_perm: int) -> None:
        self.ident = ident
        self.size = 0
        self.sigs = np.zeros((capacity, num_perm), np.uint16)  # low 16 bits of each position
        self.ts = np.zeros(capacity, np.float64)
        self.alive = np.zeros(capacity, np.bool_)
        self.starts = np.zeros(capacity, np.uint32)
        self.ends = np.zeros(capacity, np.uint32)
        self.arena = bytearray()
        self.keys: npt.NDArray[np.uint32] = _EMPTY_KEYS  # sorted band keys (low 32 bits)
        self.rows: npt.NDArray[np.uint16] = _EMPTY_ROWS  # the row of each key
        self.max_ts = float("-inf")

    @property
    def capacity(self) -> int:
        return int(self.ts.shape[0])

    def seal(self) -> None:
        """Trim the arrays to the rows used (the segment takes no more rows)."""
        n = self.size
        self.sigs = self.sigs[:n].copy()
        self.ts = self.ts[:n].copy()
        self.alive = self.alive[:n].copy()
        self.starts = self.starts[:n].copy()
        self.ends = self.ends[:n].copy()
        self.arena = bytearray(self.arena)  # exact size, no growth slack

    def add_keys(self, keys: npt.NDArray[np.uint32], rows: npt.NDArray[np.uint16]) -> None:
        order = np.argsort(keys, kind="stable")
        keys, rows = keys[order], rows[order]
        at = np.searchsorted(self.keys, keys, side="right")
        self.keys = np.insert(self.keys, at, keys)
        self.rows = np.insert(self.rows, at, rows)

    def nbytes(self) -> int:
        return int(
            self.sigs.nbytes
            + self.ts.nbytes
            + self.alive.nbytes
            + self.starts.nbytes
            + self.ends.nbytes
            + len(self.arena)
            + self.keys.nbytes
            + self.rows.nbytes
        )


class SingletonStore:
    """The singletons of one tracker (see the module docstring)."""

    def __init__(self, num_perm: int, bands: int, segment_size: int = 65_536) -> None:
        if not 0 < segment_size <= 65_536:  # rows are uint16
            raise ValueError(f"segment_size {segment_size} must be in 1..65536")
        self.num_perm = num_perm
        self.bands = bands
        self.segment_size = segment_size
        self._segments: dict[int, _Segment] = {}
        self._open: _Segment | None = None
        self._next_id = 0
        self._live = 0
        # keys of rows added since the last index(): found by a dict until the batch ends
        self._pending: dict[int, list[tuple[int, int]]] = {}
        self._pending_rows: list[tuple[_Segment, int, npt.NDArray[np.int64]]] = []

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
                        if segment.alive[row] and segment.ts[row] >= horizon:
                            yield segment, row
        for segment in sorted(self._segments.values(), key=lambda s: -s.ident):
            if segment.max_ts < horizon or not segment.keys.size:
                continue
            lo = np.searchsorted(segment.keys, low, side="left")
            hi = np.searchsorted(segment.keys, low, side="right")
            for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
                for row in segment.rows[a:b].tolist():
                    if (segment.ident, row) in seen:
                        continue
                    seen.add((segment.ident, row))
                    if segment.alive[row] and segment.ts[row] >= horizon:
                        yield segment, row

    def get(self, segment: _Segment, row: int) -> Singleton:
        blob = bytes(segment.arena[segment.starts[row] : segment.ends[row]])
        ts = float(segment.ts[row])
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
        for pending, at, bands in self._pending_rows:
            if pending is segment and at == row:
                return [int(k) for k in (bands & _LOW32).tolist()]
        return [int(k) for k in segment.keys[segment.rows == row].tolist()]

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
        segment = self._open
        if segment is None or segment.size >= segment.capacity:
            if segment is not None:
                self.index()
                segment.seal()
            segment = self._open = _Segment(self._next_id, self.segment_size, self.num_perm)
            self._segments[segment.ident] = segment
            self._next_id += 1
        row = segment.size
        segment.size += 1
        segment.sigs[row] = signature & _LOW16
        segment.ts[row] = ts
        segment.alive[row] = True
        if _SEP in author_id or _SEP in event_id or any(_SEP in x or "," in x for x in labels):
            self._write(segment, row, author_id, [[event_id, ts, list(labels)]])
        else:
            self._put(segment, row, _SEP.join((author_id, event_id, ",".join(labels))).encode())
        segment.max_ts = max(segment.max_ts, ts)
        self._live += 1
        for key in (bands & _LOW32).tolist():
            self._pending.setdefault(key, []).append((segment.ident, row))
        self._pending_rows.append((segment, row, bands))

    def repeat(
        self, segment: _Segment, row: int, event_id: str, ts: float, labels: tuple[str, ...]
    ) -> bool:
        """The same author posted it again: one more event; False if it is a redelivery."""
        single = self.get(segment, row)
        if any(m[0] == event_id for m in single.members):
            return False
        members = [[m[0], m[2], m[3]] for m in single.members]
        members.append([event_id, ts, list(labels)])
        self._write(segment, row, single.author_id, members)
        segment.ts[row] = max(float(segment.ts[row]), ts)
        segment.max_ts = max(segment.max_ts, ts)
        return True

    def remove(self, segment: _Segment, row: int) -> None:
        """Promoted to a stored cluster: the row is dead."""
        if segment.alive[row]:
            segment.alive[row] = False
            self._live -= 1

    def index(self) -> None:
        """Move the keys added since the last call into their segments' sorted arrays."""
        by_segment: dict[int, list[tuple[int, npt.NDArray[np.int64]]]] = {}
        for segment, row, bands in self._pending_rows:
            by_segment.setdefault(segment.ident, []).append((row, bands))
        for ident, rows in by_segment.items():
            target = self._segments.get(ident)
            if target is None:
                continue
            keys = (np.stack([b for _, b in rows]) & _LOW32).astype(np.uint32)
            row_ids = np.repeat(np.array([r for r, _ in rows], np.uint16), self.bands)
            target.add_keys(keys.reshape(-1), row_ids)
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

    def _write(self, segment: _Segment, row: int, author_id: str, members: list[Any]) -> None:
        self._put(segment, row, _JSON + orjson.dumps([author_id, members]))

    def _put(self, segment: _Segment, row: int, blob: bytes) -> None:
        segment.starts[row] = len(segment.arena)
        segment.arena += blob
        segment.ends[row] = len(segment.arena)
