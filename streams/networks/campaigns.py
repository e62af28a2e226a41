"""Campaign detection: K or more distinct authors posting near-duplicates, sharing one
indicator, or matching one signal of a signal list, within a window of W seconds. Pure: no Kafka, no Faust; the worker gives it a Faust
table as its ``store`` (a changelog-backed mapping) and publishes what it returns.

State in ``store`` (:func:`encode_group`: a JSON document, then the raw exemplar signatures):

- ``i:<indicator key>``: the group of events that carry the indicator;
- ``n:<campaign id>``: a near-duplicate cluster: its exemplar signatures (the founder and up to
  ``exemplars - 1`` distinct later variants) and its members;
- ``s:<signal key>``: the events that matched one signal of a signal list (the key
  ``<list>|<kind>|<value>``, ``signals.py``): a ``signal_list`` campaign at K authors.

A text that shares no cluster is a *singleton* (``singletons.py``: numpy arrays, in memory
only); a stored cluster is founded when a second distinct author posts a near-duplicate of a
singleton, with the singleton's events as its first members and its id derived from the
founder's event id, as before. An LSH index (band key → cluster) lives in memory only and is
rebuilt from the stored exemplars (:meth:`CampaignTracker.rebuild`) after a recovery; the
singletons are not (docs/networks.md, "Singletons and recovery"). A new text joins the cluster
or singleton whose exemplar is most similar to it (estimated Jaccard ≥ ``similarity``) among
those that share a band key with it; clusters are never merged, so a benign viral phrase and a
scam script stay apart even if a text resembles both.

A group becomes a campaign when it has ``min_authors`` distinct authors seen within ``window_s``
of the newest event time (the watermark; event time, so a replay after a crash decides as the
first pass did). It is emitted then, and again, with the same ``campaign_id``, when a batch has
grown its authors by ``republish_growth`` since its last record, or brings new authors
``republish_interval_s`` (event time) after it, or a label first appears among its members
(docs/networks.md, "Re-publishing"); a group is written to the store at most once a batch. Members are deduplicated by event id (redelivery is idempotent). Groups idle
for longer than ``window_s`` are deleted. Caps bound each group: the ``max_members`` most recent
members, the ``max_authors`` most recently seen authors.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson

from streams.networks.expiry import ExpiryQueue
from streams.networks.minhash import MinHasher, decode_signature, encode_signature
from streams.networks.singletons import Singleton, SingletonStore

_LOW32: Final = 0xFFFF_FFFF

NEAR_DUPLICATE: Final = "near_duplicate"
SHARED_INDICATOR: Final = "shared_indicator"
SIGNAL_LIST: Final = "signal_list"
KINDS: Final = (NEAR_DUPLICATE, SHARED_INDICATOR, SIGNAL_LIST)

_SAMPLE_CHARS: Final = 280
#: store key prefixes of the groups this tracker owns (``a:`` are actors.py's)
GROUP_PREFIXES: Final = ("n:", "i:", "s:")
SIGNAL_INDICATOR: Final = "signal"  # the ``type`` of a signal_list campaign's indicator


@dataclass(frozen=True, slots=True)
class CampaignConfig:
    """What makes a campaign; the worker builds it from the settings (``campaign_*``)."""

    min_authors: int = 5
    window_s: float = 3_600.0
    similarity: float = 0.5
    republish_growth: float = 0.25  # a record again at 25 % more authors than the last one...
    republish_interval_s: float = 30.0  # ... or this long after it, with any new author
    max_members: int = 200
    max_authors: int = 2_000
    exemplars: int = 8
    max_candidates: int = 8  # clusters compared per text: bounds the work of a hot band
    decoded_groups: int = 4_096  # groups kept decoded between batches (an LRU; see _Decoded)
    decoded_bytes: int = 8_000_000  # ... and their stored size at most (decoded: a few times it)


def stored_json(value: Any) -> bytes:
    """``value`` as JSON bytes of their own size, for values the state keeps.

    orjson's output keeps the capacity of its growing buffer: a 650-byte document held 8 KB
    (orjson 3.13, measured with tracemalloc), which made the state's resident size 8x its bytes.
    The copy is exact-size.
    """
    return bytes(memoryview(orjson.dumps(value)))


#: a stored group's fields under one-letter names: ~100 bytes less in each stored value (the
#: 40,000 indicator groups of the 1M-author bench held 4 MB of field names). Other fields keep
#: their names; values written with the full names are still read.
_SHORT: Final = {
    "id": "i",
    "kind": "k",
    "members": "m",
    "authors": "a",
    "event_count": "c",
    "labels": "l",
    "indicators": "d",
    "first_seen": "f",
    "last_seen": "t",
    "sample": "x",
    "active": "v",
    "reported": "r",
    "reported_at": "p",
    "reported_labels": "q",
    "founder_bands": "b",
}
_LONG: Final = {short: name for name, short in _SHORT.items()}


def encode_group(data: dict[str, Any]) -> bytes:
    """A group as stored: its JSON without the exemplars (fields by their one-letter names),
    ``\\n``, the exemplars' raw bytes.

    orjson never writes a raw newline (JSON escapes it in strings), so the first one ends the
    document. Raw little-endian uint32 signatures take 160 bytes each; as base64 in the JSON
    they took 216 and a decode per comparison.
    """
    exemplars: list[bytes] = data["exemplars"]
    short = _SHORT.get
    head = {short(k, k): v for k, v in data.items() if k != "exemplars"}
    return orjson.dumps(head) + b"\n" + b"".join(exemplars)


def decode_group(raw: bytes, signature_bytes: int) -> dict[str, Any]:
    """The inverse of :func:`encode_group`; also reads the earlier values, with full field
    names and all-JSON ones (base64 exemplars), so a changelog written before recovers."""
    head, sep, tail = raw.partition(b"\n")
    long = _LONG.get
    data: dict[str, Any] = {long(k, k): v for k, v in orjson.loads(head).items()}
    if sep:
        data["exemplars"] = [
            tail[i : i + signature_bytes] for i in range(0, len(tail), signature_bytes)
        ]
    else:
        data["exemplars"] = [
            decode_signature(e).astype("<u4").tobytes() for e in data.get("exemplars", ())
        ]
    return data


def signature_of(raw: bytes) -> npt.NDArray[np.uint32]:
    """An exemplar's signature from its stored bytes."""
    return np.frombuffer(raw, "<u4").astype(np.uint32)


def is_full(signature: npt.NDArray[np.uint32]) -> bool:
    """False for a founder's exemplar kept at 16 bits (every position < 2**16, which a full
    signature of 40 minima of 32-bit hashes never is by chance): it has no band keys."""
    return bool(signature.max(initial=0) >= 1 << 16)


def low16(signature: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint16]:
    """The low 16 bits of each position: what similarities are computed on (b-bit MinHash)."""
    return (signature & 0xFFFF).astype(np.uint16)


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
    signal: str = ""  # the key of the signal-list signal it matched, routed to that group

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
        if self.signal:
            out["g"] = self.signal
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
            str(raw.get("g", "")),
        )


def campaign_id(kind: str, anchor: str) -> str:
    """A stable id: the same group gets the same id on every worker and after every restart."""
    prefix = {NEAR_DUPLICATE: "nd", SHARED_INDICATOR: "si", SIGNAL_LIST: "sl"}[kind]
    return f"{prefix}-{hashlib.sha256(f'{kind}|{anchor}'.encode()).hexdigest()[:20]}"


@dataclass(slots=True)
class _Decoded:
    """A stored group kept decoded between batches, with its exemplars as one matrix.

    Decoding a group's JSON per batch was most of the stage's cost on a live firehose (measured:
    15.5 of 37.8 s for 50,000 events, the hot clusters of benign viral phrases decoded again in
    every bundle). The tracker is the only writer of its ``n:``/``i:`` keys, so a copy it wrote
    itself stays right until a recovery (``rebuild`` drops them all).
    """

    data: dict[str, Any]
    matrix: npt.NDArray[np.uint16] | None = None  # [exemplars, num_perm], low 16 bits
    ids: set[str] | None = None  # the members' event ids, built when a member is added
    size: int = 0  # bytes of its stored value: the cache is bounded by their sum


@dataclass(slots=True)
class _Group:
    """A group's state as stored (JSON)."""

    data: dict[str, Any]
    dirty: bool = False
    grown: bool = False  # new authors in this batch
    added: int = 0  # new members in this batch
    decoded: _Decoded | None = None

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
                "reported_at": 0.0,  # the watermark then
                "reported_labels": [],  # the labels its members had then
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
    # band key (its low 32 bits, as singletons keep them) -> cluster store key
    _index: dict[int, str] = field(default_factory=dict)
    _expiry: ExpiryQueue = field(default_factory=ExpiryQueue)  # keys by last_seen
    singletons: SingletonStore = field(init=False)
    _horizon: float = float("-inf")  # the last expire()'s: older singletons are gone
    _decoded: OrderedDict[str, _Decoded] = field(default_factory=OrderedDict)
    _decoded_size: int = 0  # the sum of their ``size``
    #: members added to active campaigns since the last take_added(), by kind (the records
    #: are fewer than the growths: a campaign's metric counts every member all the same)
    _added: dict[str, int] = field(default_factory=dict)
    #: active groups with growth not yet published -> grown since the last flush()
    _held: dict[str, bool] = field(default_factory=dict)
    #: active groups expire() deleted since the last take_expired(): (key, their last data)
    _expired: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.singletons = SingletonStore(self.hasher.num_perm, self.hasher.bands)

    @property
    def _sig_bytes(self) -> int:
        return self.hasher.num_perm * 4

    def decode(self, raw: bytes) -> dict[str, Any]:
        """A stored group's value (``n:`` or ``i:``) as a dict; exemplars as raw bytes."""
        return decode_group(raw, self._sig_bytes)

    # --- state -------------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Rebuild the in-memory index and expiry heap from ``store`` (after a recovery)."""
        self._index.clear()
        self._expiry.clear()
        self._forget_decoded()  # the store may have changed under them (a recovery)
        self._held.clear()
        self.singletons.clear()  # in memory only: lost with the process (see the docstring)
        for key, raw in list(self.store.items()):
            if not key.startswith(GROUP_PREFIXES):
                continue  # another tracker's (actors.py)
            data = self.decode(raw)
            self._expiry.push(float(data["last_seen"]), key)
            self.watermark = max(self.watermark, float(data["last_seen"]))
            if key.startswith("n:"):
                for band in self._bands_of(data):
                    self._index.setdefault(band, key)

    def _bands_of(self, data: dict[str, Any]) -> list[int]:
        """The index keys of a stored cluster: its full exemplars' band keys and those the
        founder's singleton had (a 16-bit exemplar's cannot be recomputed), low 32 bits."""
        bands: list[int] = list(data.get("founder_bands", ()))
        for exemplar in data["exemplars"]:
            sig = signature_of(exemplar)
            if is_full(sig):
                bands.extend(b & _LOW32 for b in self.hasher.bands_of(sig))
        return bands

    def _load(self, key: str, cache: dict[str, _Group]) -> _Group | None:
        group = cache.get(key)
        if group is None:
            kept = self._decoded.get(key)
            if kept is not None:
                self._decoded.move_to_end(key)
            else:
                raw = self.store.get(key)
                if raw is None:
                    return None
                kept = _Decoded(self.decode(raw))
            group = cache[key] = _Group(kept.data, decoded=kept)
        return group

    def group(self, key: str) -> dict[str, Any] | None:
        """A stored group's data (the decoded copy if kept; do not change it)."""
        kept = self._decoded.get(key)
        if kept is not None:
            return kept.data
        raw = self.store.get(key)
        return None if raw is None else self.decode(raw)

    def _keep(self, key: str, group: _Group, size: int) -> None:
        """Keep a group just written (``size`` bytes stored) decoded for the next batches;
        the least recently used go when over ``decoded_groups`` or ``decoded_bytes``."""
        kept = group.decoded
        if kept is None or kept.data is not group.data:
            kept = group.decoded = _Decoded(group.data)
        decoded = self._decoded
        old = decoded.get(key)
        if old is not None:
            self._decoded_size -= old.size
        kept.size = size
        decoded[key] = kept
        decoded.move_to_end(key)
        self._decoded_size += size
        cfg = self.config
        while decoded and (
            len(decoded) > cfg.decoded_groups or self._decoded_size > cfg.decoded_bytes
        ):
            _key, dropped = decoded.popitem(last=False)
            self._decoded_size -= dropped.size

    def _forget_decoded(self, key: str | None = None) -> None:
        """Drop one kept group (or all of them)."""
        if key is None:
            self._decoded.clear()
            self._decoded_size = 0
        elif (dropped := self._decoded.pop(key, None)) is not None:
            self._decoded_size -= dropped.size

    @staticmethod
    def _matrix(group: _Group, num_perm: int) -> npt.NDArray[np.uint16]:
        kept = group.decoded
        if kept is not None and kept.matrix is not None:
            return kept.matrix
        matrix = low16(
            np.frombuffer(b"".join(group.data["exemplars"]), "<u4").reshape(-1, num_perm)
        )
        if kept is not None:
            kept.matrix = matrix
        return matrix

    @property
    def groups(self) -> int:
        """Entries held: the store's (groups, and authors if the store is shared) and the
        singletons (candidate clusters of one author)."""
        return len(self.store) + len(self.singletons)

    def state_bytes(self) -> int:
        """Bytes of the state: the store's values (all of them, if the store is shared) and the
        singletons' arrays and arenas."""
        return sum(len(v) for v in list(self.store.values())) + self.singletons.nbytes()

    # --- the batch ---------------------------------------------------------------------------
    def observe(self, observations: Iterable[Observation]) -> list[dict[str, Any]]:
        """Add a batch; return one record per campaign that became active or grew.

        Keys starting with ``_`` are the worker's (``_key``: the store key, ``_new``: it just
        crossed K); they are not part of the format.
        """
        try:
            return self._observe(observations)
        except BaseException:
            # the decoded copies may hold changes the store never got: read it again
            self._forget_decoded()
            self._added.clear()  # counted again when the batch is redelivered
            raise

    def _observe(self, observations: Iterable[Observation]) -> list[dict[str, Any]]:
        cache: dict[str, _Group] = {}
        touched: dict[str, _Group] = {}
        cfg = self.config
        batch = list(observations)
        signed = [o.signature for o in batch if o.signature is not None]
        # every text's band keys in one numpy pass, not one call per text
        band_rows = iter(self.hasher.band_keys(np.stack(signed))) if signed else iter(())
        for obs in batch:
            self.watermark = max(self.watermark, obs.ts)
            if obs.signature is not None:
                key = self._cluster_for(obs, next(band_rows), cache)
                if key is not None:
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
            if obs.signal:
                key = f"s:{obs.signal}"
                group = self._load(key, cache) or cache.setdefault(
                    key, _Group.new(campaign_id(SIGNAL_LIST, obs.signal), SIGNAL_LIST, obs)
                )
                if not group.data["indicators"]:
                    group.data["indicators"].append([SIGNAL_INDICATOR, obs.signal])
                self._add(group, obs)
                touched[key] = group
        out: list[dict[str, Any]] = []
        for key, group in touched.items():
            data = group.data
            if group.dirty:
                recent = self._authors_in_window(data)
                if recent >= cfg.min_authors and self._due(data, recent):
                    out.append(self._published(key, data, recent))
                    self._held.pop(key, None)
                elif data["active"] and recent > data["reported"]:
                    self._held[key] = True  # growth held back; grown since the last flush
                if data["active"] and group.added:
                    self._added[data["kind"]] = self._added.get(data["kind"], 0) + group.added
                stored = encode_group(data)
                self.store[key] = stored
                self._keep(key, group, len(stored))
                self._expiry.push(float(data["last_seen"]), key)
        self.singletons.index()
        self.expire()
        return out

    def _due(self, data: dict[str, Any], recent: int) -> bool:
        """Whether a group of ``recent`` authors in the window is to be published now: it
        crosses K, a label first appears among its members, or it has new authors and has grown
        by ``republish_growth`` or last had a record ``republish_interval_s`` ago.

        Publishing every growth re-published each of ~1,000 benign campaigns in almost every
        bundle of a 50k firehose (33,000 records); the record a campaign's consumer sees is at
        most a factor and an interval behind it instead.
        """
        if not data["active"]:
            return True
        known = data.get("reported_labels", ())
        if any(label not in known for label in data["labels"]):
            return True
        reported = int(data["reported"])
        if recent <= reported:
            return False
        cfg = self.config
        return (
            recent >= reported * (1.0 + cfg.republish_growth)
            or self.watermark - float(data.get("reported_at", 0.0)) >= cfg.republish_interval_s
        )

    def _published(self, key: str, data: dict[str, Any], recent: int) -> dict[str, Any]:
        """The record of a group published now; its data remembers what was published."""
        record = self._record(data, recent)
        # for the worker's metrics and the active-campaign map; not published
        record["_key"] = key
        record["_new"] = not data["active"]
        data["active"] = True
        data["reported"] = recent
        data["reported_at"] = self.watermark
        data["reported_labels"] = sorted(data["labels"])
        return record

    def flush(self) -> list[dict[str, Any]]:
        """Records of the campaigns whose growth was held back and that have not grown since
        the previous call: a campaign that stops growing is published as it ended, not left a
        factor behind (the stage calls this on a timer, between bundles).

        The store is not written here (a Faust table is written only while a bundle is being
        processed): the kept decoded copy remembers the record, and the group's next batch
        writes it. Should the copy be dropped first, the stored group still has the earlier
        record's figures, and its next growth may be published a little earlier than the rule
        says; a record is never lost by it.
        """
        out: list[dict[str, Any]] = []
        for key, grown in list(self._held.items()):
            if grown:
                self._held[key] = False  # published at the next call, unless it grows again
                continue
            del self._held[key]
            data = self.group(key)
            if data is None:  # expired since
                continue
            recent = self._authors_in_window(data)
            if recent > data["reported"]:
                out.append(self._published(key, data, recent))
        return out

    def take_expired(self) -> list[tuple[str, dict[str, Any]]]:
        """Active campaigns deleted by :meth:`expire` since the last call (key, data), so that
        whoever indexed them (the stage's :class:`~streams.networks.tap.ActiveCampaigns`) can
        forget them too; then reset."""
        out, self._expired = self._expired, []
        return out

    def take_added(self) -> dict[str, int]:
        """Members added to active campaigns since the last call, by kind (then reset)."""
        added, self._added = self._added, {}
        return added

    def _cluster_for(
        self, obs: Observation, band_array: npt.NDArray[np.int64], cache: dict[str, _Group]
    ) -> str | None:
        """The store key of the cluster ``obs`` (whose band keys are ``band_array``) joins
        (founded from a singleton if need be), or None: ``obs`` is (part of) a singleton."""
        assert obs.signature is not None
        cfg = self.config
        bands: list[int] = (band_array & _LOW32).tolist()
        candidates: list[str] = []
        for band in bands:
            found = self._index.get(band)
            if found is not None and found not in candidates:
                candidates.append(found)
        best: tuple[float, str] | None = None
        compared = 0
        # every comparison at 16 bits: singletons keep no more, and so neither does a founder's
        # exemplar (docs/networks.md, "Memory")
        short = low16(obs.signature)
        for key in candidates[: cfg.max_candidates]:
            group = self._load(key, cache)
            if group is None:  # expired or moved: the index entry is stale
                continue
            compared += 1
            matrix = self._matrix(group, len(obs.signature))
            equal = np.count_nonzero(matrix == short, axis=1)
            top = float(equal.max()) / len(obs.signature) if len(equal) else 0.0
            if top >= cfg.similarity and (best is None or top > best[0]):
                best = (top, key)
        single: tuple[float, Any, int] | None = None
        if compared < cfg.max_candidates:
            store = self.singletons
            for segment, row in store.candidates(band_array, self._horizon):
                sim = float(np.count_nonzero(segment.sigs[row] == short)) / len(short)
                if sim >= cfg.similarity and (single is None or sim > single[0]):
                    single = (sim, segment, row)
                compared += 1
                if compared >= cfg.max_candidates:
                    break
        if single is not None and (best is None or single[0] > best[0]):
            _sim, segment, row = single
            founder = self.singletons.get(segment, row)
            if founder.author_id == obs.author_id:  # the same author again: still a singleton
                self.singletons.repeat(segment, row, obs.event_id, obs.ts, obs.labels)
                return None
            founder_bands = self.singletons.keys_of(segment, row)
            key = self._found(founder, founder_bands, obs, bands, cache)
            self.singletons.remove(segment, row)
            return key
        if best is not None:
            top, key = best
            group = cache[key]
            exemplars: list[bytes] = group.data["exemplars"]
            if top < 0.9:  # a new variant: index it so its own copies find the cluster
                if len(exemplars) >= cfg.exemplars:
                    exemplars.pop(1)  # keep the founder
                exemplars.append(obs.signature.astype("<u4").tobytes())
                if group.decoded is not None:
                    group.decoded.matrix = None  # one more row
                for band in bands:
                    self._index.setdefault(band, key)
                group.dirty = True
            return key
        self.singletons.add(
            obs.event_id, obs.author_id, obs.ts, obs.labels, obs.signature, band_array
        )
        return None

    def _found(
        self,
        founder: Singleton,
        founder_bands: list[int],
        obs: Observation,
        bands: list[int],
        cache: dict[str, _Group],
    ) -> str:
        """A stored cluster from a singleton that a second author's text (``obs``, with band
        keys ``bands``) matched: the founder's id, exemplar and events, as if it had been stored
        from its first event.

        The founder's exemplar is its 16 bits a position (what the singleton kept), compared as
        every exemplar is; its band keys cannot be recomputed from them, so they are stored
        with the group (``founder_bands``, low 32 bits, as the singleton held them), and the
        second text is always the next exemplar.
        """
        assert obs.signature is not None
        first = founder.members[0]
        cid = campaign_id(NEAR_DUPLICATE, first[0])
        key = f"n:{cid}"
        seed = Observation(first[0], founder.author_id, first[2], tuple(first[3]), obs.text)
        group = cache[key] = _Group.new(cid, NEAR_DUPLICATE, seed)
        exemplars: list[bytes] = group.data["exemplars"]
        exemplars.append(founder.signature.astype("<u4").tobytes())
        exemplars.append(obs.signature.astype("<u4").tobytes())
        group.data["founder_bands"] = founder_bands
        for band in (*founder_bands, *bands):
            self._index.setdefault(band, key)
        for event_id, author_id, ts, labels in founder.members:
            self._add(group, Observation(event_id, author_id, ts, tuple(labels)))
        return key

    def _add(self, group: _Group, obs: Observation) -> None:
        data = group.data
        members: list[list[Any]] = data["members"]
        kept = group.decoded
        if kept is None:
            kept = group.decoded = _Decoded(data)
        ids = kept.ids
        if ids is None:
            ids = kept.ids = {m[0] for m in members}
        if obs.event_id in ids:
            return  # redelivered: counted already
        cfg = self.config
        members.append([obs.event_id, obs.author_id, obs.ts, list(obs.labels)])
        ids.add(obs.event_id)
        group.added += 1
        if len(members) > cfg.max_members:
            cut = len(members) - cfg.max_members
            for old in members[:cut]:
                ids.discard(old[0])
            del members[:cut]
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
            "indicators": [indicator_json(t, v) for t, v in data["indicators"]],
            "labels": dict(sorted(data["labels"].items())),
            "first_seen": data["first_seen"],
            "last_seen": data["last_seen"],
            "sample_text": data["sample"],
            "window_s": self.config.window_s,
            "min_authors": self.config.min_authors,
        }

    def expire(self) -> int:
        """Delete groups and singletons idle for longer than the window; returns how many
        stored groups."""
        horizon = self.watermark - self.config.window_s
        self._horizon = max(self._horizon, horizon)
        self.singletons.expire(horizon)
        removed = 0
        for key in self._expiry.due(horizon, self._last_seen):
            raw = self.store.get(key)
            if raw is None:
                continue
            kept = self._decoded.get(key)
            data = kept.data if kept is not None else self.decode(raw)
            if float(data["last_seen"]) >= horizon:
                continue  # seen again since: a later heap entry stands for it
            del self.store[key]
            self._forget_decoded(key)
            removed += 1
            if data.get("active"):
                self._expired.append((key, data))
            if key.startswith("n:"):
                for band in self._bands_of(data):
                    if self._index.get(band) == key:
                        del self._index[band]
        return removed

    def _last_seen(self, key: str) -> float | None:
        """A stored group's last_seen (None if it is not stored)."""
        data = self.group(key)
        return None if data is None else float(data["last_seen"])


def indicator_json(itype: str, value: str) -> dict[str, str]:
    """A record's indicator; a signal_list campaign's names its signal as signals are named
    (docs/networks.md, "Signal lists"): the signal's key as ``value``, its list and kind."""
    if itype != SIGNAL_INDICATOR:
        return {"type": itype, "value": value}
    name, kind, _value = value.split("|", 2)
    return {"type": itype, "value": value, "list": name, "kind": kind}


def members_of(record: dict[str, Any]) -> Sequence[str]:
    """The event ids a campaign record names (for tests and the CLI)."""
    ids: list[str] = record["event_ids"]
    return ids
