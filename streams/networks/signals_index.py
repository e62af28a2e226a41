"""The in-memory index of the signal lists, and the matching of a batch against it.

Exact lookups: indicator ``type:value`` and text hash → signals. Near duplicates: every band key
of a signal's MinHash signature → signals; a text's candidates (sharing a band) are compared
position by position and match at ``similarity`` or above. The follower thread writes the
index, the pipeline's thread reads it: one lock, held for a batch's lookups or one update.

A batch pays only for what the lists hold: no indicator signal, no indicator extraction (unless
the campaign tap already did it); no near signal, no MinHash.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from streams.errors import FlagstreamError
from streams.networks.indicators import Indicator, IndicatorExtractor
from streams.networks.minhash import MinHasher, decode_signature
from streams.networks.signals import INDICATOR, TEXT_EXACT, TEXT_NEAR, Signal, text_hashes

_KIND_ORDER: Final = {INDICATOR: 0, TEXT_EXACT: 1, TEXT_NEAR: 2}
MAX_CANDIDATES: Final = 32  # near signals compared per text: bounds a crowded band's cost


class SignalCapError(FlagstreamError):
    """More signals than ``signals_max``: the rest are not loaded. Raise FLAGSTREAM_SIGNALS_MAX
    (about 1 kB of memory per signal) or remove stale lists (flagstream signals remove)."""


@dataclass(frozen=True, slots=True)
class SignalMatch:
    """What matched an event: the signal, and for text_near the estimated similarity."""

    signal: Signal
    matched: str  # the event's indicator (type:value), text hash, or the signal's signature
    similarity: float | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "list": self.signal.list,
            "kind": self.signal.kind,
            "value": self.matched,
            "label": self.signal.label,
        }
        if self.similarity is not None:
            out["similarity"] = round(self.similarity, 3)
        return out


@dataclass(frozen=True, slots=True)
class BatchTexts:
    """Features the campaign tap already computed for the batch (None: compute if needed)."""

    indicators: list[list[Indicator]] | None = None
    signatures: npt.NDArray[np.uint32] | None = None
    has_signature: npt.NDArray[np.bool_] | None = None


class SignalIndex:
    """Signals by key, with the lookups matching needs; bounded by ``max_signals``."""

    def __init__(
        self,
        max_signals: int = 1_000_000,
        similarity: float = 0.7,
        default_region: str = "US",
        hasher: MinHasher | None = None,
    ) -> None:
        self.max_signals = max_signals
        self.similarity = similarity
        self.hasher = hasher or MinHasher()
        self.extractor = IndicatorExtractor(default_region)
        self.lock = threading.Lock()
        self._by_key: dict[str, Signal] = {}
        self._exact: dict[str, list[Signal]] = {}  # "type:value" or text hash
        self._bands: dict[int, list[str]] = {}  # band key -> near signal keys
        self._sigs: dict[str, npt.NDArray[np.uint32]] = {}  # near signal key -> signature
        self._indicators = 0
        self._texts = 0  # text_exact signals
        self.rejected = 0  # over the cap, since start
        #: events flagged per (list, kind), counted by the pipeline, exported by the follower
        self.matched: Counter[tuple[str, str]] = Counter()
        #: every list seen since start: its loaded gauge goes to 0, not stale, when emptied
        self.known_lists: set[str] = set()

    def __len__(self) -> int:
        return len(self._by_key)

    def counts(self) -> Counter[tuple[str, str]]:
        """Signals loaded per (list, kind)."""
        with self.lock:
            return Counter((s.list, s.kind) for s in self._by_key.values())

    def lists(self) -> set[str]:
        with self.lock:
            return {s.list for s in self._by_key.values()}

    def put(self, signal: Signal) -> None:
        """Add or replace a signal; SignalCapError past the cap (the index is unchanged)."""
        key = signal.key
        with self.lock:
            if key in self._by_key:
                self._remove(key)
            elif len(self._by_key) >= self.max_signals:
                self.rejected += 1
                raise SignalCapError(
                    f"signal list cap reached: {self.max_signals} signals loaded, {key!r} and "
                    "later ones are ignored; raise FLAGSTREAM_SIGNALS_MAX or remove stale lists"
                )
            self._by_key[key] = signal
            if signal.kind == TEXT_NEAR:
                sig = decode_signature(signal.value)
                self._sigs[key] = sig
                for band in self.hasher.bands_of(sig):
                    self._bands.setdefault(band, []).append(key)
                return
            lookup = _lookup_key(signal)
            self._exact.setdefault(lookup, []).append(signal)
            if signal.kind == INDICATOR:
                self._indicators += 1
            else:
                self._texts += 1

    def remove(self, key: str) -> bool:
        """Remove a signal by its key (a tombstone); False if it was not loaded."""
        with self.lock:
            return self._remove(key)

    def _remove(self, key: str) -> bool:
        signal = self._by_key.pop(key, None)
        if signal is None:
            return False
        if signal.kind == TEXT_NEAR:
            sig = self._sigs.pop(key)
            for band in self.hasher.bands_of(sig):
                keys = self._bands[band]
                keys.remove(key)
                if not keys:
                    del self._bands[band]
            return True
        lookup = _lookup_key(signal)
        kept = [s for s in self._exact[lookup] if s.key != key]
        if kept:
            self._exact[lookup] = kept
        else:
            del self._exact[lookup]
        if signal.kind == INDICATOR:
            self._indicators -= 1
        else:
            self._texts -= 1
        return True

    @property
    def needs_signatures(self) -> bool:
        """Whether matching signs every text (the index holds near-duplicate text signals)."""
        return bool(self._sigs)

    def match(
        self, texts: Sequence[str], known: BatchTexts | None = None
    ) -> dict[int, SignalMatch]:
        """The first match of each matching text (indicator, then exact text, then near)."""
        if not self._by_key:
            return {}
        known = known or BatchTexts()
        with self.lock:
            found: dict[int, SignalMatch] = {}
            if self._indicators:
                self._match_indicators(texts, known, found)
            if self._texts:
                self._match_exact(texts, found)
            if self._sigs:
                self._match_near(texts, known, found)
            for match in found.values():  # every match is flagged: count it here, locked
                self.matched[(match.signal.list, match.signal.kind)] += 1
            return found

    def matched_snapshot(self) -> Counter[tuple[str, str]]:
        with self.lock:
            return self.matched.copy()

    def _match_indicators(
        self, texts: Sequence[str], known: BatchTexts, found: dict[int, SignalMatch]
    ) -> None:
        exact = self._exact
        per_text = known.indicators
        if per_text is None:
            extract = self.extractor.extract
            per_text = [extract(t) for t in texts]
        for i, indicators in enumerate(per_text):
            hits = [s for x in indicators for s in exact.get(x.key, ())]
            if hits:
                best = min(hits, key=_rank)
                found[i] = SignalMatch(best, f"{best.indicator_type}:{best.value}")

    def _match_exact(self, texts: Sequence[str], found: dict[int, SignalMatch]) -> None:
        exact = self._exact
        for i, digest in enumerate(text_hashes(texts)):
            if digest is None or i in found:
                continue
            if hits := exact.get(digest):
                found[i] = SignalMatch(min(hits, key=_rank), digest)

    def _match_near(
        self, texts: Sequence[str], known: BatchTexts, found: dict[int, SignalMatch]
    ) -> None:
        sigs, has = known.signatures, known.has_signature
        if sigs is None or has is None:
            sigs, has = self.hasher.signatures(texts)
        rows = [r for r in np.flatnonzero(has).tolist() if r not in found]
        if not rows:
            return
        bands = self._bands
        keys = self.hasher.band_keys(sigs[rows]).tolist()
        for row, row_keys in zip(rows, keys, strict=True):
            candidates: dict[str, None] = {}
            for band in row_keys:
                for key in bands.get(band, ()):
                    candidates[key] = None
                    if len(candidates) >= MAX_CANDIDATES:
                        break
            if not candidates:
                continue
            sig = sigs[row]
            best: tuple[float, str] | None = None
            for key in candidates:
                score = float(np.count_nonzero(self._sigs[key] == sig)) / len(sig)
                if score >= self.similarity and (best is None or score > best[0]):
                    best = (score, key)
            if best is not None:
                signal = self._by_key[best[1]]
                found[row] = SignalMatch(signal, signal.value, best[0])


def _lookup_key(signal: Signal) -> str:
    return f"{signal.indicator_type}:{signal.value}" if signal.kind == INDICATOR else signal.value


def _rank(signal: Signal) -> tuple[int, int, str]:
    # a block hint first, then the kind, then the key: deterministic across workers
    return (0 if signal.action == "block" else 1, _KIND_ORDER[signal.kind], signal.key)
