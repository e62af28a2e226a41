"""Per-script operating points: the script test, the score map and how models choose the points."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibrate import operating_points, script_operating_points
from streams.calibration import ScriptCalibration
from streams.language import script_group

LABELS = ("toxic", "hate")
REVIEW = np.array([0.9, 0.7], dtype=np.float32)
BLOCK = np.array([0.95, 0.9], dtype=np.float32)
HAN = {"thresholds": {"toxic": 0.3}, "block_thresholds": {"toxic": 0.6}}


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("you absolute clown", "default"),
        ("Das ist doch Unsinn", "default"),
        ("你这个骗子，滚出去", "han"),
        ("加我vx领取返利 123", "han"),
        ("진짜 바보 같은 소리 하네", "hangul"),
        ("韓國語 한국어 mixed", "hangul"),  # Hangul decides: Korean text may carry Hanja
        ("今日は会議があります。", "default"),  # kana: Japanese keeps the shared points
        ("", "default"),
        ("🙂🙂 12345", "default"),
    ],
)
def test_script_group(text: str, group: str) -> None:
    assert script_group(text) == group


def test_a_groups_points_map_onto_the_default_ones() -> None:
    cal = ScriptCalibration(LABELS, REVIEW, BLOCK, {"han": HAN})
    texts = ["骂人的话", "english words", "骂人的话"]
    scores = np.array([[0.3, 0.5], [0.3, 0.5], [0.6, 0.1]], dtype=np.float32)
    cal.apply(texts, scores)
    # the han row at its own review point now sits at the default review point, its block point
    # at the default block point; hate (no han points) and the English row are left alone
    assert scores[0, 0] == pytest.approx(0.9)
    assert scores[2, 0] == pytest.approx(0.95)
    assert scores[1].tolist() == pytest.approx([0.3, 0.5])
    assert scores[0, 1] == pytest.approx(0.5)
    assert scores[2, 1] == pytest.approx(0.1)


def test_the_map_is_monotone_and_keeps_0_and_1() -> None:
    cal = ScriptCalibration(LABELS, REVIEW, BLOCK, {"han": HAN})
    raw = np.linspace(0.0, 1.0, 101, dtype=np.float32)
    scores = np.stack([raw, raw], axis=1)
    cal.apply(["中文"] * len(raw), scores)
    assert (np.diff(scores[:, 0]) >= 0).all()
    assert scores[0, 0] == 0.0
    assert scores[-1, 0] == pytest.approx(1.0)
    # below the group's review point nothing reaches the default review point, above it all do
    assert (scores[raw < 0.3, 0] < 0.9).all()
    assert (scores[raw >= 0.3, 0] >= 0.9 - 1e-6).all()


def test_no_points_no_map() -> None:
    cal = ScriptCalibration(LABELS, REVIEW, BLOCK, {})
    assert not cal
    scores = np.array([[0.3, 0.2]], dtype=np.float32)
    cal.apply(["中文"], scores)
    assert scores[0].tolist() == pytest.approx([0.3, 0.2])
    # a group whose points equal the default ones is the identity too
    same = {
        "han": {
            "thresholds": {"toxic": 0.9, "hate": 0.7},
            "block_thresholds": {"toxic": 0.95, "hate": 0.9},
        }
    }
    assert not ScriptCalibration(LABELS, REVIEW, BLOCK, same)


def _two_scripts() -> tuple[np.ndarray, ...]:
    """English: positives at 0.9, negatives at 0.5, everyday text with 2% at 0.8 (that bounds
    the shared point). Chinese: positives at 0.5, negatives at 0.1, everyday text all at 0.05."""

    def block(pos: float, neg: float, everyday: float, loud: float, n_loud: int) -> list[float]:
        return [pos] * 100 + [neg] * 100 + [loud] * n_loud + [everyday] * (1000 - n_loud)

    scores = np.array(block(0.9, 0.5, 0.1, 0.8, 20) + block(0.5, 0.1, 0.05, 0.05, 0), np.float32)
    one = [1] * 100 + [0] * 1100
    labels = np.array(one + one, dtype=np.int8).reshape(-1, 1)
    groups = np.array(
        (["en-set"] * 200 + ["en-general"] * 1000) + (["zh-set"] * 200 + ["zh-general"] * 1000)
    )
    general = np.array(([False] * 200 + [True] * 1000) * 2)
    langs = np.array(["en"] * 1200 + ["zh"] * 1200)
    scripts = np.array(["default"] * 1200 + ["han"] * 1200)
    return scores.reshape(-1, 1), labels, groups, general, langs, scripts


def test_each_script_group_gets_its_own_point_under_the_same_rules() -> None:
    scores, labels, groups, general, langs, scripts = _two_scripts()
    kw = {"review_fpr": {"toxic": 0.01}, "block_fpr": {"toxic": 0.01}, "targets": {"toxic": 0.9}}
    base = operating_points(scores, labels, ("toxic",), groups, general, langs, **kw)  # type: ignore[arg-type]
    assert base[0].review.threshold == pytest.approx(0.81)  # English everyday text bounds it
    own = script_operating_points(scores, labels, ("toxic",), groups, general, langs, scripts, base)
    assert set(own) == {"han"}
    # Chinese alone: precise from 0.11 up, and its everyday text is far below: its own point
    assert own["han"][0].review.threshold < 0.5
    assert own["han"][0].review.reached


def test_a_group_without_enough_positives_keeps_the_default_point() -> None:
    scores, labels, groups, general, langs, scripts = _two_scripts()
    base = operating_points(scores, labels, ("toxic",), groups, general, langs)
    own = script_operating_points(
        scores, labels, ("toxic",), groups, general, langs, scripts, base, min_positives=101
    )
    assert own["han"][0] is base[0]
    # and a group without enough everyday text gets no entry at all
    none = script_operating_points(
        scores, labels, ("toxic",), groups, general, langs, scripts, base, min_language_texts=2000
    )
    assert none == {}


def test_a_group_precise_only_at_the_top_keeps_the_default_point() -> None:
    scores, labels, groups, general, langs, scripts = _two_scripts()
    base = operating_points(scores, labels, ("toxic",), groups, general, langs)
    own = script_operating_points(
        scores, labels, ("toxic",), groups, general, langs, scripts, base, min_recall=1.01
    )
    assert own["han"][0] is base[0]
