"""models.calibrate: review and block points meet precision targets and per-language FPR bounds."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibrate import GRID, Threshold, flagged_share, language_fpr, operating_points


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Set "a" (labelled): 100 positives at 0.9, 100 negatives at 0.3. General benign text:
    1,000 English rows, 2% of them at 0.6; 1,000 Chinese rows, 0.4% at 0.8."""
    scores = np.concatenate(
        [
            np.full(100, 0.9),
            np.full(100, 0.3),
            np.full(20, 0.6),
            np.full(980, 0.1),
            np.full(4, 0.8),
            np.full(996, 0.1),
        ]
    ).astype(np.float32)
    labels = np.concatenate([np.ones(100), np.zeros(2100)]).astype(np.int8).reshape(-1, 1)
    groups = np.array(["a"] * 200 + ["en-general"] * 1000 + ["zh-general"] * 1000)
    general = np.array([False] * 200 + [True] * 2000)
    langs = np.array(["en"] * 1200 + ["zh"] * 1000)
    return scores.reshape(-1, 1), labels, groups, general, langs


def _points(**kw: object) -> tuple[Threshold, Threshold]:
    scores, labels, groups, general, langs = _data()
    (p,) = operating_points(
        scores,
        labels,
        ("toxic",),
        groups,
        general,
        langs,
        targets={"toxic": 0.9},
        **kw,  # type: ignore[arg-type]
    )
    return p.review, p.block


def test_precision_alone_takes_the_lowest_threshold() -> None:
    review, _ = _points(review_fpr={"toxic": 1.0}, block_fpr={"toxic": 1.0})
    assert review.reached
    assert review.threshold == pytest.approx(0.31)  # from here set "a" is perfectly precise


def test_the_worst_language_bounds_the_review_point() -> None:
    # 1%: English (2% at 0.6) forces the threshold above 0.6; Chinese 0.4% at 0.8 is allowed
    review, _ = _points(review_fpr={"toxic": 0.01}, block_fpr={"toxic": 0.01})
    assert review.threshold == pytest.approx(0.61)
    assert review.benign_fpr == pytest.approx(0.004)
    assert review.recall == 1.0


def test_the_block_point_is_stricter_and_never_below_review() -> None:
    review, block = _points(review_fpr={"toxic": 0.01}, block_fpr={"toxic": 0.002})
    assert block.threshold >= review.threshold
    assert block.threshold == pytest.approx(0.81)  # above the Chinese 0.4% at 0.8
    assert block.benign_fpr == 0.0


def test_small_languages_are_measured_but_do_not_constrain() -> None:
    scores, labels, groups, general, langs = _data()
    langs = np.where(langs == "zh", "ja", langs)
    (p,) = operating_points(
        scores,
        labels,
        ("toxic",),
        groups,
        general,
        langs,
        targets={"toxic": 0.9},
        review_fpr={"toxic": 0.01},
        block_fpr={"toxic": 0.002},
        min_language_texts=1001,  # neither language has enough rows
    )
    assert p.review.threshold == pytest.approx(0.31)


def test_unreachable_precision_is_reported_not_hidden() -> None:
    scores, labels, groups, general, langs = _data()
    labels[:100] = 0  # no positives: precision can never reach the target
    labels[100:200] = 1
    scores[100:200] = 0.3
    (p,) = operating_points(
        scores, labels, ("toxic",), groups, general, langs, targets={"toxic": 0.99}
    )
    assert not p.review.reached


def test_language_fpr_and_flagged_share() -> None:
    scores, _labels, _groups, general, langs = _data()
    curves = language_fpr(scores[general, 0], langs[general])
    k = int(np.argmin(np.abs(GRID - 0.5)))
    assert curves["en"][k] == pytest.approx(0.02)
    assert curves["zh"][k] == pytest.approx(0.004)
    share = flagged_share(scores[general], np.array([0.5], dtype=np.float32), langs[general])
    assert share == pytest.approx({"en": 0.02, "zh": 0.004})


def test_spare_budget_lowers_a_budget_bound_point_to_the_joint_bound() -> None:
    # the toxic budget (1%) holds the point at 0.61; a 3% joint bound lets it fall to 0.31,
    # where set "a"'s negatives (at 0.3) would break the precision target
    review, _ = _points(
        review_fpr={"toxic": 0.01}, block_fpr={"toxic": 0.01}, joint_review_fpr=0.03
    )
    assert review.threshold == pytest.approx(0.31)
    assert review.precision == 1.0
    assert review.benign_fpr == pytest.approx(0.02)
    # a joint bound the budget already spends moves nothing
    same, _ = _points(review_fpr={"toxic": 0.01}, block_fpr={"toxic": 0.01}, joint_review_fpr=0.01)
    assert same.threshold == pytest.approx(0.61)


def test_spare_budget_counts_every_labels_flags() -> None:
    """Another label already flags 1.5% of English: toxic may not add its 2% under a 3% bound."""
    scores, labels, groups, general, langs = _data()
    other = np.full(len(scores), 0.05, dtype=np.float32)
    other[:100] = 0.97  # set "a"'s positives for this label too
    other[1200 - 15 : 1200] = 0.96  # 15 English everyday rows that flag only this label
    both = np.concatenate([scores, other[:, None]], axis=1)
    points = operating_points(
        both,
        np.concatenate([labels, labels], axis=1),
        ("toxic", "hate"),
        groups,
        general,
        langs,
        review_fpr={"toxic": 0.01, "hate": 0.02},
        block_fpr={"toxic": 0.01, "hate": 0.02},
        targets={"toxic": 0.9, "hate": 0.9},
        joint_review_fpr=0.03,
    )
    toxic, hate = (p.review for p in points)
    assert toxic.threshold == pytest.approx(0.61)
    # the other label's own point: the lowest threshold above its negatives (0.05)
    assert hate.threshold == pytest.approx(0.06)
    share = flagged_share(
        both[general], np.array([toxic.threshold, hate.threshold], dtype=np.float32), langs[general]
    )
    assert max(share.values()) <= 0.03
