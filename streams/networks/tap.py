"""The hot path's side of the networks: a batch's indicators and signatures, routed by key.

``Pipeline.process`` calls :meth:`NetworkTap.features` on the batch's texts (one vectorised
MinHash pass, one indicator pass) and :meth:`NetworkTap.outputs` once the decisions are made.
The outputs are the batch's *observations*, bundled per partition of the campaign stage's
repartition topic so that what must meet meets in one worker whatever the input is keyed by:

- each shared-indicator candidate goes to the partition of its indicator (``crc32 % N``);
- an event that matched a signal-list signal goes to the partition of the signal's key
  (``crc32("s:<list>|<kind>|<value>") % N``), and what the signal matched (the text, or the
  indicator) is grouped there only: not again as a near duplicate or a shared indicator;
- the near-duplicate signature of every event goes to one partition, that of the key
  ``near_duplicate``: near-duplicates share *some* LSH band, not a known one, so all bands of
  a text must be compared in one place (docs/networks.md: the cost, and how to shard further).

A bundle is one Kafka record keyed so that the default partitioner (murmur2) sends it to its
partition: a batch costs at most N records more, not one per event. Observations ride the same
at-least-once path as the flagged events: the input offsets are committed after the broker has
them, and the campaign stage drops redelivered ones by event id.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
from kafka.partitioner.default import murmur2

from streams.events import Event
from streams.networks.actors import DAY_S, ActorStanding, decayed
from streams.networks.campaigns import Observation
from streams.networks.indicators import Indicator, IndicatorExtractor
from streams.networks.minhash import MinHasher
from streams.networks.signals import INDICATOR
from streams.networks.signals_index import SignalMatch
from streams.policy import Escalation
from streams.publish import InMessage, OutMessage
from streams.settings import Settings

NEAR_DUPLICATE_ROUTE: Final = "near_duplicate"
BUNDLE_VERSION: Final = 1
MAX_BUNDLE_BYTES: Final = 200_000  # well under every publish limit (>= 256 KiB)


#: a sum of money: what a scam asks for when it names no contact point ("pay the £1.99
#: redelivery fee", "you have won $5,000", "奖金10000元"); one of the watch list's cues
_MONEY: Final = re.compile(
    r"[$£€¥￥₹₩]\s?\d"
    r"|\d(?:[\d,.]*\d)?\s?(?:元|块钱|美元|英镑|欧元|万元"
    r"|(?:dollars?|usd|eur|gbp|rmb|pounds?|euros?|bucks)(?![a-z]))",
    re.IGNORECASE,
)


_DIGIT: Final = re.compile(r"\d")


def mentions_money(text: str) -> bool:
    """Whether ``text`` names a sum of money (a currency sign or word beside a number)."""
    # every sum has a digit: one scan for it is much cheaper than the alternation at each place
    return _DIGIT.search(text) is not None and _MONEY.search(text) is not None


def observations_topic(settings: Settings) -> str:
    """The campaign stage's repartition topic (internal: created by the worker)."""
    return f"{settings.group_id}-networks-observations"


def partition_of(key: str, partitions: int) -> int:
    """The stage partition that owns ``key`` (an indicator key or the near-duplicate route)."""
    return zlib.crc32(key.encode()) % partitions


def shard_keys(partitions: int) -> list[bytes]:
    """For each partition p, a record key that Kafka's default partitioner sends to p."""
    keys: list[bytes | None] = [None] * partitions
    found = 0
    i = 0
    while found < partitions:
        key = f"shard-{i}".encode()
        p = (murmur2(key) & 0x7FFFFFFF) % partitions
        if keys[p] is None:
            keys[p] = key
            found += 1
        i += 1
    return [k for k in keys if k is not None]


class ActiveCampaigns:
    """What this process knows of active campaigns: band keys and indicator keys → campaign id.

    Written by the campaign stage when it emits a record, read by the pipeline to put
    ``campaign_id`` on flagged events. A plain dict: reads from the pipeline's thread are safe
    under the GIL (no iteration).
    """

    __slots__ = ("actors", "by_band", "by_indicator", "by_signal", "kinds", "labels")

    def __init__(self) -> None:
        self.by_band: dict[int, str] = {}
        self.by_indicator: dict[str, str] = {}
        self.by_signal: dict[str, str] = {}  # signal key -> its signal_list campaign
        self.kinds: dict[str, str] = {}  # campaign id -> kind
        self.labels: dict[str, dict[str, int]] = {}  # campaign id -> flagged members per label
        #: author id -> standing (decayed flags) of the authors this process counts
        self.actors: dict[str, ActorStanding] = {}

    def flags(self, author_id: str, now: float, half_life_s: float = DAY_S) -> float:
        """The author's decayed flag count at ``now`` (0 for an author not counted here)."""
        standing = self.actors.get(author_id)
        if standing is None:
            return 0.0
        return decayed(standing.flags, now - standing.ts, half_life_s)

    def lookup(self, bands: Sequence[int], indicators: Sequence[Indicator]) -> str | None:
        by_indicator = self.by_indicator
        for ind in indicators:
            found = by_indicator.get(ind.key)
            if found is not None:
                return found
        by_band = self.by_band
        if by_band:
            for band in bands:
                found = by_band.get(band)
                if found is not None:
                    return found
        return None

    def for_signal(self, match: SignalMatch | None, found: str | None) -> str | None:
        """The campaign of an event that matched ``match``: its signal's campaign once active,
        else ``found`` (what :meth:`lookup` gave)."""
        if match is None:
            return found
        return self.by_signal.get(match.signal.key, found)

    def __len__(self) -> int:
        return len(self.kinds)


@dataclass(slots=True)
class BatchFeatures:
    """Per event of a batch: indicators, signature (if computed and the text is long enough),
    campaign id (of flagged events, once :meth:`NetworkTap.watch` ran)."""

    texts: list[str]  # clipped to max_text_chars
    indicators: list[list[Indicator]]
    signatures: npt.NDArray[np.uint32]
    has_signature: npt.NDArray[np.bool_]
    #: every row's signature is computed (campaign_scope "all"); else only the watched rows'
    signed_all: bool
    bands: list[list[int]]
    campaign_ids: list[str | None]
    seconds: float
    #: the rows whose signature goes to the near-duplicate stage (None: every signed row)
    near_rows: npt.NDArray[np.bool_] | None = None


class NetworkTap:
    """Features of a batch, and the observations to route to the campaign stage."""

    def __init__(
        self,
        settings: Settings,
        active: ActiveCampaigns | None = None,
        escalation: Escalation | None = None,
        author_key: Callable[[str], str] | None = None,
    ) -> None:
        self.escalation = escalation or Escalation()
        #: what an author is known by in the campaign state, its changelog and the records:
        #: the pseudonym of ``author.id`` when flagged events carry pseudonyms, so that neither
        #: the state nor any output holds a raw id and members still match across events
        self.author_key: Callable[[str], str] = author_key or str
        self.extractor = IndicatorExtractor(settings.indicator_default_region)
        self.hasher = MinHasher()
        self.topic = observations_topic(settings)
        self.partitions = settings.campaign_partitions
        self._keys = shard_keys(self.partitions)
        self.near_duplicate_partition = partition_of(NEAR_DUPLICATE_ROUTE, self.partitions)
        self._types = frozenset(settings.campaign_indicator_types)
        self._max_chars = settings.max_text_chars
        #: near-duplicate signatures of every event ("all"), or of the watched ones only
        self.scope_all = settings.campaign_scope == "all"
        self.watch_share = settings.campaign_watch
        self.active = active if active is not None else ActiveCampaigns()
        self.cpu_seconds = 0.0  # spent in features() and watch(), for the worker's metrics
        self.flagged_in_campaign = 0  # flagged events given a campaign_id
        self.watched_events = 0  # events given a near-duplicate signature
        self.seen_events = 0

    def features(self, texts: Sequence[str], sign_all: bool = False) -> BatchFeatures:
        """Every event's indicators; every signature too with ``campaign_scope`` "all" or
        ``sign_all`` (else :meth:`watch` computes those of the watched events, once the
        decisions are made)."""
        started = time.process_time()
        limit = self._max_chars
        clipped = [t[:limit] for t in texts]
        extract = self.extractor.extract
        indicators = [extract(t) for t in clipped]
        n = len(clipped)
        signed_all = self.scope_all or sign_all
        if signed_all:
            sigs, has = self.hasher.signatures(clipped)
        else:
            sigs = np.zeros((n, self.hasher.num_perm), np.uint32)
            has = np.zeros(n, np.bool_)
        spent = time.process_time() - started
        self.cpu_seconds += spent
        return BatchFeatures(
            clipped, indicators, sigs, has, signed_all, [[] for _ in clipped], [None] * n, spent
        )

    def watched(
        self,
        features: BatchFeatures,
        flagged: npt.NDArray[np.bool_],
        near: npt.NDArray[np.bool_],
        matches: Mapping[int, SignalMatch],
    ) -> npt.NDArray[np.bool_]:
        """The rows the near-duplicate stage compares with ``campaign_scope`` "suspect":
        flagged (``flagged``, after the signal lists), watched by score (``near``), matched by
        a signal list, carrying an indicator of a campaign type, or naming a sum of money."""
        rows = flagged | near
        types = self._types
        texts, indicators = features.texts, features.indicators
        for i in np.flatnonzero(~rows).tolist():
            inds = indicators[i]
            if (inds and any(ind.type in types for ind in inds)) or mentions_money(texts[i]):
                rows[i] = True
        for i in matches:
            rows[i] = True
        return rows

    def watch(
        self,
        features: BatchFeatures,
        rows: npt.NDArray[np.bool_] | None,
        flagged: Sequence[int],
    ) -> None:
        """Signatures of the ``rows`` that lack one (None: none needed, scope "all"), and the
        band keys and active campaign of each ``flagged`` row."""
        started = time.process_time()
        sigs, has = features.signatures, features.has_signature
        if rows is not None and not features.signed_all:
            todo = np.flatnonzero(rows).tolist()
            if todo:
                got, got_has = self.hasher.signatures([features.texts[i] for i in todo])
                sigs[todo] = got
                has[todo] = got_has
        near = None if rows is None else rows & has
        features.near_rows = near
        self.seen_events += len(features.texts)
        self.watched_events += int((has if near is None else near).sum())
        bands = features.bands
        if flagged and len(self.active):
            # only flagged events name their campaign: the others are not published
            lookup = self.active.lookup
            signed = [i for i in flagged if has[i]]
            if signed:
                keys = self.hasher.band_keys(sigs[signed]).tolist()
                for row, row_keys in zip(signed, keys, strict=True):
                    bands[row] = row_keys
            for i in flagged:
                features.campaign_ids[i] = lookup(bands[i], features.indicators[i])
        self.cpu_seconds += time.process_time() - started

    def judge(
        self, author_id: str, campaign_id: str | None, now: float
    ) -> tuple[dict[str, Any], str | None]:
        """A flagged event's actor context, and why the policy escalates it (None: it doesn't).

        The author's flags are those counted before this event (the stage counts it next).
        """
        active = self.active
        flags = active.flags(author_id, now)
        context: dict[str, Any] = {"flags_24h": round(flags, 3)}
        standing = active.actors.get(author_id)
        if standing is not None:
            context["flags_by_label"] = {
                lb: round(decayed(v, now - standing.ts, DAY_S), 3)
                for lb, v in sorted(standing.by_label.items())
            }
        rules = self.escalation
        # compared at 0.01: three flags a minute apart are 3 flags, not 2.9999
        if rules.repeat_flags is not None and round(flags, 2) >= rules.repeat_flags:
            return context, "repeat_actor"
        if campaign_id is not None and rules.campaign_labels:
            members = active.labels.get(campaign_id, {})
            if any(members.get(lb) for lb in rules.campaign_labels):
                return context, "campaign"
        return context, None

    def outputs(
        self,
        good: Sequence[tuple[InMessage, Event]],
        features: BatchFeatures,
        labels: dict[int, list[str]],
        matches: Mapping[int, SignalMatch] | None = None,
    ) -> list[OutMessage]:
        """The batch's observations, one bundle (or a few, if large) per stage partition.

        ``matches`` are the batch's signal-list matches (``Pipeline``): each goes to its
        signal's group, and what it matched is not grouped a second time (the text as a near
        duplicate, the indicator as shared), so that a listed script is one campaign.
        """
        n = self.partitions
        nd = self.near_duplicate_partition
        types = self._types
        per_partition: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        sigs = features.signatures
        has = features.has_signature if features.near_rows is None else features.near_rows
        matches = matches or {}
        indicators = features.indicators
        for i, (_msg, ev) in enumerate(good):
            if not (has[i] or indicators[i] or i in labels or i in matches):
                continue  # nothing to route: most events, in the "suspect" scope
            routed: dict[int, list[tuple[str, str]]] = {}
            match = matches.get(i)
            signal, matched_indicator, text_matched = "", "", False
            if match is not None:
                signal = match.signal.key
                if match.signal.kind == INDICATOR:
                    matched_indicator = match.matched
                else:
                    text_matched = True
            for ind in indicators[i]:
                if ind.type in types and ind.key != matched_indicator:
                    routed.setdefault(partition_of(ind.key, n), []).append((ind.type, ind.value))
            if has[i] and not text_matched:
                routed.setdefault(nd, [])
            signal_partition = partition_of(f"s:{signal}", n) if signal else -1
            if signal:
                routed.setdefault(signal_partition, [])
            hit = tuple(labels.get(i, ()))
            author = self.author_key(str(ev.body.get("author", {}).get("id", "")))
            actor_partition = partition_of(f"a:{author}", n) if hit else -1
            if hit:
                routed.setdefault(actor_partition, [])
            if not routed:
                continue
            for p, inds in routed.items():
                per_partition[p].append(
                    Observation(
                        ev.event_id,
                        author,
                        ev.created_at,
                        hit,
                        ev.text,
                        sigs[i] if p == nd and has[i] and not text_matched else None,
                        tuple(inds),
                        p == actor_partition,
                        signal if p == signal_partition else "",
                    ).to_json()
                )
        out: list[OutMessage] = []
        for p, items in enumerate(per_partition):
            if items:
                out.extend(self._bundles(p, items))
        return out

    def _bundles(self, partition: int, items: list[dict[str, Any]]) -> list[OutMessage]:
        value = orjson.dumps({"v": BUNDLE_VERSION, "o": items})
        if len(value) > MAX_BUNDLE_BYTES and len(items) > 1:
            half = len(items) // 2
            return self._bundles(partition, items[:half]) + self._bundles(partition, items[half:])
        return [OutMessage(self.topic, self._keys[partition], value, [], None)]


def decode_bundle(value: bytes) -> list[Observation]:
    """The observations of one routed record (the campaign stage's input)."""
    bundle = orjson.loads(value)
    if bundle.get("v") != BUNDLE_VERSION:
        raise ValueError(f"observation bundle version {bundle.get('v')!r}, expected 1")
    return [Observation.from_json(o) for o in bundle["o"]]
