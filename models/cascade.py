"""Choose the cascade band on dev: accuracy gained against the share of traffic sent to the encoder.

Simulates :class:`streams.classify.Classifier` on the dev splits from the two tiers' saved dev
scores (the fast model's, and the encoder's int8 scores written by the encoder build), so that
trying a band costs nothing: a row with any fast score in ``[low, high)`` takes the encoder's
scores (aligned onto the fast scale), the others keep the fast ones. For each band it reports
the mean dev F1 over (set, label) pairs with positives, the worst language's general-benign
FPR at the review points, and the routed share of general-domain benign text (most of a
platform's traffic) and of all dev rows.

``python -m models.cascade`` prints the table for the shipped models.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.data import LABELS, Example
from streams.classify import _align

BANDS: tuple[tuple[float, float], ...] = (
    (0.02, 0.98),
    (0.05, 0.95),
    (0.05, 0.99),
    (0.1, 0.95),
    (0.1, 0.99),
    (0.15, 0.99),
    (0.2, 0.99),
    (0.3, 0.99),
)


@dataclass(frozen=True, slots=True)
class BandResult:
    low: float
    high: float
    mean_f1: float
    worst_fpr: float
    routed_general: float
    routed_all: float


def _points(
    thresholds: dict[str, float], block: dict[str, float], labels: Sequence[str]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    review = np.array([thresholds[k] for k in labels], dtype=np.float32)
    b = np.array([max(block.get(k, 0.99), thresholds[k]) for k in labels], dtype=np.float32)
    return review, np.maximum(b, review + 1e-3)


def mean_f1(
    scores: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int8],
    groups: npt.NDArray[np.str_],
    review: npt.NDArray[np.float32],
) -> float:
    """Mean F1 at the review points over every (set, label) pair with positives."""
    values = []
    flags = scores >= review[None, :]
    for group in np.unique(groups):
        rows = groups == group
        for j in range(labels.shape[1]):
            known = rows & (labels[:, j] >= 0)
            y = labels[known, j] == 1
            if y.sum() == 0:
                continue
            pred = flags[known, j]
            tp = float((pred & y).sum())
            p = tp / max(float(pred.sum()), 1.0)
            r = tp / float(y.sum())
            values.append(2 * p * r / (p + r) if p + r else 0.0)
    return float(np.mean(values)) if values else float("nan")


def simulate(
    dev: Sequence[Example],
    fast: npt.NDArray[np.float32],
    encoder: npt.NDArray[np.float32],
    fast_points: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    encoder_points: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    bands: Sequence[tuple[float, float]] = BANDS,
) -> list[BandResult]:
    """One :class:`BandResult` per band, and the fast model alone as band (1, 1)."""
    labels = np.array([e.labels for e in dev], dtype=np.int8)
    groups = np.array([e.dataset for e in dev])
    general = np.array([e.general_benign for e in dev], dtype=bool)
    langs = np.array([e.lang for e in dev])
    aligned = _align(encoder, encoder_points, fast_points)
    review = fast_points[0]
    out = []
    for low, high in ((1.0, 1.0), *bands):
        routed: npt.NDArray[np.bool_] = np.asarray(((fast >= low) & (fast < high)).any(axis=1))
        final = np.where(routed[:, None], aligned, fast)
        flagged: npt.NDArray[np.bool_] = np.asarray((final >= review[None, :]).any(axis=1))
        fprs = [
            float(flagged[general & (langs == lang)].mean())
            for lang in np.unique(langs[general])
            if (general & (langs == lang)).sum() >= 500
        ]
        out.append(
            BandResult(
                low,
                high,
                mean_f1(final[~general], labels[~general], groups[~general], review),
                max(fprs) if fprs else float("nan"),
                float(routed[general].mean()),
                float(routed.mean()),
            )
        )
    return out


WEIGHT = 1.0  # the encoder's share of a routed row's blended probabilities (chosen on dev: docs/model.md)


def blend(
    fast: npt.NDArray[np.float32],
    encoder: npt.NDArray[np.float32],
    low: float,
    high: float,
    weight: float,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """What :class:`streams.classify.Classifier` computes: (final scores, routed rows)."""
    routed: npt.NDArray[np.bool_] = np.asarray(((fast >= low) & (fast < high)).any(axis=1))
    final = np.where(routed[:, None], weight * encoder + (1.0 - weight) * fast, fast)
    return final.astype(np.float32), routed


def cascade_entry(
    fast_sha256: str,
    fast: npt.NDArray[np.float32],
    encoder: npt.NDArray[np.float32],
    dev: Sequence[Example],
    low: float,
    high: float,
    weight: float,
    fingerprint: str,
    *,
    log: bool = True,
) -> dict[str, object]:
    """The cascade's metadata entry: points chosen on the blended scores of ``dev``.

    Same rules as each tier's own (:mod:`models.calibrate`), applied to the blended scores the
    service computes for this fast model (``fast_sha256``) and band.
    """
    from models.train import dev_operating_points, dev_script_points  # noqa: PLC0415

    final, routed = blend(fast, encoder, low, high, weight)
    if log:
        print(f"cascade [{low}, {high}) weight {weight}: routed {routed.mean():.3f} of dev rows")
    points = dev_operating_points(final, list(dev), log=log)
    assert tuple(p.label for p in points) == LABELS
    return {
        "fast_sha256": fast_sha256,
        "low": low,
        "high": high,
        "weight": weight,
        "thresholds": {p.label: p.review.threshold for p in points},
        "block_thresholds": {p.label: p.block.threshold for p in points},
        "script_points": dev_script_points(final, list(dev), points, log=log),
        "calibrated_on": f"{len(dev)} dev rows ({fingerprint})",
    }


def encoder_dev_scores(dev: Sequence[Example]) -> npt.NDArray[np.float32]:
    """The shipped encoder's int8 scores on the calibration dev rows, one row per run.

    Read from the encoder build's ``models/build/<encoder>-dev-scores.npz`` when it was saved
    for these very rows and this encoder file (``models.distil.texts_key`` of both);
    otherwise (a fresh checkout, no build, another corpus or encoder) scored again with the
    shipped file, as the service scores, and saved there.
    """
    import os  # noqa: PLC0415

    from models.distil import texts_key  # noqa: PLC0415
    from models.encoder import ENCODER_PATH  # noqa: PLC0415
    from models.export import BUILD_DIR  # noqa: PLC0415
    from streams.model import load_model  # noqa: PLC0415

    path = BUILD_DIR / f"{ENCODER_PATH.stem}-dev-scores.npz"
    encoder_sha256 = hashlib.sha256(ENCODER_PATH.read_bytes()).hexdigest()
    key = texts_key(encoder_sha256, [e.text for e in dev])
    if path.exists():
        saved = np.load(path)
        if "key" in saved.files and str(saved["key"]) == key:
            return np.asarray(saved["int8"], dtype=np.float32)
    encoder = load_model(ENCODER_PATH, row_workers=os.cpu_count() or 1)
    scores = encoder.score_each([e.text for e in dev])
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(path, int8=scores, key=np.asarray(key))
    return scores


def calibrate_cascade(
    low: float, high: float, weight: float = WEIGHT, data_dir: Path | None = None
) -> dict[str, object]:
    """The cascade's operating points on the calibration dev rows, written into the encoder file."""
    import onnx  # noqa: PLC0415
    import orjson  # noqa: PLC0415

    from models.data import build_corpus  # noqa: PLC0415
    from models.encoder import ENCODER_PATH, calibration_rows  # noqa: PLC0415
    from models.export import FAST_PATH  # noqa: PLC0415
    from models.onnx_io import write_metadata  # noqa: PLC0415
    from streams.model import META_PREFIX, load_model  # noqa: PLC0415

    corpus = build_corpus(data_dir or Path(__file__).resolve().parents[2] / "shared" / "data")
    dev = calibration_rows([e for e in corpus.dev if e.dataset in corpus.datasets])
    fast_model = load_model(FAST_PATH)
    fast = fast_model.score([e.text[:1000] for e in dev])
    encoder = encoder_dev_scores(dev)
    entry = cascade_entry(
        fast_model.sha256, fast, encoder, dev, low, high, weight, corpus.fingerprint
    )
    proto = onnx.load(str(ENCODER_PATH))
    meta = {
        p.key.removeprefix(META_PREFIX): p.value
        for p in proto.metadata_props
        if p.key.startswith(META_PREFIX)
    }
    meta["cascade"] = orjson.dumps(entry).decode()
    write_metadata(ENCODER_PATH, meta)
    return entry


def main() -> None:  # pragma: no cover - a report for people
    from models.data import build_corpus  # noqa: PLC0415
    from models.encoder import ENCODER_PATH, calibration_rows  # noqa: PLC0415
    from models.export import FAST_PATH  # noqa: PLC0415
    from streams.model import load_model  # noqa: PLC0415

    corpus = build_corpus(Path(__file__).resolve().parents[2] / "shared" / "data")
    dev = calibration_rows([e for e in corpus.dev if e.dataset in corpus.datasets])
    fast_model = load_model(FAST_PATH)
    enc_model = load_model(ENCODER_PATH)
    fast = fast_model.score([e.text[:1000] for e in dev])
    encoder = encoder_dev_scores(dev)
    labels = fast_model.labels
    results = simulate(
        dev,
        fast,
        encoder,
        _points(fast_model.thresholds, fast_model.block_thresholds, labels),
        _points(enc_model.thresholds, enc_model.block_thresholds, labels),
    )
    print("| band | mean dev F1 | worst-language benign FPR | routed: general benign | all dev |")
    print("|---|---|---|---|---|")
    for r in results:
        band = "fast alone" if r.low >= 1.0 else f"[{r.low}, {r.high})"
        print(
            f"| {band} | {r.mean_f1:.3f} | {r.worst_fpr:.4f} | {r.routed_general:.3f} | "
            f"{r.routed_all:.3f} |"
        )


if __name__ == "__main__":  # pragma: no cover
    import sys

    if sys.argv[1:2] == ["calibrate"]:
        print(calibrate_cascade(float(sys.argv[2]), float(sys.argv[3])))
    else:
        main()
