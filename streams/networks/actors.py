"""Repeat actors: per-author decayed counts of flags per label.

A count decays exponentially with event time (``half_life_s``, 24 h by default): an author
flagged three times this morning counts nearly 3, one flagged three times last month nearly 0.
Pure, over the same kind of store as the campaign tracker (``a:<author id>`` keys, JSON values);
the campaign stage owns it, on the author's partition of the repartition topic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from streams.networks.campaigns import Observation, stored_json
from streams.networks.expiry import ExpiryQueue

DAY_S: Final = 86_400.0
#: an author not flagged for this many half-lives (a count below 1%) is forgotten
FORGET_HALF_LIVES: Final = 7


@dataclass(frozen=True, slots=True)
class ActorStanding:
    """What the policy reads about an author: decayed flags, total and per label, as of ``ts``."""

    author_id: str
    flags: float
    by_label: dict[str, float]
    ts: float


def decayed(value: float, since_s: float, half_life_s: float) -> float:
    return value * math.exp(-math.log(2) * max(since_s, 0.0) / half_life_s)


@dataclass(slots=True)
class ActorTracker:
    """Counts the flags of authors; ``observe`` returns their standing after the batch."""

    store: MutableMapping[str, bytes]
    half_life_s: float = DAY_S
    min_flags: float = 1.0  # standings at or above this are returned (the rest stay stored)
    _expiry: ExpiryQueue = field(default_factory=ExpiryQueue)
    watermark: float = 0.0

    def rebuild(self) -> list[ActorStanding]:
        """Re-read the recovered store: the standings it holds, and the expiry heap."""
        self._expiry.clear()
        out: list[ActorStanding] = []
        for key, raw in list(self.store.items()):
            if key.startswith("a:"):
                data = orjson.loads(raw)
                self._expiry.push(float(data["t"]), key)
                out.append(self.standing(key[2:], data))
        return out

    def expire(self) -> list[str]:
        """Forget authors not flagged for ``FORGET_HALF_LIVES`` half-lives; their ids."""
        horizon = self.watermark - FORGET_HALF_LIVES * self.half_life_s
        gone: list[str] = []
        for key in self._expiry.due(horizon, self._time_of):
            if (ts := self._time_of(key)) is not None and ts < horizon:
                del self.store[key]
                gone.append(key[2:])
        return gone

    def _time_of(self, key: str) -> float | None:
        raw = self.store.get(key)
        return None if raw is None else float(orjson.loads(raw)["t"])

    def observe(self, observations: Iterable[Observation]) -> list[ActorStanding]:
        touched: dict[str, dict[str, Any]] = {}
        for obs in observations:
            if not obs.labels:
                continue
            self.watermark = max(self.watermark, obs.ts)
            key = f"a:{obs.author_id}"
            data = touched.get(key)
            if data is None:
                raw = self.store.get(key)
                data = orjson.loads(raw) if raw is not None else {"t": obs.ts, "c": {}, "e": []}
                touched[key] = data
            if obs.event_id in data["e"]:
                continue  # redelivered
            data["e"] = [*data["e"][-49:], obs.event_id]
            since = obs.ts - data["t"]
            counts: dict[str, float] = {
                lb: decayed(v, since, self.half_life_s) for lb, v in data["c"].items()
            }
            for label in obs.labels:
                counts[label] = counts.get(label, 0.0) + 1.0
            data["c"] = counts
            data["t"] = max(data["t"], obs.ts)
        out: list[ActorStanding] = []
        for key, data in touched.items():
            self.store[key] = stored_json(data)
            self._expiry.push(float(data["t"]), key)
            standing = self.standing(key[2:], data)
            if standing.flags >= self.min_flags:
                out.append(standing)
        return out

    def standing(self, author_id: str, data: dict[str, Any]) -> ActorStanding:
        by_label = {lb: float(v) for lb, v in data["c"].items()}
        # the total a flagged event counts once, whatever its labels: the largest label count
        return ActorStanding(
            author_id, max(by_label.values(), default=0.0), by_label, float(data["t"])
        )
