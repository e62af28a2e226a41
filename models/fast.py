"""Train the fast model: one L2-regularised logistic regression per label on hashed n-grams.

The training-time model is exactly what the ONNX graph computes (:mod:`models.graph`): the same
:func:`streams.features.featurize` front end, a sparse design matrix whose entry (text, bucket) is
``scale * count`` for character n-grams and ``word_scale * count`` for words, and
``sigmoid(X @ W + b)`` with ``W`` rounded to the graph's float16. Each label learns only from
the rows whose set annotates it (unknown labels are masked, not negatives).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from models.graph import WEIGHT_DTYPE
from streams.features import FeatureConfig, featurize

CHUNK = 2048


def design_matrix(texts: Sequence[str], config: FeatureConfig) -> sp.csr_matrix:
    """The sparse matrix ``[len(texts), buckets]`` the linear model multiplies."""
    blocks = []
    for start in range(0, len(texts), CHUNK):
        chunk = texts[start : start + CHUNK]
        f = featurize(chunk, config)
        keep = f.ids < config.buckets
        r = np.broadcast_to(f.rows[:, None], f.ids.shape)[keep]
        rows = np.concatenate([r, f.word_rows])
        values = np.concatenate([f.scale[r], f.word_scale[f.word_rows]]).astype(np.float64)
        cols = np.concatenate([f.ids[keep], f.word_ids])
        m = sp.csr_matrix((values, (rows, cols)), shape=(len(chunk), config.buckets))
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
        return self.predict_matrix(design_matrix(texts, self.config))

    def predict_matrix(self, x: sp.csr_matrix) -> npt.NDArray[np.float32]:
        logits = x @ self.weights[:-1].astype(np.float64) + self.bias.astype(np.float64)
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def _per_label(value: float | Sequence[float], n: int) -> list[float]:
    return [float(value)] * n if isinstance(value, int | float) else [float(v) for v in value]


def train_linear(
    texts: Sequence[str],
    labels: npt.NDArray[np.int8],
    config: FeatureConfig,
    *,
    c: float | Sequence[float] = 4.0,
    positive_weight: float | Sequence[float] = 1.0,
    seed: int = 0,
    log: bool = True,
    x: sp.csr_matrix | None = None,
) -> LinearModel:
    """Fit one logistic regression per label column of ``labels`` (1, 0, or -1 unknown).

    The weights are rounded to the ONNX graph's float16 here, so that the training-time model
    and the exported graph compute the same function.
    """
    x = design_matrix(texts, config) if x is None else x
    n_labels = labels.shape[1]
    cs = _per_label(c, n_labels)
    pw = _per_label(positive_weight, n_labels)
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
                f"C={cs[j]}, positive weight {pw[j]}",
                flush=True,
            )
    weights = weights.astype(WEIGHT_DTYPE).astype(np.float32)
    return LinearModel(config, weights, bias)


def train_soft(
    texts: Sequence[str],
    targets: npt.NDArray[np.float32],
    config: FeatureConfig,
    *,
    c: float | Sequence[float] = 4.0,
    positive_weight: float | Sequence[float] = 1.0,
    mask: npt.NDArray[np.bool_] | None = None,
    max_iter: int = 300,
    log: bool = True,
    x: sp.csr_matrix | None = None,
) -> LinearModel:
    """The same model as :func:`train_linear`, fitted to soft targets in ``[0, 1]``.

    Minimises, for every label ``j`` at once, ``sum_i mask_ij * CE(t_ij, sigmoid(x_i W_j + b_j))
    + |W_j|^2 / (2 C_j)`` with L-BFGS, the cross-entropy's positive part weighted by
    ``positive_weight[j]`` and the bias not regularised (liblinear cannot take a soft target
    without doubling every row). With 0/1 targets it is an ordinary weighted logistic regression.
    """
    from scipy.optimize import minimize  # noqa: PLC0415 - training-only

    x = design_matrix(texts, config) if x is None else x
    n_labels = targets.shape[1]
    d = x.shape[1]
    t = np.clip(targets.astype(np.float64), 0.0, 1.0)
    m = np.ones_like(t) if mask is None else mask.astype(np.float64)
    inv_c = 1.0 / np.asarray(_per_label(c, n_labels), dtype=np.float64)
    pw = np.asarray(_per_label(positive_weight, n_labels), dtype=np.float64)
    slope = m * (pw * t + 1.0 - t)  # d loss / d logit = slope * p - offset
    offset = m * pw * t
    xt = x.T.tocsr()

    def objective(theta: npt.NDArray[np.float64]) -> tuple[float, npt.NDArray[np.float64]]:
        w = theta[: d * n_labels].reshape(d, n_labels)
        z = x @ w + theta[d * n_labels :]
        softplus = np.logaddexp(0.0, z)  # -log(1 - p); -log p = softplus - z
        loss = float((m * (pw * t * (softplus - z) + (1.0 - t) * softplus)).sum())
        loss += 0.5 * float(((w * w).sum(axis=0) * inv_c).sum())
        g = slope / (1.0 + np.exp(-z)) - offset
        return loss, np.concatenate([(xt @ g + w * inv_c).ravel(), g.sum(axis=0)])

    result = minimize(
        objective,
        np.zeros(d * n_labels + n_labels),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter, "maxcor": 20, "gtol": 1e-6},
    )
    if log:
        print(f"  soft targets, L-BFGS: {result.nit} iterations ({result.message})", flush=True)
    weights = np.zeros((config.buckets + 1, n_labels), dtype=np.float32)
    weights[:-1] = result.x[: d * n_labels].reshape(d, n_labels)
    weights = weights.astype(WEIGHT_DTYPE).astype(np.float32)
    return LinearModel(config, weights, result.x[d * n_labels :].astype(np.float32))
