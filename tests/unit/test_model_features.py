"""streams.features: the hashed n-gram front end of the fast model."""

from __future__ import annotations

import numpy as np
import pytest

from streams.features import FeatureConfig, featurize, prepare, prepare_batch

CONFIG = FeatureConfig(bits=12, orders=(1, 2, 3), word_bits=10)


def _word_set(text: str) -> set[int]:
    return set(featurize([text], CONFIG).word_ids.tolist())


def test_shapes_and_padding() -> None:
    f = featurize(["ab", "", "cd e"], CONFIG)
    assert f.ids.shape[1] == len(CONFIG.orders)
    assert f.ids.shape[0] == f.rows.shape[0]
    assert f.scale.shape == (3,)
    assert f.word_scale.shape == (3,)
    assert f.word_ids.shape == f.word_rows.shape
    assert np.all(np.diff(f.rows) >= 0)  # rows are contiguous and ordered
    assert f.ids.min() >= 0
    assert f.ids.max() <= CONFIG.buckets  # buckets itself is the padding id
    real = f.ids[f.ids < CONFIG.buckets]
    assert real.max() < CONFIG.char_buckets  # character n-grams stay in their block
    assert f.word_ids.min() >= CONFIG.char_buckets
    assert f.word_ids.max() < CONFIG.buckets
    # the empty text has no real n-gram and no word: its scales are 1/sqrt(1)
    assert f.scale[1] == 1.0
    assert f.word_scale[1] == CONFIG.word_weight
    assert sorted(set(f.word_rows.tolist())) == [0, 2]


def test_empty_batch() -> None:
    f = featurize([], CONFIG)
    assert f.scale.shape == (0,)
    assert f.ids.shape == (0, len(CONFIG.orders))
    assert f.word_ids.shape == (0,)


def test_unseen_scripts_and_punctuation_give_no_features() -> None:
    for text in ("Привет, как дела?", "مرحبا كيف حالك", "こんにちは", "!!! ??? ...", ""):
        f = featurize([text], CONFIG)
        assert np.all(f.ids == CONFIG.buckets), text
        assert f.word_ids.size == 0, text


def test_trained_scripts_give_features() -> None:
    for text in ("hello", "你好", "안녕하세요", "Grüße"):
        f = featurize([text], CONFIG)
        assert np.any(f.ids < CONFIG.buckets), text


def test_words_unigrams_and_bigrams() -> None:
    # two words: two unigrams and one bigram; Han characters are never words
    assert featurize(["Hello world"], CONFIG).word_ids.size == 3
    assert featurize(["你好世界"], CONFIG).word_ids.size == 0
    # a word's id does not depend on where it stands or on its neighbours
    assert _word_set("hello") < _word_set("well hello")
    assert _word_set("world") < _word_set("hello world")
    # digits are folded: a number's shape counts, not its digits
    assert _word_set("call 0800 123") == _word_set("call 0911 999")
    assert _word_set("call 0800 123") != _word_set("call 08001 123")


def test_bigrams_never_span_two_texts() -> None:
    f = featurize(["hello", "world"], CONFIG)
    assert f.word_ids.size == 2
    np.testing.assert_array_equal(np.sort(f.word_rows), [0, 1])


def test_mentions_urls_and_case_are_normalised() -> None:
    a = featurize(["@alice YOU are GREAT HTTPS://example.com/x"], CONFIG)
    b = featurize(["you are great"], CONFIG)
    real_a = np.sort(a.ids[a.ids < CONFIG.buckets])
    real_b = np.sort(b.ids[b.ids < CONFIG.buckets])
    np.testing.assert_array_equal(real_a, real_b)
    np.testing.assert_array_equal(np.sort(a.word_ids), np.sort(b.word_ids))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A  b\n\tC", " a b c "),
        ("RT @bob: so TRUE", " : so true "),
        ("see www.Example.com/x now", " see now "),
        ("ＡＢＣ１２３", " abc123 "),
        ("<user> hi <url>", " hi "),
    ],
)
def test_prepare(text: str, expected: str) -> None:
    assert prepare(text, 1000) == expected


def test_prepare_batch_keeps_texts_apart() -> None:
    texts = ["first http://x.y/abc", "rt second", "", "@third"]
    joined = prepare_batch(texts)
    assert joined.split("\x00") == [prepare(t) for t in texts]
    assert len(prepare("x" * 50, 10).strip()) == 10


def test_scores_of_a_text_do_not_depend_on_its_batch() -> None:
    alone = featurize(["you are great"], CONFIG)
    together = featurize(["first text", "you are great", "last"], CONFIG)
    np.testing.assert_array_equal(
        np.sort(alone.word_ids), np.sort(together.word_ids[together.word_rows == 1])
    )
    assert alone.scale[0] == together.scale[1]
    assert alone.word_scale[0] == together.word_scale[1]


def test_deterministic_and_meta_roundtrip() -> None:
    a = featurize(["same text", "另一个"], CONFIG)
    b = featurize(["same text", "另一个"], CONFIG)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert FeatureConfig.from_meta(CONFIG.to_meta()) == CONFIG
    with pytest.raises(ValueError, match="unknown feature front end"):
        FeatureConfig.from_meta("char-ngram-hash:v1;bits=16;orders=1,2")
