"""The shipped accurate model: its metadata, its graph's padding handling and clear-cut texts.

No torch: the reference for the padded, length-sorted micro-batches the run-time scorer feeds is
the same graph run on each text alone, unpadded (the mean pooling must ignore padding).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from tokenizers import Tokenizer

from streams.model import LABELS, TextModel, load_model
from streams.settings import REPO_DIR

ACCURATE_PATH = REPO_DIR / "models" / "accurate" / "flagstream-accurate.onnx"

TEXTS = [
    "Thanks for the help yesterday, see you at lunch!",
    "you are a worthless stupid bitch, shut the fuck up",
    "WINNER!! You have won a £1000 cash prize. Call 09061701461 now to claim",
    "ok",
    "The meeting is moved to 3pm on Thursday because the room is booked in the morning "
    "and half of the team is travelling back from the conference on Wednesday night.",
    "Check out my channel and subscribe please!!! http://youtube.com/mychannel",
    "lol",
    "I can't wait for the weekend, we're going hiking if it doesn't rain",
    "Your bank account has been suspended. Verify your details at http://secure-login.example",
]


@pytest.fixture(scope="module")
def model() -> TextModel:
    return load_model(ACCURATE_PATH)


def test_metadata_describes_the_fine_tuned_model(model: TextModel) -> None:
    assert model.labels == LABELS
    assert model.languages == ("en",)
    assert model.metadata["features"].startswith("wordpiece:all-MiniLM-L6-v2-finetuned-int8;")
    assert "olid" not in model.metadata["datasets"].split(",")  # research-only licence
    assert all(0 < t < 1 for t in model.thresholds.values())
    assert ACCURATE_PATH.stat().st_size <= 24_000_000


def test_batched_scores_match_each_text_scored_alone(model: TextModel) -> None:
    batched = model.score(TEXTS)
    max_len = int(model.metadata["features"].rsplit("max_len=", 1)[1])
    tokenizer = Tokenizer.from_str(model.metadata["tokenizer"])
    tokenizer.enable_truncation(max_len)
    tokenizer.no_padding()
    session = ort.InferenceSession(str(ACCURATE_PATH), providers=["CPUExecutionProvider"])
    for text, row in zip(TEXTS, batched, strict=True):
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        alone = session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0][0]
        # int8 dynamic quantisation scales activations per batch, so scores move a little
        # (measured up to 0.035); pooling over padding would move them far more
        np.testing.assert_allclose(row, alone, atol=0.06)


ABUSE = {"spam", "scam"}  # an insult is not spam
ADS = {"toxic", "hate"}  # an advert is not abuse
ANY = ABUSE | ADS


@pytest.mark.parametrize(
    ("text", "expected", "forbidden"),
    [
        (TEXTS[0], set(), ANY),
        (TEXTS[1], {"toxic"}, ABUSE),
        (TEXTS[2], {"spam"}, ADS),
        (TEXTS[4], set(), ANY),
        (TEXTS[5], {"spam"}, ADS),
        (TEXTS[7], set(), ANY),
    ],
)
def test_clear_cut_texts(
    model: TextModel, text: str, expected: set[str], forbidden: set[str]
) -> None:
    scores = model.score([text])[0]
    flagged = {label for j, label in enumerate(LABELS) if scores[j] >= model.thresholds[label]}
    detail = dict(zip(LABELS, scores, strict=True))
    assert expected <= flagged, detail
    assert not flagged & forbidden - expected, detail
