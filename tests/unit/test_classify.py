"""streams.classify: the fast model for every row, the cascade for the grey zone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import orjson
import pytest

from streams.classify import (
    ACCURATE,
    DEGRADED,
    FAST,
    BatchScores,
    Classifier,
    EncoderGovernor,
)
from streams.errors import ModelError
from streams.model import LABELS, META_PREFIX, TextModel, load_model
from streams.settings import DEFAULT_ENCODER_PATH, DEFAULT_MODEL_PATH, Settings

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
    assert out.routed == 2
    assert not out.degraded
    # equal review thresholds (0.5) and no block points (0.99 both): the accurate model's own
    # score, mapped through [0, 0.5, 0.99, 1] onto the same points, is unchanged
    np.testing.assert_allclose(out.scores, 1 / (1 + np.exp(-3.0)), atol=1e-6)
    assert out.accurate_seconds > 0
    outside = Classifier(fast, accurate, cascade_low=0.6, cascade_high=0.9)
    assert list(outside.classify(["an english text"]).decided_by) == [FAST]


def test_cascade_skips_texts_in_languages_the_model_does_not_read() -> None:
    fast = fixture("half")
    accurate = fixture("high")  # languages: en
    out = Classifier(fast, accurate).classify(["plain english", "完全是中文的句子", "한국어 문장"])
    assert list(out.decided_by) == [ACCURATE, FAST, FAST]
    assert out.routed == 1


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


def test_every_routed_row_is_rescored_however_large_the_batch() -> None:
    clf = Classifier(fixture("half"), fixture("high"))
    out = clf.classify([f"text number {i}" for i in range(300)])
    assert out.routed == 300
    assert int((out.decided_by == ACCURATE).sum()) == 300


def test_same_text_same_scores_whatever_its_batch() -> None:
    shipped = load_model(DEFAULT_MODEL_PATH)
    clf = Classifier(shipped)
    text = "you are such an idiot, honestly"
    alone = clf.classify([text]).scores[0]
    crowd = clf.classify(["hello", text, "WINNER claim your prize now " * 5]).scores[1]
    np.testing.assert_array_equal(alone, crowd)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_governor_degrades_above_the_busy_share_and_resumes_below_it() -> None:
    clock = FakeClock()
    gov = EncoderGovernor(0.5, window_s=10.0, clock=clock)
    assert gov.allow()
    gov.record(4.0)  # 40% of the window
    assert gov.allow()
    gov.record(2.0)  # 60%: over the bar
    assert not gov.allow()
    clock.now = 5.0
    assert not gov.allow()  # still 60% in the window
    clock.now = 10.5  # the spans recorded at t=0 left the window
    assert gov.allow()


def test_governor_hysteresis() -> None:
    clock = FakeClock()
    gov = EncoderGovernor(0.5, resume_busy=0.3, window_s=10.0, clock=clock)
    gov.record(6.0)
    assert not gov.allow()
    clock.now = 10.5
    gov.record(4.0)  # 40%: under max_busy but above resume_busy
    assert not gov.allow()
    clock.now = 21.0
    assert gov.allow()


def test_governor_rejects_a_bad_share() -> None:
    with pytest.raises(ValueError, match="cascade_max_busy"):
        EncoderGovernor(0.0)


def test_degraded_batches_keep_fast_scores_and_say_so() -> None:
    fast = fixture("half")
    clf = Classifier(fast, fixture("high"), cascade_max_busy=0.5)
    clf.governor.record(1e6)  # the encoder has been busy far beyond its share
    texts = ["an english text", "another one"]
    out = clf.classify(texts)
    assert out.degraded
    assert list(out.decided_by) == [DEGRADED, DEGRADED]
    np.testing.assert_array_equal(out.scores, fast.score(texts))
    assert out.accurate_seconds == 0.0


def test_accurate_scores_aligned_to_fast_thresholds() -> None:
    fast = fixture("half-t06")
    accurate = fixture("half-t04")  # scores 0.5
    out = Classifier(fast, accurate).classify(["some text"])
    # 0.5 is above the accurate threshold 0.4 -> must stay above the fast threshold 0.6: the
    # segment [0.4, 0.99) of the accurate scale maps onto [0.6, 0.99) of the fast one
    aligned = 0.6 + (0.5 - 0.4) / (0.99 - 0.4) * (0.99 - 0.6)
    np.testing.assert_allclose(out.scores, aligned, atol=1e-6)


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
        cascade_max_busy=0.25,
    )
    clf = Classifier.from_settings(settings)
    assert clf.accurate is not None
    assert clf.max_text_chars == 64
    assert (clf.cascade_low, clf.cascade_high) == (0.1, 0.9)
    assert clf.governor.max_busy == pytest.approx(0.25)


def test_default_settings_use_the_shipped_models() -> None:
    clf = Classifier.from_settings(Settings())
    assert clf.fast.path == DEFAULT_MODEL_PATH
    assert clf.fast.name == "flagstream-fast"
    assert clf.accurate is not None
    assert clf.accurate.path == DEFAULT_ENCODER_PATH
    assert clf.accurate.name == "flagstream-encoder"
    # the cascade's own calibrated points, for exactly this fast model
    assert clf.weight is not None
    assert clf.thresholds == clf.accurate.cascade["thresholds"]  # type: ignore[index]


@pytest.mark.parametrize("off", ["", "none", "OFF"])
def test_the_encoder_tier_can_be_turned_off(off: str) -> None:
    assert Settings(accurate_model_path=off).accurate_model_path is None


def _with_script_points(tmp_path: Path, name: str, points: object) -> TextModel:
    """A copy of fixture ``name`` whose metadata carries ``points`` as its script_points."""
    proto = onnx.load(str(FIXTURES / f"{name}.onnx"))
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_PREFIX + "script_points", orjson.dumps(points).decode()
    out = tmp_path / f"{name}-scripts.onnx"
    onnx.save(proto, str(out))
    return load_model(out)


def test_a_script_groups_own_points_decide_its_rows(tmp_path: Path) -> None:
    # every score is 0.5, below the review point 0.6; Chinese text has its own point 0.4
    fast = _with_script_points(
        tmp_path, "half-t06", {"han": {"thresholds": dict.fromkeys(LABELS, 0.4)}}
    )
    clf = Classifier(fast)
    out = clf.classify(["plain english", "中文的句子", "한국어 문장"])
    review = np.array([clf.thresholds[k] for k in LABELS])
    assert (out.scores[0] < review).all()
    assert (out.scores[1] >= review).all()  # mapped above the one review point the policy uses
    assert (out.scores[2] < review).all()  # Korean has no points of its own: the default


def test_bad_script_points_are_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="script_points"):
        _with_script_points(tmp_path, "half", {"han": {"thresholds": {"toxic": 7}}})
