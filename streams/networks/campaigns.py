"""Campaign detection: K or more distinct authors posting near-duplicates, or sharing one
indicator, within a window of W seconds. Pure: no Kafka, no Faust; the worker gives it a Faust
table as its ``store`` (a changelog-backed mapping) and publishes what it returns.

State, all of it in ``store`` (JSON values, so a recovered table is the whole truth):

- ``i:<indicator key>``: the group of events that carry the indicator;
- ``n:<campaign id>``: a near-duplicate cluster: its exemplar signatures (the founder and up to
  ``exemplars - 1`` distinct later variants) and its members.

An LSH index (band key → cluster) lives in memory only and is rebuilt from the stored exemplars
(:meth:`CampaignTracker.rebuild`) after a recovery. A new text joins the cluster whose exemplar
is most similar to it (estimated Jaccard ≥ ``similarity``) among those that share a band key with
it; clusters are never merged, so a benign viral phrase and a scam script stay apart even if a
text resembles both.

A group becomes a campaign when it has ``min_authors`` distinct authors seen within ``window_s``
of the newest event time (the watermark; event time, so a replay after a crash decides as the
first pass did). It is emitted then, and again, with the same ``campaign_id``, each time a batch
adds authors to it. Members are deduplicated by event id (redelivery is idempotent). Groups idle
for longer than ``window_s`` are deleted. Caps bound each group: the ``max_members`` most recent
members, the ``max_authors`` most recently seen authors.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from streams.networks.minhash import MinHasher, decode_signature, encode_signature

NEAR_DUPLICATE: Final = "near_duplicate"
SHARED_INDICATOR: Final = "shared_indicator"
SIGNAL_LIST: Final = "signal_list"
KINDS: Final = (NEAR_DUPLICATE, SHARED_INDICATOR, SIGNAL_LIST)

_SAMPLE_CHARS: Final = 280


@dataclass(frozen=True, slots=True)
class CampaignConfig:
    """What makes a campaign; the worker builds it from the settings (``campaign_*``)."""

    min_authors: int = 5
    window_s: float = 3_600.0
    similarity: float = 0.5
    max_members: int = 200
    max_authors: int = 2_000
    exemplars: int = 8
    max_candidates: int = 8  # clusters compared per text: bounds the work of a hot band


def stored_json(value: Any) -> bytes:
    """``value`` as JSON bytes of their own size, for values the state keeps.

    orjson's output keeps the capacity of its growing buffer: a 650-byte document held 8 KB
    (orjson 3.13, measured with tracemalloc), which made the state's resident size 8x its bytes.
    The copy is exact-size.
    """
    return bytes(memoryview(orjson.dumps(value)))


@dataclass(frozen=True, slots=True)
class Observation:
    """One event as the campaign stage sees it (built by the pipeline, routed by key)."""

    event_id: str
    author_id: str
    ts: float
    labels: tuple[str, ...] = ()
    text: str = ""
    signature: npt.NDArray[np.uint32] | None = None  # set where the near-duplicate state lives
    indicators: tuple[tuple[str, str], ...] = ()  # (type, value) routed to this state
    actor: bool = False  # routed to its author's partition: count its flags (actors.py)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"e": self.event_id, "a": self.author_id, "t": self.ts}
        if self.labels:
            out["l"] = list(self.labels)
        if self.text:
            out["x"] = self.text[:_SAMPLE_CHARS]
        if self.signature is not None:
            out["s"] = encode_signature(self.signature)
        if self.indicators:
            out["i"] = [list(i) for i in self.indicators]
        if self.actor:
            out["r"] = 1
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Observation:
        sig = raw.get("s")
        return cls(
            str(raw["e"]),
            str(raw["a"]),
            float(raw["t"]),
            tuple(raw.get("l", ())),
            str(raw.get("x", "")),
            decode_signature(sig) if sig else None,
            tuple((str(t), str(v)) for t, v in raw.get("i", ())),
            bool(raw.get("r")),
        )


def campaign_id(kind: str, anchor: str) -> str:
    """A stable id: the same group gets the same id on every worker and after every restart."""
    prefix = {NEAR_DUPLICATE: "nd", SHARED_INDICATOR: "si", SIGNAL_LIST: "sl"}[kind]
    return f"{prefix}-{hashlib.sha256(f'{kind}|{anchor}'.encode()).hexdigest()[:20]}"


@dataclass(slots=True)
class _Group:
    """A group's state as stored (JSON)."""

    data: dict[str, Any]
    dirty: bool = False
    grown: bool = False  # new authors in this batch
    added: int = 0  # new members in this batch

    @classmethod
    def new(cls, cid: str, kind: str, obs: Observation) -> _Group:
        return cls(
            {
                "id": cid,
                "kind": kind,
                "members": [],  # [event_id, author_id, ts, labels]
                "authors": {},  # author_id -> last ts
                "event_count": 0,
                "labels": {},
                "indicators": [],
                "first_seen": obs.ts,
                "last_seen": obs.ts,
                "sample": obs.text[:_SAMPLE_CHARS],
                "active": False,
                "reported": 0,  # authors in the window at the last emission
                "exemplars": [],
            },
            dirty=True,
        )


@dataclass(slots=True)
class CampaignTracker:
    """Groups observations into campaigns; ``observe`` returns the campaign records to emit."""

    config: CampaignConfig
    store: MutableMapping[str, bytes]
    hasher: MinHasher = field(default_factory=MinHasher)
    watermark: float = 0.0
    _index: dict[int, str] = field(default_factory=dict)  # band key -> cluster store key
    _expiry: list[tuple[float, str]] = field(default_factory=list)  # heap of (last_seen, key)

    # --- state -------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Rebuild the in-memory index and expiry heap from ``store`` (after a recovery)."""
        self._index.clear()
        self._expiry.clear()
        for key, raw in list(self.store.items()):
            if not key.startswith(("n:", "i:")):
                continue  # another tracker's (actors.py)
            data = orjson.loads(raw)
            self._expiry.append((float(data["last_seen"]), key))
            self.watermark = max(self.watermark, float(data["last_seen"]))
            if key.startswith("n:"):
                for text in data["exemplars"]:
                    for band in self.hasher.bands_of(decode_signature(text)):
                        self._index.setdefault(band, key)
        heapq.heapify(self._expiry)

    def _load(self, key: str, cache: dict[str, _Group]) -> _Group | None:
        group = cache.get(key)
        if group is None:
            raw = self.store.get(key)
            if raw is None:
                return None
            group = cache[key] = _Group(orjson.loads(raw))
        return group

    @property
    def groups(self) -> int:
        """Entries held in the store (groups, and authors if the store is shared): state size."""
        return len(self.store)

    # --- the batch ---------------------------------------------------------------------------
    def observe(self, observations: Iterable[Observation]) -> list[dict[str, Any]]:
        """Add a batch; return one record per campaign that became active or grew.

        Keys starting with ``_`` are the worker's (``_key``: the store key, ``_new``: it just
        crossed K, ``_added``: members this batch added); they are not part of the format.
        """
        cache: dict[str, _Group] = {}
        touched: dict[str, _Group] = {}
        cfg = self.config
        for obs in observations:
            self.watermark = max(self.watermark, obs.ts)
            if obs.signature is not None:
                key = self._cluster_for(obs, cache)
                group = cache[key]
                self._add(group, obs)
                touched[key] = group
            for itype, value in obs.indicators:
                key = f"i:{itype}:{value}"
                group = self._load(key, cache) or cache.setdefault(
                    key, _Group.new(campaign_id(SHARED_INDICATOR, key[2:]), SHARED_INDICATOR, obs)
                )
                if [itype, value] not in group.data["indicators"]:
                    group.data["indicators"].append([itype, value])
                self._add(group, obs)
                touched[key] = group
        out: list[dict[str, Any]] = []
        for key, group in touched.items():
            data = group.data
            if group.dirty:
                recent = self._authors_in_window(data)
                if recent >= cfg.min_authors and (not data["active"] or recent > data["reported"]):
                    record = self._record(data, recent)
                    # for the worker's metrics and the active-campaign map; not published
                    record["_key"] = key
                    record["_new"] = not data["active"]
                    record["_added"] = group.added
                    data["active"] = True
                    data["reported"] = recent
                    out.append(record)
                self.store[key] = stored_json(data)
                heapq.heappush(self._expiry, (float(data["last_seen"]), key))
        self.expire()
        return out

    def _cluster_for(self, obs: Observation, cache: dict[str, _Group]) -> str:
        assert obs.signature is not None
        cfg = self.config
        bands = self.hasher.bands_of(obs.signature)
        candidates: list[str] = []
        for band in bands:
            found = self._index.get(band)
            if found is not None and found not in candidates:
                candidates.append(found)
        best: tuple[float, str] | None = None
        best_sim_to_all = 0.0
        for key in candidates[: cfg.max_candidates]:
            group = self._load(key, cache)
            if group is None:  # expired or moved: the index entry is stale
                continue
            sims = [
                float(np.count_nonzero(decode_signature(e) == obs.signature)) / len(obs.signature)
                for e in group.data["exemplars"]
            ]
            top = max(sims, default=0.0)
            if top >= cfg.similarity and (best is None or top > best[0]):
                best = (top, key)
                best_sim_to_all = top
        if best is not None:
            key = best[1]
            group = cache[key]
            exemplars: list[str] = group.data["exemplars"]
            if best_sim_to_all < 0.9:  # a new variant: index it so its own copies find the cluster
                encoded = encode_signature(obs.signature)
                if len(exemplars) >= cfg.exemplars:
                    exemplars.pop(1)  # keep the founder
                exemplars.append(encoded)
                for band in bands:
                    self._index.setdefault(band, key)
                group.dirty = True
            return key
        cid = campaign_id(NEAR_DUPLICATE, obs.event_id)
        key = f"n:{cid}"
        group = cache[key] = _Group.new(cid, NEAR_DUPLICATE, obs)
        group.data["exemplars"].append(encode_signature(obs.signature))
        for band in bands:
            self._index.setdefault(band, key)
        return key

    def _add(self, group: _Group, obs: Observation) -> None:
        data = group.data
        members: list[list[Any]] = data["members"]
        if any(m[0] == obs.event_id for m in members):
            return  # redelivered: counted already
        cfg = self.config
        members.append([obs.event_id, obs.author_id, obs.ts, list(obs.labels)])
        group.added += 1
        if len(members) > cfg.max_members:
            del members[: len(members) - cfg.max_members]
        data["event_count"] += 1
        authors: dict[str, float] = data["authors"]
        if obs.author_id not in authors:
            group.grown = True
        authors[obs.author_id] = max(authors.get(obs.author_id, 0.0), obs.ts)
        if len(authors) > cfg.max_authors:
            for stale in sorted(authors, key=authors.__getitem__)[: len(authors) - cfg.max_authors]:
                del authors[stale]
        labels: dict[str, int] = data["labels"]
        for label in obs.labels:
            labels[label] = labels.get(label, 0) + 1
        data["first_seen"] = min(data["first_seen"], obs.ts)
        data["last_seen"] = max(data["last_seen"], obs.ts)
        group.dirty = True

    def _authors_in_window(self, data: dict[str, Any]) -> int:
        since = self.watermark - self.config.window_s
        return sum(1 for ts in data["authors"].values() if ts >= since)

    def _record(self, data: dict[str, Any], recent: int) -> dict[str, Any]:
        members = data["members"]
        authors = sorted(data["authors"], key=data["authors"].__getitem__)
        return {
            "schema_version": 1,
            "campaign_id": data["id"],
            "kind": data["kind"],
            "author_ids": authors,
            "author_count": len(authors),
            "authors_in_window": recent,
            "event_ids": [m[0] for m in members],
            "event_count": data["event_count"],
            "indicators": [{"type": t, "value": v} for t, v in data["indicators"]],
            "labels": dict(sorted(data["labels"].items())),
            "first_seen": data["first_seen"],
            "last_seen": data["last_seen"],
            "sample_text": data["sample"],
            "window_s": self.config.window_s,
            "min_authors": self.config.min_authors,
        }

    def expire(self) -> int:
        """Delete groups idle for longer than the window; returns how many."""
        horizon = self.watermark - self.config.window_s
        removed = 0
        heap = self._expiry
        while heap and heap[0][0] < horizon:
            _ts, key = heapq.heappop(heap)
            raw = self.store.get(key)
            if raw is None:
                continue
            data = orjson.loads(raw)
            if float(data["last_seen"]) >= horizon:
                continue  # seen again since: a later heap entry stands for it
            del self.store[key]
            removed += 1
            for text in data.get("exemplars", ()):
                for band in self.hasher.bands_of(decode_signature(text)):
                    if self._index.get(band) == key:
                        del self._index[band]
        return removed


def members_of(record: dict[str, Any]) -> Sequence[str]:
    """The event ids a campaign record names (for tests and the CLI)."""
    ids: list[str] = record["event_ids"]
    return ids
