"""The accurate model's fine-tune: which rows, in which batches, at which learning rate.

These parts need no torch (CI installs only the ``train`` extra); the training loop itself is
exercised by ``flagstream model train --accurate --sample 0.02`` (torch, about a minute).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.data import Example
from models.finetune import bucketed_batches, lr_factor, pos_weights
from models.train import cap_sets
from streams.model import pad_rows


def _examples(counts: dict[str, int]) -> list[Example]:
    return [
        Example(f"{name} text {i}", [0, 0, i % 2, 0], name, "train", "en")
        for name, n in counts.items()
        for i in range(n)
    ]


def test_cap_sets_caps_large_sets_and_keeps_small_ones() -> None:
    rows = _examples({"davidson": 500, "sms": 40})
    picked = cap_sets(rows, {"davidson": 100}, seed=0)
    by_set = {name: [e for e in picked if e.dataset == name] for name in ("davidson", "sms")}
    assert len(by_set["davidson"]) == 100
    assert len(by_set["sms"]) == 40
    assert [e.text for e in picked] == [e.text for e in cap_sets(rows, {"davidson": 100}, seed=0)]
    other = cap_sets(rows, {"davidson": 100}, seed=1)
    assert [e.text for e in other] != [e.text for e in picked]


def test_bucketed_batches_cover_every_row_once_with_little_padding() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 64, size=1000).tolist()
    batches = bucketed_batches(lengths, 32, seed=0, window=10)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(1000))
    assert max(len(b) for b in batches) == 32
    lens = np.asarray(lengths)
    padding = sum(len(b) * lens[b].max() - lens[b].sum() for b in batches)
    random_padding = sum(
        len(b) * lens[b].max() - lens[b].sum() for b in np.array_split(np.arange(1000), 32)
    )
    assert padding < 0.2 * random_padding
    again = bucketed_batches(lengths, 32, seed=0, window=10)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    assert not np.array_equal(np.concatenate(bucketed_batches(lengths, 32, seed=1)), rows)


def test_pad_masks_the_padding() -> None:
    ids, mask = pad_rows([[101, 7, 102], [101, 102], [101, 5, 6, 102]], np.array([0, 1]))
    assert ids.tolist() == [[101, 7, 102], [101, 102, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]


def test_lr_warms_up_then_decays_to_zero() -> None:
    factors = [lr_factor(step, 100, 0.1) for step in range(100)]
    assert factors[0] == pytest.approx(0.1)
    assert factors[9] == pytest.approx(1.0)
    assert all(a < b for a, b in itertools.pairwise(factors[:10]))
    assert all(a > b for a, b in itertools.pairwise(factors[10:]))
    assert lr_factor(100, 100, 0.1) == 0.0


def test_pos_weights_ignore_unknown_labels_and_are_capped() -> None:
    labels = np.array([[1, 0, -1], [0, 0, -1], [0, 0, 1], [0, 1, 0]], dtype=np.int8)
    # label 0: 1 pos / 3 neg; label 1: 1 / 3; label 2: 1 / 1 (the unknowns do not count)
    np.testing.assert_allclose(pos_weights(labels, 5.0), [np.sqrt(3), np.sqrt(3), 1.0], rtol=1e-6)
    assert pos_weights(labels, 1.5).max() == pytest.approx(1.5)
