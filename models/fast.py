"""Train the fast model: one L2-regularised logistic regression per label on hashed n-grams.

The training-time model is exactly what the ONNX graph computes (:mod:`models.graph`): the same
:func:`streams.features.featurize` front end, a sparse design matrix whose entry (text, bucket) is
``scale * count``, and ``sigmoid(X @ W + b)``. Each label learns only from the rows whose set
annotates it (unknown labels are masked, not negatives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from streams.features import FeatureConfig, featurize

CHUNK = 2048


def design_matrix(texts: Sequence[str], config: FeatureConfig) -> sp.csr_matrix:
    """The sparse matrix ``[len(texts), buckets]`` the linear model multiplies."""
    blocks = []
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        ids, rows, scale = featurize(chunk, config)
        keep = ids < config.buckets
        r = np.broadcast_to(rows[:, None], ids.shape)[keep]
        c = ids[keep]
        m = sp.csr_matrix((scale[r], (r, c)), shape=(len(chunk), config.buckets), dtype=np.float64)
        m.sum_duplicates()
        blocks.append(m)
    return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix((0, config.buckets))


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Weights ``[buckets + 1, L]`` (last row: the zero padding bucket) and bias ``[L]``."""

    config: FeatureConfig
    weights: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]

    def predict(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Scores as the training-time model computes them (float64 sparse algebra)."""
        x = design_matrix(texts, self.config)
        logits = x @ self.weights[:-1].astype(np.float64) + self.bias.astype(np.float64)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def train_linear(
    texts: Sequence[str],
    labels: npt.NDArray[np.int8],
    config: FeatureConfig,
    *,
    c: float | Sequence[float] = 4.0,
    positive_weight: float | Sequence[float] = 1.0,
    seed: int = 0,
    log: bool = True,
) -> LinearModel:
    """Fit one logistic regression per label column of ``labels`` (1, 0, or -1 unknown)."""
    x = design_matrix(texts, config)
    n_labels = labels.shape[1]
    cs = [float(c)] * n_labels if isinstance(c, int | float) else [float(v) for v in c]
    pw = (
        [float(positive_weight)] * n_labels
        if isinstance(positive_weight, int | float)
        else [float(v) for v in positive_weight]
    )
    weights = np.zeros((config.buckets + 1, n_labels), dtype=np.float32)
    bias = np.zeros(n_labels, dtype=np.float32)
    for j in range(n_labels):
        known = labels[:, j] >= 0
        y = labels[known, j]
        clf = LogisticRegression(
            C=cs[j],
            solver="liblinear",
            max_iter=200,
            random_state=seed,
            class_weight={0: 1.0, 1: pw[j]},
        )
        clf.fit(x[known], y)
        weights[:-1, j] = clf.coef_[0]
        bias[j] = clf.intercept_[0]
        if log:
            print(
                f"  label {j}: {int(known.sum())} rows, {int(y.sum())} positive, "
                f"C={cs[j]}, positive weight {pw[j]}"
            )
    return LinearModel(config, weights, bias)
