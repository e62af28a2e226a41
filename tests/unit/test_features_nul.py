"""A U+0000 inside a text must not add a row: the batch's texts are joined with NUL."""

from __future__ import annotations

import numpy as np

from streams.classify import Classifier
from streams.features import FeatureConfig, featurize, prepare, prepare_batch
from streams.settings import load_settings

CONFIG = FeatureConfig(bits=12, orders=(1, 2, 3), word_bits=10)


def test_nul_in_a_text_reads_as_a_space_and_keeps_one_row_per_text() -> None:
    texts = ["hello\x00world", "\x00", "plain", "a\x00\x00b\x00"]
    f = featurize(texts, CONFIG)
    assert f.rows.max() == len(texts) - 1  # the last text's row, not one past the batch
    assert f.scale.shape == (len(texts),)
    assert f.word_rows.max() < len(texts)
    assert prepare_batch(texts).count("\x00") == len(texts) - 1
    assert prepare("hello\x00world") == prepare("hello world")


def test_texts_without_nul_are_prepared_as_before() -> None:
    texts = ["Verify your account", "你好，世界", ""]
    assert prepare_batch(texts) == " verify your account \x00 你好,世界 \x00 "


def test_the_shipped_model_scores_a_batch_with_nul_like_the_same_texts_with_spaces() -> None:
    classifier = Classifier.from_settings(load_settings())
    with_nul = classifier.classify(["free\x00money now", "hello", "\x00\x00"]).scores
    with_space = classifier.classify(["free money now", "hello", "  "]).scores
    np.testing.assert_allclose(with_nul, with_space, rtol=1e-6)
