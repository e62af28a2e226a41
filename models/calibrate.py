"""Per-label thresholds chosen on the dev splits for a stated precision target.

For each label the threshold is the lowest one whose dev precision reaches the target (the most
recall at that precision). Precision is computed with every dev set weighted equally: pooled
counts would let the largest set, and its own base rate (Davidson is 80% offensive), decide. When no threshold reaches the target, the F1-best one is used and the
shortfall is reported. ``max_benign_fpr`` optionally raises a threshold until at most that share
of benign dev texts score above it (off by default: "benign" rows of the toxicity sets carry
enough annotation noise that a 1% floor there costs most of the recall; the false-positive rate
on benign text is measured by ``flagstream model evaluate`` instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Stated precision targets: the errors we ask a human to review must mostly be real.
PRECISION_TARGETS: dict[str, float] = {"spam": 0.95, "scam": 0.90, "toxic": 0.85, "hate": 0.70}
GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


@dataclass(frozen=True, slots=True)
class Threshold:
    label: str
    threshold: float
    precision: float
    recall: float
    target: float
    reached: bool


def calibrate(
    scores: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int8],
    names: tuple[str, ...],
    benign: npt.NDArray[np.bool_],
    groups: npt.NDArray[np.str_] | None = None,
    targets: dict[str, float] | None = None,
    max_benign_fpr: float | None = None,
) -> list[Threshold]:
    """Thresholds for every label column; ``labels`` holds 1, 0 or -1 (unknown)."""
    targets = targets or PRECISION_TARGETS
    out = []
    for j, name in enumerate(names):
        known = labels[:, j] >= 0
        y = labels[known, j] == 1
        s = scores[known, j]
        w = np.ones(len(y))
        if groups is not None:
            g = groups[known]
            for group in np.unique(g):
                w[g == group] = 1.0 / float((g == group).sum())
        floor = 0.0
        if max_benign_fpr is not None and benign.any():
            floor = float(np.quantile(scores[benign, j], 1.0 - max_benign_fpr))
        best: tuple[float, float, float] | None = None
        f1_best: tuple[float, float, float, float] = (-1.0, 0.5, 0.0, 0.0)
        for t in GRID:
            if t < floor:
                continue
            pred = s >= t
            tp = float(w[pred & y].sum())
            precision = tp / max(float(w[pred].sum()), 1e-12)
            recall = tp / max(float(w[y].sum()), 1e-12)
            f1 = 2 * precision * recall / max(precision + recall, 1e-9)
            if f1 > f1_best[0]:
                f1_best = (f1, float(t), precision, recall)
            if best is None and precision >= targets[name] and tp > 0:
                best = (float(t), precision, recall)
        if best is not None:
            out.append(Threshold(name, best[0], best[1], best[2], targets[name], True))
        else:
            _, t, p, r = f1_best
            out.append(Threshold(name, t, p, r, targets[name], False))
        if floor > GRID[-1]:
            raise ValueError(
                f"{name}: {max_benign_fpr:.0%} of benign dev texts score above {floor}"
            )
    return out
