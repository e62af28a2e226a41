"""The shipped encoder tier: its metadata, its pruned vocabulary, row-independent scores, and
clear-cut texts in the languages it was fine-tuned on. No torch: only onnxruntime + tokenizers,
as in the service."""

from __future__ import annotations

import json

import numpy as np
import pytest

from streams.model import LABELS, TextModel, load_model
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


def test_everyday_texts_are_not_flagged(model: TextModel) -> None:
    scores = model.score_each(TEXTS)
    review = np.array([model.thresholds[k] for k in LABELS], dtype=np.float32)
    flagged = {TEXTS[i]: scores[i] for i in np.flatnonzero((scores >= review).any(axis=1))}
    assert not flagged, flagged
