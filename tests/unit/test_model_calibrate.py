"""models.calibrate: thresholds meet the precision target and the benign false-positive bound."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibrate import GRID, benign_fpr_curve, calibrate


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    # set "a": 100 positives at 0.9, 100 negatives at 0.3; set "b": 200 benign texts that do
    # not annotate this label (as COLD does not annotate hate), 20% at 0.6, the rest at 0.1
    scores = np.concatenate(
        [np.full(100, 0.9), np.full(100, 0.3), np.full(40, 0.6), np.full(160, 0.1)]
    )
    labels = np.concatenate([np.ones(100), np.zeros(100), np.full(200, -1)])
    labels = labels.astype(np.int8).reshape(-1, 1)
    groups = np.array(["a"] * 200 + ["b"] * 200)
    benign = labels[:, 0] != 1
    return scores.astype(np.float32).reshape(-1, 1), labels, benign, groups


def test_precision_rule_alone_takes_the_lowest_threshold() -> None:
    scores, labels, benign, groups = _data()
    (t,) = calibrate(scores, labels, ("toxic",), benign, groups, targets={"toxic": 0.9})
    # from 0.31 up set "a" is perfectly precise; set "b" does not count for precision
    assert t.reached
    assert t.threshold == pytest.approx(0.31)
    assert t.benign_fpr == pytest.approx((0.0 + 0.2) / 2)


def test_benign_bound_raises_the_threshold() -> None:
    scores, labels, benign, groups = _data()
    (t,) = calibrate(
        scores,
        labels,
        ("toxic",),
        benign,
        groups,
        targets={"toxic": 0.9},
        max_benign_fpr={"toxic": 0.05},
    )
    assert t.threshold == pytest.approx(0.61)  # just above the hard negatives of set "b"
    assert t.benign_fpr == 0.0
    assert t.recall == 1.0


def test_fpr_curve_weights_sets_equally() -> None:
    scores = np.array([0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.9], dtype=np.float32)
    groups = np.array(["big"] * 10 + ["small"])
    curve = benign_fpr_curve(scores, np.ones(len(scores), dtype=bool), groups)
    k = int(np.argmin(np.abs(GRID - 0.5)))
    assert curve[k] == pytest.approx((0.1 + 1.0) / 2)


def test_unreachable_bound_is_an_error() -> None:
    scores, labels, benign, groups = _data()
    scores[benign] = 0.99
    with pytest.raises(ValueError, match="benign dev texts"):
        calibrate(scores, labels, ("toxic",), benign, groups, max_benign_fpr={"toxic": 0.01})
