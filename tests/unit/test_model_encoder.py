"""The shipped encoder tier: its metadata, its pruned vocabulary, row-independent scores, and
clear-cut texts in the languages it was fine-tuned on. No torch: only onnxruntime + tokenizers,
as in the service."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streams.model import LABELS, TextModel, load_model, row_shares
from streams.settings import DEFAULT_ENCODER_PATH

TEXTS = [
    "Thanks for the help yesterday, see you at lunch!",
    "今天天气很好，我们去公园散步吧。",
    "Vielen Dank für die schnelle Antwort, bis morgen!",
    "오늘 날씨가 정말 좋네요.",
    "ok",
    "The meeting is moved to 3pm on Thursday because the room is booked in the morning "
    "and half of the team is travelling back from the conference on Wednesday night.",
]


@pytest.fixture(scope="module")
def model() -> TextModel:
    return load_model(DEFAULT_ENCODER_PATH)


def test_metadata_describes_the_multilingual_encoder(model: TextModel) -> None:
    assert model.name == "flagstream-encoder"
    assert model.labels == LABELS
    assert model.languages == ("",)  # reads every language
    assert model.metadata["text_prefix"] == "query: "
    assert "multilingual-e5-small" in model.metadata["features"]
    assert "MIT" in model.metadata["licence"]
    for label in LABELS:
        assert 0 < model.thresholds[label] <= model.block_thresholds[label] < 1


def test_vocabulary_is_pruned_and_keeps_the_specials(model: TextModel) -> None:
    spec = json.loads(model.metadata["tokenizer"])
    vocab = spec["model"]["vocab"]
    assert 20_000 < len(vocab) < 250_002
    assert [p for p, _ in vocab[:4]] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert spec["model"]["unk_id"] == 3


def test_a_row_scores_the_same_alone_and_in_company(model: TextModel) -> None:
    alone = np.stack([model.score_each([t])[0] for t in TEXTS])
    together = model.score_each(TEXTS)
    np.testing.assert_array_equal(alone, together)
    assert together.shape == (len(TEXTS), len(LABELS))
    assert ((together >= 0) & (together <= 1)).all()


def test_rows_scored_at_once_score_exactly_as_one_at_a_time(model: TextModel) -> None:
    """encoder_workers: rows run concurrently, each in its own run, so nothing moves."""
    parallel = load_model(DEFAULT_ENCODER_PATH, row_workers=3)
    texts = TEXTS * 4  # more rows than workers, of every length
    expected = model.score_each(texts)
    for _ in range(3):  # thread scheduling differs from run to run; the scores may not
        np.testing.assert_array_equal(parallel.score_each(texts), expected)
    np.testing.assert_array_equal(parallel.score_each(texts[:1]), expected[:1])
    assert parallel.score_each([]).shape == (0, len(LABELS))


def test_row_shares_balance_tokens_and_cover_every_row_once() -> None:
    lengths = [50, 3, 3, 3, 40, 10, 7]
    shares = row_shares(lengths, 2)
    assert sorted(i for s in shares for i in s) == list(range(len(lengths)))
    loads = [sum(lengths[i] + 1 for i in s) for s in shares]
    assert max(loads) - min(loads) <= max(lengths)  # greedy longest-first bound
    assert row_shares([5], 4) == [[0]]
    assert row_shares([], 4) == []
    assert row_shares(lengths, 1) == [sorted(range(len(lengths)), key=lambda k: -lengths[k])]
    with pytest.raises(ValueError, match="row_workers"):
        load_model(DEFAULT_ENCODER_PATH, row_workers=0)


def test_everyday_texts_are_not_flagged(model: TextModel) -> None:
    scores = model.score_each(TEXTS)
    review = np.array([model.thresholds[k] for k in LABELS], dtype=np.float32)
    flagged = {TEXTS[i]: scores[i] for i in np.flatnonzero((scores >= review).any(axis=1))}
    assert not flagged, flagged
