"""The encoder's saved dev scores are reused only for the very rows and encoder they were
scored for (``models.cascade.scores_key``): a cache keyed by row count alone would hand another
corpus's scores to the cascade's calibration whenever the counts matched."""

from __future__ import annotations

from models.cascade import scores_key


def test_the_same_rows_and_model_give_the_same_key() -> None:
    assert scores_key(b"model", ["a", "b"]) == scores_key(b"model", ["a", "b"])


def test_other_rows_of_the_same_count_give_another_key() -> None:
    assert scores_key(b"model", ["a", "b"]) != scores_key(b"model", ["a", "c"])
    assert scores_key(b"model", ["a", "b"]) != scores_key(b"model", ["b", "a"])


def test_row_boundaries_count() -> None:
    assert scores_key(b"model", ["ab", ""]) != scores_key(b"model", ["a", "b"])


def test_another_model_gives_another_key() -> None:
    assert scores_key(b"model", ["a"]) != scores_key(b"model2", ["a"])


def test_lone_surrogates_are_keyed_not_refused() -> None:
    assert scores_key(b"m", ["\ud800"]) != scores_key(b"m", ["\ud801"])
