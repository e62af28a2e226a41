"""streams.classify: the fast model for every row, the cascade for the grey zone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streams.classify import ACCURATE, ACCURATE_WEIGHT, FAST, BatchScores, Classifier
from streams.errors import ModelError
from streams.model import LABELS, TextModel, load_model
from streams.settings import DEFAULT_MODEL_PATH, Settings

FIXTURES = Path(__file__).resolve().parents[1] / "models" / "fixtures"


def fixture(name: str) -> TextModel:
    """A tiny committed model (tests/models/make_fixtures.py): every score is the same."""
    return load_model(FIXTURES / f"{name}.onnx")


@pytest.fixture(scope="module")
def shipped() -> TextModel:
    return load_model(DEFAULT_MODEL_PATH)


def test_fast_only(shipped: TextModel) -> None:
    clf = Classifier(shipped)
    out = clf.classify(["hello friend", "you are a stupid idiot"])
    assert isinstance(out, BatchScores)
    assert out.scores.shape == (2, len(LABELS))
    assert out.scores.dtype == np.float32
    assert out.decided_by.dtype == np.uint8
    assert list(out.decided_by) == [FAST, FAST]
    assert out.fast_seconds > 0
    assert out.accurate_seconds == 0.0
    assert clf.labels == LABELS
    assert clf.thresholds == shipped.thresholds


def test_empty_batch(shipped: TextModel) -> None:
    out = Classifier(shipped).classify([])
    assert out.scores.shape == (0, len(LABELS))
    assert out.decided_by.shape == (0,)


def test_truncates_to_max_text_chars(shipped: TextModel) -> None:
    clf = Classifier(shipped, max_text_chars=20)
    head = "you are an idiot " + "x" * 3
    long = head + " lovely kind words " * 200
    np.testing.assert_allclose(clf.classify([long]).scores, shipped.score([head[:20]]), atol=1e-6)


def test_cascade_rescores_grey_rows_only() -> None:
    fast = fixture("half")  # every score 0.5: in the band
    accurate = fixture("high")  # 0.953
    clf = Classifier(fast, accurate, cascade_low=0.25, cascade_high=0.75)
    out = clf.classify(["an english text", "another one"])
    assert list(out.decided_by) == [ACCURATE, ACCURATE]
    # thresholds equal (0.5 both): the aligned score is the accurate model's own, blended
    blended = ACCURATE_WEIGHT / (1 + np.exp(-3.0)) + (1 - ACCURATE_WEIGHT) * 0.5
    np.testing.assert_allclose(out.scores, blended, atol=1e-6)
    assert out.accurate_seconds > 0
    outside = Classifier(fast, accurate, cascade_low=0.6, cascade_high=0.9)
    assert list(outside.classify(["an english text"]).decided_by) == [FAST]


def test_cascade_skips_non_english_for_english_model() -> None:
    fast = fixture("half")
    accurate = fixture("high")  # languages: en
    out = Classifier(fast, accurate).classify(["plain english", "完全是中文的句子", "한국어 문장"])
    assert list(out.decided_by) == [ACCURATE, FAST, FAST]


def test_cascade_skips_latin_script_text_in_other_languages() -> None:
    # mostly ASCII, but not English: the English model must not decide them
    fast = fixture("half")
    accurate = fixture("high")  # languages: en
    texts = [
        "@USER you are such an idiot, nobody wants to hear your opinion URL",
        "Du bist ein dummes Arschloch und deine Meinung interessiert hier niemanden",
        "Hola a todos, la reunión de mañana se cambia al jueves por la tarde",
        "lol",  # no telling language: the English model may read it
    ]
    out = Classifier(fast, accurate).classify(texts)
    assert list(out.decided_by) == [ACCURATE, FAST, FAST, ACCURATE]
    np.testing.assert_array_equal(out.scores[1:3], fast.score(texts[1:3]))


def test_cascade_budget_leaves_fast_scores() -> None:
    fast = fixture("half")
    accurate = fixture("high")
    clf = Classifier(fast, accurate, cascade_budget_ms=1e-9)
    texts = [f"text {i}" for i in range(100)]
    out = clf.classify(texts)
    # the budget is checked before each chunk: nothing fits in a nanosecond
    assert out.decided_by.sum() == 0
    np.testing.assert_allclose(out.scores, 0.5, atol=1e-6)


def test_accurate_scores_aligned_to_fast_thresholds() -> None:
    fast = fixture("half-t06")
    accurate = fixture("half-t04")  # scores 0.5
    out = Classifier(fast, accurate).classify(["some text"])
    # 0.5 is above the accurate threshold 0.4 -> must stay above the fast threshold 0.6
    aligned = 0.6 + (0.5 - 0.4) / (1 - 0.4) * (1 - 0.6)
    expected = ACCURATE_WEIGHT * aligned + (1 - ACCURATE_WEIGHT) * 0.5
    np.testing.assert_allclose(out.scores, expected, atol=1e-6)


def test_label_mismatch_is_a_model_error() -> None:
    fast = fixture("half")
    other = fixture("two-labels")
    with pytest.raises(ModelError, match="labels"):
        Classifier(fast, other)


def test_from_settings() -> None:
    settings = Settings(
        model_path=FIXTURES / "half.onnx",
        accurate_model_path=FIXTURES / "high.onnx",
        max_text_chars=64,
        cascade_low=0.1,
        cascade_high=0.9,
        cascade_budget_ms=20.0,
    )
    clf = Classifier.from_settings(settings)
    assert clf.accurate is not None
    assert clf.max_text_chars == 64
    assert (clf.cascade_low, clf.cascade_high) == (0.1, 0.9)
    assert clf.cascade_budget_s == pytest.approx(0.02)


def test_default_settings_use_the_shipped_model() -> None:
    clf = Classifier.from_settings(Settings())
    assert clf.fast.path == DEFAULT_MODEL_PATH
    assert clf.fast.name == "flagstream-fast"
    assert clf.accurate is None
