"""Smoke training on a sample of the shared data: dedup, parity, export, card reproducibility.

CI never trains the full model; it trains a small one here (a few thousand texts, 2^14
buckets) to check that the pipeline holds together and that the exported ONNX graph computes
what the training-time model computes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="training tests need the 'train' extra")

from models.card import render
from models.data import LABELS, Corpus, build_corpus, load_raw, normalise
from models.evaluate import evaluate
from models.export import artefact_from_onnx, export_fast
from models.report import CARD_PATH, gaps
from models.train import TrainResult, train_fast
from streams.features import FeatureConfig
from streams.model import load_model
from streams.settings import DEFAULT_MODEL_PATH, REPO_DIR

DATA_DIR = Path(os.environ.get("FLAGSTREAM_TEST_DATA_DIR", REPO_DIR.parent / "shared" / "data"))
pytestmark = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"{DATA_DIR} not present")


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build_corpus(DATA_DIR)


def _train_smoke(artefact: Path) -> TrainResult:
    """The small, seeded training run every test here shares."""
    return train_fast(
        DATA_DIR,
        sample=0.04,
        config=FeatureConfig(bits=14, word_bits=14),
        artefact=artefact,
        log=False,
    )


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainResult, Path]:
    tmp = tmp_path_factory.mktemp("smoke")
    result = _train_smoke(tmp / "fast.npz")
    out = export_fast(tmp / "fast.npz", tmp / "smoke.onnx", created_at="2026-01-01T00:00:00+00:00")
    return result, out


def test_no_training_text_is_held_out_anywhere(corpus: Corpus) -> None:
    held_out = {normalise(e.text) for e in corpus.dev + corpus.test}
    assert not any(normalise(e.text) in held_out for e in corpus.train)
    keys = [normalise(e.text) for e in corpus.train]
    assert len(keys) == len(set(keys))  # merged duplicates
    assert "olid" not in corpus.datasets  # research-only licence: never in the shipped model


def test_scam_wins_over_spam(corpus: Corpus) -> None:
    raw = load_raw(DATA_DIR, ["sms", "mendeley_smish"])
    smishing = {
        normalise(e.text) for e in raw if e.dataset == "mendeley_smish" and e.labels[1] == 1
    }
    uci_spam = {normalise(e.text) for e in raw if e.dataset == "sms" and e.labels[0] == 1}
    both = smishing & uci_spam
    assert both  # the MANIFEST's known overlap
    merged = [e for e in corpus.train if normalise(e.text) in both]
    assert merged
    for e in merged:
        # scam and spam are exclusive: a smishing copy of a UCI "spam" text is scam only
        assert e.labels[LABELS.index("scam")] == 1
        assert e.labels[LABELS.index("spam")] == 0
        assert set(e.sources) == {"sms", "mendeley_smish"}


def test_onnx_parity_with_training_model(smoke: tuple[TrainResult, Path], corpus: Corpus) -> None:
    result, path = smoke
    model = load_model(path)
    texts = [e.text[:1000] for e in corpus.test[::20]][:1000]
    assert len(texts) == 1000
    onnx_scores = model.score(texts)
    train_scores = result.model.predict(texts)
    assert np.abs(onnx_scores - train_scores).max() <= 1e-4


def test_exported_metadata(smoke: tuple[TrainResult, Path]) -> None:
    result, path = smoke
    model = load_model(path)
    assert model.labels == LABELS
    assert model.created_at == "2026-01-01T00:00:00+00:00"
    assert model.data_fingerprint.endswith("-sample0.04")
    assert model.thresholds == {p.label: p.review.threshold for p in result.points}
    assert model.block_thresholds == {p.label: p.block.threshold for p in result.points}


def test_the_artefact_is_rebuilt_from_the_onnx_file(
    tmp_path: Path, smoke: tuple[TrainResult, Path], corpus: Corpus
) -> None:
    """`flagstream model calibrate` on a fresh checkout starts from the shipped file alone."""
    _, path = smoke
    artefact = artefact_from_onnx(path, tmp_path / "rebuilt.npz")
    again = export_fast(artefact, tmp_path / "again.onnx", created_at="2026-01-01T00:00:00+00:00")
    texts = [e.text for e in corpus.dev[:300]]
    np.testing.assert_array_equal(load_model(again).score(texts), load_model(path).score(texts))
    assert again.read_bytes() == path.read_bytes()


def test_training_is_deterministic(tmp_path: Path, smoke: tuple[TrainResult, Path]) -> None:
    result, _ = smoke
    again = _train_smoke(tmp_path / "a.npz")
    np.testing.assert_array_equal(again.model.weights, result.model.weights)
    assert again.points == result.points


def test_card_is_reproducible_from_the_command(
    smoke: tuple[TrainResult, Path], corpus: Corpus
) -> None:
    _, path = smoke
    model = load_model(path)
    first = render(
        evaluate(DATA_DIR, model, corpus=corpus, baseline=False, latency=False, log=lambda _: None),
        [],
    )
    second = render(
        evaluate(DATA_DIR, model, corpus=corpus, baseline=False, latency=False, log=lambda _: None),
        [],
    )
    # the one line that says how long the evaluation took is a timing, not a result
    assert _untimed(first) == _untimed(second)
    assert "## Targets" in first


def _untimed(card: str) -> str:
    return re.sub(r"_Evaluation took [0-9.]+ minutes\._", "_Evaluation took N minutes._", card)


def _targets_rows(card: str) -> list[str]:
    section = card.split("## Targets", 1)[1].split("\n## ", 1)[0]
    # timings are measured, not reproduced: a pass/fail test never compares them
    return [
        line
        for line in section.splitlines()
        if line.startswith("| ") and "fast" in line and "latency" not in line
    ]


def test_committed_card_matches_the_shipped_model(corpus: Corpus) -> None:
    """The fast model's target figures in models/CARD.md are what evaluate measures now."""
    card = CARD_PATH.read_text(encoding="utf-8")
    shipped = load_model(DEFAULT_MODEL_PATH)
    assert shipped.sha256[:16] in card
    # a capped card (at most N rows per set and split) is reproduced with the same cap
    capped = re.search(r"at most (\d+) rows per set and split", card)
    fresh = evaluate(
        DATA_DIR,
        shipped,
        corpus=corpus,
        baseline=False,
        latency=False,
        max_per_set=int(capped.group(1)) if capped else None,
        log=lambda _: None,
    )
    rows = _targets_rows(render(fresh, gaps(fresh)))
    assert rows
    assert rows == _targets_rows(card)
    assert f"`{shipped.data_fingerprint}`" in card  # the models table names the training corpus
