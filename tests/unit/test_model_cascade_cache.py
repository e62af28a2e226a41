"""The encoder's saved dev scores are reused only for the very rows and encoder they were
scored for (``models.cascade.encoder_dev_scores`` keys them with ``models.distil.texts_key``):
a cache keyed by row count alone would hand another corpus's scores to the cascade's
calibration whenever the counts matched."""

from __future__ import annotations

from models.distil import texts_key


def test_the_same_rows_and_model_give_the_same_key() -> None:
    assert texts_key("model", ["a", "b"]) == texts_key("model", ["a", "b"])


def test_other_rows_of_the_same_count_give_another_key() -> None:
    assert texts_key("model", ["a", "b"]) != texts_key("model", ["a", "c"])
    assert texts_key("model", ["a", "b"]) != texts_key("model", ["b", "a"])


def test_row_boundaries_count() -> None:
    assert texts_key("model", ["ab", ""]) != texts_key("model", ["a", "b"])


def test_another_model_gives_another_key() -> None:
    assert texts_key("model", ["a"]) != texts_key("model2", ["a"])


def test_lone_surrogates_are_keyed_not_refused() -> None:
    assert texts_key("m", ["\ud800"]) != texts_key("m", ["\ud801"])
