"""Per-script operating points, applied as a monotone map of the scores onto one scale.

One threshold per label for every language is set by the language whose everyday text scores
highest: English tweets with casual profanity held the toxic review point at ~0.95, while
everyday Chinese text flagged 0.02 % at that point and Chinese abuse went through. The model
files therefore carry, per script group (:func:`streams.language.script_group`) with enough of
its own dev data, review and block thresholds calibrated by the same rules on that group's rows
(``models/calibrate.py``: each language's everyday-text budget and the precision targets).

Rather than give the policy one threshold per label *and language*, a group's scores are mapped
piecewise linearly through ``[0, review_g, block_g, 1] → [0, review, block, 1]`` per label, so
that the policy, the flagged event's ``thresholds`` and every downstream consumer keep one
scale: a score at a label's review threshold means "at this language's review point" whatever
the language. The map is monotone, so it reorders nothing within a group, and it is the
identity for the default group and for labels a group has no points for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from streams.language import DEFAULT_GROUP, script_group

# a group's points: {"thresholds": {label: t}, "block_thresholds": {label: t}}
GroupPoints = Mapping[str, Mapping[str, float]]
_EPS = 1e-3


class ScriptCalibration:
    """Maps each row's scores from its script group's operating points onto the default ones."""

    __slots__ = ("_knots", "groups")

    def __init__(
        self,
        labels: Sequence[str],
        review: npt.NDArray[np.float32],
        block: npt.NDArray[np.float32],
        points: Mapping[str, GroupPoints] | None,
    ) -> None:
        # per group, per label column: (x knots, y knots), only where the map is not the identity
        self._knots: dict[str, list[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]]]
        self._knots = {}
        for group, entry in (points or {}).items():
            if group == DEFAULT_GROUP:
                continue
            g_review = entry.get("thresholds", {})
            g_block = entry.get("block_thresholds", {})
            columns = []
            for j, label in enumerate(labels):
                if label not in g_review:
                    continue
                r = float(np.clip(g_review[label], _EPS, 1.0 - 2 * _EPS))
                b = float(
                    np.clip(max(g_block.get(label, 1.0 - _EPS), r + _EPS), r + _EPS, 1.0 - _EPS)
                )
                x = np.array([0.0, r, b, 1.0])
                y = np.array([0.0, float(review[j]), float(block[j]), 1.0])
                if not np.allclose(x, y):
                    columns.append((j, x, y))
            if columns:
                self._knots[group] = columns
        self.groups = tuple(self._knots)

    def __bool__(self) -> bool:
        return bool(self._knots)

    def apply(self, texts: Sequence[str], scores: npt.NDArray[np.float32]) -> None:
        """Map ``scores`` (``[len(texts), L]``, changed in place) by each text's script group."""
        if not self._knots:
            return
        groups = np.array([script_group(t) for t in texts])
        for group, columns in self._knots.items():
            rows = np.flatnonzero(groups == group)
            if rows.size == 0:
                continue
            for j, x, y in columns:
                scores[rows, j] = np.interp(scores[rows, j], x, y).astype(np.float32)
