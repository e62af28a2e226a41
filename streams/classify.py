"""Classify a batch of texts: the fast model for every event, the encoder for the grey zone.

The cascade: a row with any fast score in ``[cascade_low, cascade_high)`` is routed to the
accurate model (the multilingual encoder tier, when one is configured and reads the text's
language), and the accurate model's scores then decide it. *Every* routed row is re-scored, one
row per model run, so an event's scores are a pure function of its text: the same event gets
the same scores and action whatever the machine load and whatever else shares its batch (the
int8 graph quantises activations per run, so batching rows together would let neighbours move
a score by a few hundredths).

When the encoder cannot keep up, the classifier degrades explicitly, never by quietly
re-scoring fewer rows: :class:`EncoderGovernor` tracks the share of wall-clock time spent in the
encoder over a sliding window; above ``cascade_max_busy`` whole batches skip the encoder until
the share falls back below ``cascade_resume_busy``. The rows of a skipped batch that would have
been routed keep their fast scores and are marked ``DEGRADED`` (``decided_by`` =
``fast-degraded`` in flagged events, counted by ``flagstream_cascade_degraded_events_total``,
alerted on by ``FlagstreamEncoderDegraded``).

A routed row's final scores blend the two tiers' probabilities (``weight`` on the encoder), and
every row is judged at the *cascade's* operating points, calibrated on dev for this pair of models
and band (``models/cascade.py``, stored in the encoder file's metadata with the fast model's
sha256). A pair without them (another fast model, test fixtures) falls back to mapping the
encoder's probabilities onto the fast model's scale piecewise linearly through both operating
points, and the encoder's scores decide routed rows.

Last, each row's scores are mapped from its script group's operating points onto the ones above
(:mod:`streams.calibration`): Chinese and Korean text is judged at points calibrated on Chinese
and Korean dev text, on the one scale the policy and the flagged events use.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from streams.calibration import ScriptCalibration
from streams.errors import ModelError
from streams.language import reads_as
from streams.metrics import DECIDERS
from streams.model import TextModel, load_model

if TYPE_CHECKING:
    from streams.settings import Settings

FAST = 0
ACCURATE = 1
DEGRADED = 2  # routed, but the encoder was skipped for want of capacity: fast scores stand
__all__ = ["ACCURATE", "DECIDERS", "DEGRADED", "FAST", "BatchScores", "Classifier"]


@dataclass(frozen=True, slots=True)
class BatchScores:
    """Final scores of a batch and which model decided each row."""

    scores: npt.NDArray[np.float32]  # float32 [N, L]
    decided_by: npt.NDArray[np.uint8]  # uint8 [N]: FAST, ACCURATE or DEGRADED
    fast_seconds: float
    accurate_seconds: float
    routed: int = 0  # rows in the band, in a language the encoder reads
    degraded: bool = False  # the encoder was skipped for this batch


def _align(
    scores: npt.NDArray[np.float32],
    source: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    target: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
) -> npt.NDArray[np.float32]:
    """Per column, map [0, s_review, s_block, 1] piecewise linearly onto [0, t_review, t_block, 1]."""
    s_r, s_b = source
    t_r, t_b = target
    low = scores / np.maximum(s_r, 1e-6) * t_r
    mid = t_r + (scores - s_r) / np.maximum(s_b - s_r, 1e-6) * (t_b - t_r)
    high = t_b + (scores - s_b) / np.maximum(1.0 - s_b, 1e-6) * (1.0 - t_b)
    out = np.where(scores < s_r, low, np.where(scores < s_b, mid, high))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


class EncoderGovernor:
    """Is there capacity for the encoder? The busy share of wall time over a sliding window.

    ``allow()`` says whether the next batch may use the encoder; ``record(seconds)`` adds the
    time a batch spent in it (wall time: rows may run on several cores meanwhile, see
    ``encoder_workers``). Above ``max_busy`` (share of wall time over ``window_s``) the
    governor refuses until the share drops below ``resume_busy`` (hysteresis, so that it does
    not flap batch by batch).
    """

    def __init__(
        self,
        max_busy: float,
        resume_busy: float | None = None,
        window_s: float = 10.0,
        clock: object = time.monotonic,
    ) -> None:
        if not 0.0 < max_busy <= 1.0:
            raise ValueError(f"cascade_max_busy {max_busy} must be in (0, 1]")
        self.max_busy = max_busy
        self.resume_busy = resume_busy if resume_busy is not None else 0.8 * max_busy
        self.window_s = window_s
        self._clock = clock
        self._spans: deque[tuple[float, float]] = deque()  # (end time, busy seconds)
        self._busy = 0.0
        self.degraded = False

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def share(self) -> float:
        now = self._now()
        while self._spans and self._spans[0][0] < now - self.window_s:
            self._busy -= self._spans.popleft()[1]
        return max(0.0, self._busy) / self.window_s

    def allow(self) -> bool:
        if self.max_busy >= 1.0:  # no capacity limit: never degrade (evaluation, tests)
            return True
        share = self.share()
        if self.degraded and share < self.resume_busy:
            self.degraded = False
        elif not self.degraded and share > self.max_busy:
            self.degraded = True
        return not self.degraded

    def record(self, seconds: float) -> None:
        self._spans.append((self._now(), seconds))
        self._busy += seconds


class Classifier:
    """The fast model, optionally cascaded into an accurate (encoder) model."""

    def __init__(
        self,
        fast: TextModel,
        accurate: TextModel | None = None,
        *,
        max_text_chars: int = 1000,
        cascade_low: float = 0.05,
        cascade_high: float = 0.95,
        cascade_max_busy: float = 1.0,
    ) -> None:
        if accurate is not None and accurate.labels != fast.labels:
            raise ModelError(
                f"{accurate.path}: labels {accurate.labels} differ from the fast model's "
                f"{fast.labels}; export both with `flagstream model export`"
            )
        if not 0.0 <= cascade_low <= cascade_high <= 1.0:
            raise ValueError(f"cascade band [{cascade_low}, {cascade_high}) is not inside 0..1")
        self.fast = fast
        self.accurate = accurate
        self.labels = fast.labels
        self.thresholds = dict(fast.thresholds)
        self.block_thresholds = dict(fast.block_thresholds)
        # the cascade's own operating points, calibrated on dev for this pair of models
        # (models/cascade.py): routed rows blend the two tiers' probabilities and every row is
        # judged at the system's thresholds. Without them (another fast model, an old file),
        # the encoder's scores are aligned onto the fast model's scale and decide routed rows.
        self.weight: float | None = None
        script_points: dict[str, Any] = dict(fast.script_points)
        points = accurate.cascade if accurate is not None else None
        if points is not None and points.get("fast_sha256") == fast.sha256:
            self.weight = float(points["weight"])
            self.thresholds = {k: float(points["thresholds"][k]) for k in self.labels}
            self.block_thresholds = {k: float(points["block_thresholds"][k]) for k in self.labels}
            script_points = dict(points.get("script_points", {}))
        self.max_text_chars = max_text_chars
        self.cascade_low = cascade_low
        self.cascade_high = cascade_high
        self.governor = EncoderGovernor(cascade_max_busy)
        self._fast_t = self._points(fast)
        self._acc_t = self._points(accurate) if accurate is not None else self._fast_t
        # each script group's own operating points, as a map onto the thresholds above
        review = np.array([self.thresholds[k] for k in self.labels], dtype=np.float32)
        block = np.array(
            [max(self.block_thresholds.get(k, 0.99), self.thresholds[k]) for k in self.labels],
            dtype=np.float32,
        )
        self.scripts = ScriptCalibration(
            self.labels, review, np.maximum(block, review + 1e-3), script_points
        )
        # a model that names no languages reads every text
        self._languages = (
            accurate.languages if accurate is not None and any(accurate.languages) else None
        )

    def _points(self, model: TextModel) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        review = np.array([model.thresholds[k] for k in self.labels], dtype=np.float32)
        block = np.array(
            [max(model.block_thresholds.get(k, 0.99), model.thresholds[k]) for k in self.labels],
            dtype=np.float32,
        )
        return review, np.maximum(block, review + 1e-3)

    @classmethod
    def from_settings(cls, settings: Settings) -> Classifier:
        """Load the models named by ``settings`` (model_path, accurate_model_path, ...)."""
        fast = load_model(settings.model_path, threads=settings.onnx_threads)
        accurate = (
            load_model(
                settings.accurate_model_path,
                threads=settings.onnx_threads,
                row_workers=settings.encoder_workers,
            )
            if settings.accurate_model_path is not None
            else None
        )
        return cls(
            fast,
            accurate,
            max_text_chars=settings.max_text_chars,
            cascade_low=settings.cascade_low,
            cascade_high=settings.cascade_high,
            cascade_max_busy=settings.cascade_max_busy,
        )

    def classify(self, texts: Sequence[str]) -> BatchScores:
        """Score a batch; synchronous (call it from a worker thread in async code)."""
        limit = self.max_text_chars
        # U+0000 reads as a space in both tiers (the encoder's tokenizer would drop it and join
        # the words around it; the fast front end separates rows with it)
        clipped = [t if len(t) <= limit else t[:limit] for t in texts]
        clipped = [t.replace("\x00", " ") if "\x00" in t else t for t in clipped]
        out = self._score(clipped)
        self.scripts.apply(clipped, out.scores)
        return out

    def _score(self, clipped: list[str]) -> BatchScores:
        start = time.perf_counter()
        scores = self.fast.score(clipped)
        fast_seconds = time.perf_counter() - start
        decided_by = np.zeros(len(clipped), dtype=np.uint8)
        if self.accurate is None or not clipped:
            return BatchScores(scores, decided_by, fast_seconds, 0.0)
        rows = self.routed(clipped, scores)
        if not rows:
            return BatchScores(scores, decided_by, fast_seconds, 0.0)
        if not self.governor.allow():
            decided_by[rows] = DEGRADED
            return BatchScores(scores, decided_by, fast_seconds, 0.0, len(rows), True)
        t0 = time.perf_counter()
        accurate = self.accurate.score_each([clipped[i] for i in rows])
        if self.weight is not None:
            scores[rows] = self.weight * accurate + (1.0 - self.weight) * scores[rows]
        else:
            scores[rows] = _align(accurate, self._acc_t, self._fast_t)
        decided_by[rows] = ACCURATE
        accurate_seconds = time.perf_counter() - t0
        self.governor.record(accurate_seconds)
        return BatchScores(scores, decided_by, fast_seconds, accurate_seconds, len(rows))

    def routed(self, texts: Sequence[str], scores: npt.NDArray[np.float32]) -> list[int]:
        """Rows with a fast score in the band, in a language the accurate model reads."""
        in_band = ((scores >= self.cascade_low) & (scores < self.cascade_high)).any(axis=1)
        rows = np.flatnonzero(in_band)
        if self._languages is None:
            return [int(i) for i in rows]
        return [int(i) for i in rows if reads_as(texts[int(i)], self._languages)]
