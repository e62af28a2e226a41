"""Distilling the encoder into the fast tier: soft targets, the soft-target solver, the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("sklearn", reason="training tests need the 'train' extra")

from sklearn.linear_model import LogisticRegression

from models.distil import soft_targets, teacher_scores
from models.encoder import ENCODER_PATH
from models.fast import train_soft
from streams.features import FeatureConfig
from streams.model import load_model


def test_soft_targets_mix_known_gold_and_take_the_teacher_elsewhere() -> None:
    gold = np.array([[1, 0, -1, -1], [0, -1, 1, 0]], dtype=np.int8)
    teacher = np.array([[0.6, 0.2, 0.9, 0.1], [0.4, 0.7, 0.5, 0.3]], dtype=np.float32)
    out = soft_targets(gold, teacher, 0.5)
    np.testing.assert_allclose(out, [[0.8, 0.1, 0.9, 0.1], [0.2, 0.7, 0.75, 0.15]], rtol=1e-6)
    np.testing.assert_array_equal(soft_targets(gold, teacher, 1.0)[gold >= 0], gold[gold >= 0])
    with pytest.raises(ValueError, match="alpha"):
        soft_targets(gold, teacher, 1.5)
    with pytest.raises(ValueError, match="shape"):
        soft_targets(gold[:1], teacher, 0.5)


def test_soft_solver_is_logistic_regression_on_hard_targets() -> None:
    """With 0/1 targets, the solver finds sklearn's weighted, L2-regularised optimum."""
    rng = np.random.default_rng(0)
    config = FeatureConfig(bits=8, word_bits=0)
    n, d = 2000, config.buckets
    x = sp.random(n, d, density=0.05, format="csr", random_state=0)
    truth = rng.normal(size=(d, 2))
    y = (1.0 / (1.0 + np.exp(-(x @ truth))) > rng.random((n, 2))).astype(np.float32)
    model = train_soft([""] * n, y, config, c=(2.0, 0.5), positive_weight=(1.0, 3.0),
                       max_iter=2000, log=False, x=x)  # fmt: skip
    for j, (c, pw) in enumerate(((2.0, 1.0), (0.5, 3.0))):
        ref = LogisticRegression(C=c, max_iter=5000, tol=1e-10, class_weight={0: 1, 1: pw})
        ref.fit(x, y[:, j])
        # the weights are rounded to the graph's float16 (a few 1e-3 at these magnitudes)
        np.testing.assert_allclose(model.weights[:-1, j], ref.coef_[0], atol=5e-3)
        assert abs(float(model.bias[j]) - float(ref.intercept_[0])) < 1e-3


def test_soft_solver_learns_a_soft_target_and_ignores_masked_entries() -> None:
    config = FeatureConfig(bits=4, word_bits=0)
    x = sp.csr_matrix(np.ones((400, 1)))
    x.resize((400, config.buckets))
    targets = np.full((400, 2), 0.3, dtype=np.float32)
    targets[:200, 1] = 1.0  # masked out below: must not pull label 1 towards 1
    mask = np.ones((400, 2), dtype=bool)
    mask[:200, 1] = False
    model = train_soft([""] * 400, targets, config, c=1e6, mask=mask, log=False, x=x)
    p = model.predict_matrix(x)
    np.testing.assert_allclose(p[0], [0.3, 0.3], atol=2e-3)


@pytest.mark.skipif(not ENCODER_PATH.exists(), reason="the shipped encoder is not present")
def test_teacher_scores_are_the_encoders_row_scores_and_are_cached(tmp_path: Path) -> None:
    texts = ["happy new year everyone", "you absolute idiot", "加微信领取返利", "ok"]
    first = teacher_scores(texts, ENCODER_PATH, workers=1, cache=tmp_path, log=None)
    expected = load_model(ENCODER_PATH).score_each(texts)
    np.testing.assert_array_equal(first, expected)
    assert len(list(tmp_path.glob("*.npy"))) == 1  # the chunks were folded into one file
    again = teacher_scores(texts, ENCODER_PATH, workers=1, cache=tmp_path, log=None)
    np.testing.assert_array_equal(again, first)
