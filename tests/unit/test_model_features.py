"""streams.features: the hashed n-gram front end of the fast model."""

from __future__ import annotations

import numpy as np

from streams.features import FeatureConfig, featurize, prepare

CONFIG = FeatureConfig(bits=12, orders=(1, 2, 3))


def test_shapes_and_padding() -> None:
    ids, rows, scale = featurize(["ab", "", "cd e"], CONFIG)
    assert ids.shape[1] == len(CONFIG.orders)
    assert ids.shape[0] == rows.shape[0]
    assert scale.shape == (3,)
    assert np.all(np.diff(rows) >= 0)  # rows are contiguous and ordered
    assert ids.min() >= 0
    assert ids.max() <= CONFIG.buckets  # buckets itself is the padding id
    # the empty text has no real n-gram: its scale is 1/sqrt(1)
    assert scale[1] == 1.0


def test_unseen_scripts_and_punctuation_give_no_features() -> None:
    for text in ("Привет, как дела?", "مرحبا كيف حالك", "こんにちは", "!!! ??? ...", ""):
        ids, _, _ = featurize([text], CONFIG)
        assert np.all(ids == CONFIG.buckets), text


def test_trained_scripts_give_features() -> None:
    for text in ("hello", "你好", "안녕하세요", "Grüße"):
        ids, _, _ = featurize([text], CONFIG)
        assert np.any(ids < CONFIG.buckets), text


def test_mentions_urls_and_case_are_normalised() -> None:
    a = featurize(["@alice YOU are GREAT https://example.com/x"], CONFIG)[0]
    b = featurize(["you are great"], CONFIG)[0]
    real_a = np.sort(a[a < CONFIG.buckets])
    real_b = np.sort(b[b < CONFIG.buckets])
    np.testing.assert_array_equal(real_a, real_b)


def test_truncation_and_prepare() -> None:
    assert prepare("A  b\n\tC", 1000) == " a b c "
    assert len(prepare("x" * 50, 10).strip()) == 10


def test_deterministic_and_meta_roundtrip() -> None:
    a = featurize(["same text", "另一个"], CONFIG)
    b = featurize(["same text", "另一个"], CONFIG)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert FeatureConfig.from_meta(CONFIG.to_meta()) == CONFIG
