"""Per-label thresholds chosen on the dev splits for a stated precision target and FPR bound.

For each label the threshold is the lowest one that meets both rules on the dev splits:

* its precision reaches the label's target, with every dev set weighted equally (pooled counts
  would let the largest set, and its own base rate - Davidson is 80% offensive - decide);
* at most ``max_benign_fpr[label]`` of benign dev texts (no positive label, annotated not
  offensive) score at or above it, averaged over the dev sets that have benign texts (again
  so that no one set's hard negatives decide).

When no threshold reaches the precision target, the F1-best one at or above the FPR floor is
used and the shortfall is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Stated precision targets: the errors we ask a human to review must mostly be real.
PRECISION_TARGETS: dict[str, float] = {"spam": 0.95, "scam": 0.90, "toxic": 0.85, "hate": 0.70}
# Upper bound per label on the share of benign dev texts flagged (mean over the dev sets that
# have benign texts). Rule used to choose them on the dev splits: the tightest bound that costs
# at most 0.01 of mean dev F1 against the precision-only threshold. For toxic the precision
# target alone flags ~10% of benign dev texts, mostly the toxicity sets' hard negatives
# (HateXplain "normal" posts: 30%); a 7% bound cost 0.03 of F1 and 5% would cost 0.09.
MAX_BENIGN_FPR: dict[str, float] = {"spam": 0.005, "scam": 0.005, "toxic": 0.095, "hate": 0.015}
GRID = np.round(np.arange(0.05, 0.96, 0.01), 2)


@dataclass(frozen=True, slots=True)
class Threshold:
    label: str
    threshold: float
    precision: float
    recall: float
    target: float
    reached: bool
    benign_fpr: float = float("nan")  # equal-weighted dev benign FPR at the threshold


def benign_fpr_curve(
    scores: npt.NDArray[np.float32],
    benign: npt.NDArray[np.bool_],
    groups: npt.NDArray[np.str_] | None,
) -> npt.NDArray[np.float64]:
    """Share of benign texts at or above each threshold of :data:`GRID`, mean over groups."""
    if not benign.any():
        return np.zeros(len(GRID))
    g = groups[benign] if groups is not None else np.zeros(int(benign.sum()), dtype=str)
    s = scores[benign]
    curves = [(s[g == group][:, None] >= GRID[None, :]).mean(axis=0) for group in np.unique(g)]
    return np.asarray(np.mean(curves, axis=0), dtype=np.float64)


def calibrate(
    scores: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int8],
    names: tuple[str, ...],
    benign: npt.NDArray[np.bool_],
    groups: npt.NDArray[np.str_] | None = None,
    targets: dict[str, float] | None = None,
    max_benign_fpr: dict[str, float] | None = None,
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
        fpr = benign_fpr_curve(scores[:, j], benign, groups)
        bound = (max_benign_fpr or {}).get(name)
        allowed = fpr <= bound if bound is not None else np.ones(len(GRID), dtype=bool)
        if not allowed.any():
            raise ValueError(
                f"{name}: more than {bound:.1%} of benign dev texts score above "
                f"{GRID[-1]}; lower the model's prior or raise the bound"
            )
        best: tuple[float, float, float, float] | None = None
        f1_best: tuple[float, float, float, float, float] = (-1.0, 0.5, 0.0, 0.0, 0.0)
        for k, t in enumerate(GRID):
            if not allowed[k]:
                continue
            pred = s >= t
            tp = float(w[pred & y].sum())
            precision = tp / max(float(w[pred].sum()), 1e-12)
            recall = tp / max(float(w[y].sum()), 1e-12)
            f1 = 2 * precision * recall / max(precision + recall, 1e-9)
            if f1 > f1_best[0]:
                f1_best = (f1, float(t), precision, recall, float(fpr[k]))
            if best is None and precision >= targets[name] and tp > 0:
                best = (float(t), precision, recall, float(fpr[k]))
        if best is not None:
            t, p, r, f = best
            out.append(Threshold(name, t, p, r, targets[name], True, f))
        else:
            _, t, p, r, f = f1_best
            out.append(Threshold(name, t, p, r, targets[name], False, f))
    return out
