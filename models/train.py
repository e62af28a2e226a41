"""Train the fast model end to end: corpus -> linear model -> thresholds -> artefact."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.calibrate import (
    JOINT_REVIEW_FPR,
    OperatingPoint,
    flagged_share,
    operating_points,
    points_entry,
    script_operating_points,
)
from models.data import LABELS, Corpus, Example, build_corpus, hash_split, normalise
from models.distil import ALPHA, soft_targets, teacher_scores
from models.export import FAST_ARTEFACT, save_artefact
from models.fast import LinearModel, train_linear, train_soft
from streams.features import FeatureConfig

# Inverse regularisation and positive-class weight per label (spam, scam, toxic, hate), chosen
# on the dev splits (spam and scam are rare and lexically sharp: they want less regularisation).
# With word features, toxic: mean dev PR-AUC 0.865 / 0.869 / 0.870 at C = 2 / 4 / 8; hate:
# 0.629 / 0.631 / 0.630 (mean over the dev sets, OLID excluded).
C_PER_LABEL = (32.0, 16.0, 8.0, 4.0)
# Training rows per set for the fast model (others whole): 110k templated identity sentences
# would otherwise outweigh every real hate set together
FAST_CAPS: dict[str, int] = {"jigsaw_templates": 12000}
POSITIVE_WEIGHT = (2.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True, slots=True)
class TrainResult:
    model: LinearModel
    points: list[OperatingPoint]
    corpus: Corpus
    seconds: float


def sample_examples(examples: list[Example], fraction: float) -> list[Example]:
    """A deterministic subset (by text hash) for smoke runs."""
    return [
        e
        for e in examples
        if hash_split(normalise(e.text) + "#sample", dev=0, test=fraction) == "test"
    ]


def cap_sets(
    examples: list[Example], caps: dict[str, int], seed: int, default: int | None = None
) -> list[Example]:
    """At most ``caps[name]`` (else ``default``, else all) rows per set: a seeded sample."""
    rng = np.random.default_rng(seed)
    out: list[Example] = []
    for name in sorted({e.dataset for e in examples}):
        rows = [e for e in examples if e.dataset == name]
        cap = caps.get(name, default)
        if cap is not None and len(rows) > cap:
            keep = np.sort(rng.permutation(len(rows))[:cap])
            rows = [rows[int(i)] for i in keep]
        out.extend(rows)
    return out


def label_matrix(examples: list[Example]) -> np.ndarray:
    return np.array([e.labels for e in examples], dtype=np.int8).reshape(len(examples), len(LABELS))


def train_fast(
    data_dir: Path,
    *,
    seed: int = 0,
    sample: float | None = None,
    train_sets: tuple[str, ...] | None = None,
    config: FeatureConfig | None = None,
    artefact: Path = FAST_ARTEFACT,
    teacher: Path | None = None,
    alpha: float = ALPHA,
    log: bool = True,
) -> TrainResult:
    """Train, calibrate on dev and save the artefact that ``export`` turns into ONNX.

    With ``teacher`` (an encoder tier's ONNX file) the model is distilled from it: its targets
    mix each known gold label with the teacher's score (``alpha`` on gold) and take the teacher's
    score where the row's set does not annotate the label (:mod:`models.distil`).
    """
    start = time.perf_counter()
    np.random.seed(seed)
    corpus = build_corpus(data_dir, train_sets=train_sets)
    train = cap_sets(corpus.train, FAST_CAPS, seed)
    train = train if sample is None else sample_examples(train, sample)
    dev = [e for e in corpus.dev if e.dataset in corpus.datasets]
    if sample is not None:
        dev = sample_examples(dev, sample)
    if log:
        print(
            f"corpus {corpus.fingerprint}: {len(train)} training texts from "
            f"{', '.join(corpus.datasets)}; {corpus.dropped_for_leak} dropped as copies of "
            f"held-out texts; {len(dev)} dev texts",
            flush=True,
        )
    config = config or FeatureConfig()
    texts = [e.text for e in train]
    if teacher is None:
        model = train_linear(
            texts,
            label_matrix(train),
            config,
            c=C_PER_LABEL,
            positive_weight=POSITIVE_WEIGHT,
            seed=seed,
            log=log,
        )
    else:
        scores = teacher_scores(texts, teacher, log=print if log else None)
        model = train_soft(
            texts,
            soft_targets(label_matrix(train), scores, alpha),
            config,
            c=C_PER_LABEL,
            positive_weight=POSITIVE_WEIGHT,
            log=log,
        )
    fingerprint = corpus.fingerprint if sample is None else f"{corpus.fingerprint}-sample{sample}"
    distilled = None
    if teacher is not None:
        from streams.model import load_model  # noqa: PLC0415

        distilled = f"{teacher.name} sha256 {load_model(teacher).sha256[:16]}, alpha {alpha}"
    points = calibrate_artefact(
        model, dev, fingerprint, list(corpus.datasets), artefact, log=log, distilled=distilled
    )
    return TrainResult(model, points, corpus, time.perf_counter() - start)


def calibrate_artefact(
    model: LinearModel,
    dev: list[Example],
    fingerprint: str,
    datasets: list[str],
    artefact: Path = FAST_ARTEFACT,
    *,
    log: bool = True,
    distilled: str | None = None,
) -> list[OperatingPoint]:
    """Score ``dev``, choose the operating points (and each script group's), save the artefact."""
    dev_scores = model.predict([e.text for e in dev])
    points = dev_operating_points(dev_scores, dev, log=log)
    save_artefact(
        model,
        {p.label: p.review.threshold for p in points},
        fingerprint,
        datasets,
        artefact,
        block={p.label: p.block.threshold for p in points},
        script_points=dev_script_points(dev_scores, dev, points, log=log),
        distilled=distilled,
    )
    return points


def recalibrate_fast(data_dir: Path, artefact: Path = FAST_ARTEFACT, *, log: bool = True) -> None:
    """Re-choose a trained fast model's operating points on today's rules, without retraining."""
    from models.export import load_artefact  # noqa: PLC0415

    model, meta = load_artefact(artefact)
    corpus = build_corpus(data_dir)
    if str(meta["data_fingerprint"]) != corpus.fingerprint:
        raise RuntimeError(
            f"{artefact} was trained on corpus {meta['data_fingerprint']}, the data is now "
            f"{corpus.fingerprint}: retrain (`flagstream model train`) instead"
        )
    dev = [e for e in corpus.dev if e.dataset in corpus.datasets]
    distilled = meta.get("distilled_from")
    calibrate_artefact(
        model, dev, corpus.fingerprint, list(corpus.datasets), artefact, log=log,
        distilled=str(distilled) if distilled else None,
    )  # fmt: skip


def dev_operating_points(
    dev_scores: np.ndarray, dev: list[Example], *, log: bool = True
) -> list[OperatingPoint]:
    """Review and block thresholds on the dev rows (see :mod:`models.calibrate`), printed."""
    general = np.array([e.general_benign for e in dev], dtype=bool)
    langs = np.array([e.lang for e in dev])
    points = operating_points(
        dev_scores,
        label_matrix(dev),
        LABELS,
        np.array([e.dataset for e in dev]),
        general,
        langs,
        joint_review_fpr=JOINT_REVIEW_FPR,
    )
    if log:
        for p in points:
            for kind, t in (("review", p.review), ("block", p.block)):
                flag = "" if t.reached else f"  (precision target {t.target:.2f} NOT reached)"
                print(
                    f"  {kind} {t.label}: {t.threshold:.3f} dev precision {t.precision:.3f} "
                    f"recall {t.recall:.3f} worst-language benign FPR {t.benign_fpr:.4f}{flag}"
                )
        for kind in ("review", "block"):
            cut = np.array([getattr(p, kind).threshold for p in points], dtype=np.float32)
            share = flagged_share(dev_scores[general], cut, langs[general])
            print(f"  {kind}: general benign dev flagged per language {share}")
    return points


def dev_script_points(
    dev_scores: np.ndarray,
    dev: list[Example],
    points: list[OperatingPoint],
    *,
    log: bool = True,
) -> dict[str, dict[str, dict[str, float]]]:
    """Each script group's own points on its dev rows (see :mod:`streams.calibration`), printed."""
    from streams.language import script_group  # noqa: PLC0415

    general = np.array([e.general_benign for e in dev], dtype=bool)
    langs = np.array([e.lang for e in dev])
    scripts = np.array([script_group(e.text) for e in dev])
    chosen = script_operating_points(
        dev_scores,
        label_matrix(dev),
        LABELS,
        np.array([e.dataset for e in dev]),
        general,
        langs,
        scripts,
        points,
    )
    if log:
        for group, pts in chosen.items():
            rows = scripts == group
            for p in pts:
                print(
                    f"  {group} {p.label}: review {p.review.threshold:.3f} (precision "
                    f"{p.review.precision:.3f} recall {p.review.recall:.3f}), block "
                    f"{p.block.threshold:.3f} (precision {p.block.precision:.3f})"
                )
            for kind in ("review", "block"):
                cut = np.array([getattr(p, kind).threshold for p in pts], dtype=np.float32)
                share = flagged_share(dev_scores[rows & general], cut, langs[rows & general])
                print(f"  {group} {kind}: general benign dev flagged per language {share}")
    return {group: points_entry(pts) for group, pts in chosen.items()}
