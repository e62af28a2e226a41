"""streams.model: loading the shipped model, failing clearly on bad files, scoring batches."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from streams.errors import ModelError
from streams.model import LABELS, TextModel, load_model
from streams.settings import DEFAULT_MODEL_PATH


@pytest.fixture(scope="module")
def shipped() -> TextModel:
    return load_model(DEFAULT_MODEL_PATH)


def test_shipped_model_metadata(shipped: TextModel) -> None:
    assert shipped.labels == LABELS
    assert shipped.name == "flagstream-fast"
    assert set(shipped.thresholds) == set(LABELS)
    assert all(0.0 < t < 1.0 for t in shipped.thresholds.values())
    assert len(shipped.sha256) == 64
    assert shipped.created_at.startswith("20")
    assert shipped.data_fingerprint
    assert shipped.path.stat().st_size <= 30 * 1024 * 1024


def test_scores_shape_range_and_empty(shipped: TextModel) -> None:
    texts = ["hello there", "", "x" * 5000, "你好", "😀😀"]
    scores = shipped.score(texts)
    assert scores.dtype == np.float32
    assert scores.shape == (len(texts), len(LABELS))
    assert np.all((scores >= 0) & (scores <= 1))
    empty = shipped.score([])
    assert empty.shape == (0, len(LABELS))
    assert empty.dtype == np.float32


def test_scores_do_not_depend_on_batch_company(shipped: TextModel) -> None:
    texts = ["you are an idiot", "lovely weather today", "WIN a free iPhone now, click here"]
    together = shipped.score(texts)
    alone = np.vstack([shipped.score([t]) for t in texts])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_score_from_threads(shipped: TextModel) -> None:
    texts = [f"message number {i} you idiot" for i in range(64)]
    expected = shipped.score(texts)
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(shipped.score(texts))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for r in results:
        np.testing.assert_allclose(r, expected, atol=1e-6)


def test_missing_file_names_file_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "nope.onnx"
    with pytest.raises(ModelError, match=r"nope\.onnx: no such file.*flagstream model export"):
        load_model(path)


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.onnx"
    path.write_bytes(b"this is not a protobuf at all" * 10)
    with pytest.raises(
        ModelError, match=r"corrupt\.onnx: not a valid ONNX model.*FLAGSTREAM_MODEL_PATH"
    ):
        load_model(path)


def test_onnx_without_metadata() -> None:
    path = Path(__file__).resolve().parents[1] / "models" / "fixtures" / "bare.onnx"
    with pytest.raises(ModelError, match=r"bare\.onnx: ONNX file lacks flagstream metadata"):
        load_model(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(tmp_path)
