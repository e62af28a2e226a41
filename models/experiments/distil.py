"""Distil the encoder tier into the fast tier and compare it with the shipped fast tier (issue 14).

Issue 14 asks for the fine-tuned encoder to be compared with distilling it into the fast tier
(teacher scores on all training text). The method and the shipped training path are in
:mod:`models.distil` and :func:`models.fast.train_soft` (``flagstream model train --teacher``);
this script trains students for several mixes of gold and teacher and measures each, on the same
rows and with the same rules as the shipped models:

* ``alpha`` A in [0, 1): targets ``A * gold + (1 - A) * teacher`` where the row's set annotates
  the label, the teacher's score elsewhere; ``1`` (``fill``): gold where known, the teacher
  elsewhere; ``< 0`` (``gold``): gold alone, unknown entries masked (the shipped recipe, with
  this solver, so that solver and targets are not confused);
* for each: mean dev PR-AUC over (set, label) pairs with both classes
  (:func:`models.finetune.mean_pr_auc`), overall and for en and zh; the cascade calibrated for
  that student (a copy of the shipped encoder carrying the student's cascade points); the card's
  targets (fast and cascade), the golden sets and the routed share, by
  :func:`models.evaluate.evaluate` without timings.

Figures go to ``models/build/experiments/distil/<out>`` (a rerun skips what is there); the
results are in docs/model.md. Experiment only: nothing imports it.

    python -m models.experiments.distil --alpha 0.5 --alpha 0.8 --alpha 1 [--out distil.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from models.export import BUILD_DIR

if TYPE_CHECKING:
    from models.data import Example

CACHE = BUILD_DIR / "experiments" / "distil"
ENCODER = Path(__file__).resolve().parents[1] / "encoder" / "flagstream-encoder.onnx"
DEFAULT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
Floats = npt.NDArray[np.float32]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def summary(report: Any) -> dict[str, Any]:
    """The card's targets as {target/system: value} plus the routed share."""
    out: dict[str, Any] = {}
    for t in report.targets:
        out[f"{t['target']} [{t['system']}]"] = t["value"]
    return out


def cascade_encoder(
    student_onnx: Path, dev_fast: Floats, tag: str, dev: list[Example], fingerprint: str
) -> Path:
    """A copy of the shipped encoder whose cascade points are calibrated for this student."""
    import orjson  # noqa: PLC0415

    from models.cascade import WEIGHT, cascade_entry  # noqa: PLC0415
    from models.encoder import ENCODER_PATH  # noqa: PLC0415
    from models.onnx_io import write_metadata  # noqa: PLC0415
    from streams.model import load_model  # noqa: PLC0415

    shipped = load_model(ENCODER)
    assert shipped.cascade is not None
    encoder_dev = np.load(BUILD_DIR / f"{ENCODER_PATH.stem}-dev-scores.npz")["int8"]
    entry = cascade_entry(
        load_model(student_onnx).sha256, dev_fast, encoder_dev, dev,
        float(shipped.cascade["low"]), float(shipped.cascade["high"]), WEIGHT,
        f"{fingerprint}, distil experiment", log=False,
    )  # fmt: skip
    out = CACHE / f"encoder-for-{tag}.onnx"
    shutil.copyfile(ENCODER, out)
    meta = dict(shipped.metadata)
    meta["cascade"] = orjson.dumps(entry).decode()
    write_metadata(out, meta)
    return out


def train_and_compare(
    data_dir: Path, alphas: Sequence[float], out_name: str = "distil.json"
) -> None:
    from models.data import build_corpus  # noqa: PLC0415
    from models.distil import soft_targets, teacher_scores  # noqa: PLC0415
    from models.encoder import calibration_rows  # noqa: PLC0415
    from models.evaluate import evaluate  # noqa: PLC0415
    from models.export import FAST_PATH, export_fast  # noqa: PLC0415
    from models.fast import design_matrix, train_soft  # noqa: PLC0415
    from models.finetune import mean_pr_auc  # noqa: PLC0415
    from models.train import (  # noqa: PLC0415
        C_PER_LABEL,
        FAST_CAPS,
        POSITIVE_WEIGHT,
        calibrate_artefact,
        cap_sets,
        label_matrix,
    )
    from streams.features import FeatureConfig  # noqa: PLC0415
    from streams.model import load_model  # noqa: PLC0415

    corpus = build_corpus(data_dir)
    train = cap_sets(corpus.train, FAST_CAPS, 0)
    texts = [e.text for e in train]
    gold = label_matrix(train)
    teach = teacher_scores(texts, ENCODER, log=log)
    log(f"{len(texts)} training texts, teacher scores loaded")
    config = FeatureConfig()
    x = design_matrix(texts, config)
    log(f"design matrix {x.shape}, {x.nnz} non-zeros")
    dev = [e for e in corpus.dev if e.dataset in corpus.datasets]
    dev_y = label_matrix(dev)
    dev_groups = np.array([e.dataset for e in dev])
    calib = calibration_rows(dev)
    results: dict[str, Any] = {}
    out_json = CACHE / out_name
    if out_json.exists():
        results = json.loads(out_json.read_text())
    # the teacher's agreement with gold, where gold is known (its own training rows included)
    known = gold >= 0
    agree = {
        lab: float(((teach[:, j] >= 0.5) == (gold[:, j] == 1))[known[:, j]].mean())
        for j, lab in enumerate(("spam", "scam", "toxic", "hate"))
    }
    log(f"teacher agreement with gold at 0.5 on training rows: {agree}")
    # alpha < 0: gold labels alone, unknown entries masked (the shipped recipe, this solver);
    # alpha 1: gold where known, the teacher's score where the set does not annotate the label
    runs: list[tuple[str, Any]] = [("shipped", None)]
    runs += [("gold" if a < 0 else ("fill" if a == 1.0 else f"alpha{a:g}"), a) for a in alphas]
    for tag, alpha in runs:
        if tag in results:
            log(f"{tag}: cached")
            continue
        started = time.perf_counter()
        if alpha is None:
            fast_path = FAST_PATH
        else:
            if alpha < 0:
                targets = np.clip(gold, 0, 1).astype(np.float64)
                mask = known.astype(np.float64)
            else:
                targets = soft_targets(gold, teach, alpha).astype(np.float64)
                mask = np.ones_like(targets)
            log(f"{tag}: fitting")
            model = train_soft(
                texts, targets.astype(np.float32), config, c=C_PER_LABEL,
                positive_weight=POSITIVE_WEIGHT, mask=mask > 0, x=x,
            )  # fmt: skip
            artefact = CACHE / f"student-{tag}.npz"
            calibrate_artefact(
                model, dev, corpus.fingerprint, list(corpus.datasets), artefact, log=False
            )
            fast_path = export_fast(artefact, CACHE / f"student-{tag}.onnx")
        fit_s = time.perf_counter() - started
        fast = load_model(fast_path)
        dev_scores = fast.score([e.text[:1000] for e in dev])
        row: dict[str, Any] = {"fit_seconds": fit_s, "alpha": alpha}
        row["dev_pr_auc"] = mean_pr_auc(dev_scores, dev_y, dev_groups)
        for lang in ("en", "zh"):
            rows = np.array([e.lang == lang for e in dev])
            row[f"dev_pr_auc_{lang}"] = mean_pr_auc(dev_scores[rows], dev_y[rows], dev_groups[rows])
        calib_fast = fast.score([e.text[:1000] for e in calib])
        enc = (
            FAST_PATH.parent.parent / "encoder" / "flagstream-encoder.onnx"
            if alpha is None
            else cascade_encoder(fast_path, calib_fast, tag, calib, corpus.fingerprint)
        )
        log(f"{tag}: card (fast and cascade)")
        report = evaluate(
            data_dir, fast, load_model(enc), corpus=corpus, baseline=False, latency=False,
            golden=True, encoder_dev_cap=0, log=log,
        )  # fmt: skip
        row["targets"] = summary(report)
        row["routed"] = report.routed
        results[tag] = row
        out_json.write_text(json.dumps(results, indent=1, default=str))
        log(f"{tag}: dev PR-AUC {row['dev_pr_auc']:.4f}, {time.perf_counter() - started:.0f} s")
    for tag, row in results.items():
        print(f"== {tag}: dev PR-AUC {row['dev_pr_auc']:.4f} en {row['dev_pr_auc_en']:.4f} "
              f"zh {row['dev_pr_auc_zh']:.4f}")  # fmt: skip
        for name, value in row["targets"].items():
            print(f"   {name}: {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--alpha", type=float, action="append")
    parser.add_argument("--out", default="distil.json", help="results file in the cache dir")
    args = parser.parse_args(argv)
    train_and_compare(args.data, args.alpha or [0.5], args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
