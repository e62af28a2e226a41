"""Measure the shipped tiers on every dev and test split; the numbers behind ``models/CARD.md``.

Everything here runs the exported ONNX files through :mod:`streams.model` and
:mod:`streams.classify` - the code the service runs - never training-time objects:

* **fast**: :meth:`TextModel.score` on every row;
* **cascade**: :meth:`Classifier.classify`, which re-scores exactly the rows the service would
  send to the encoder (fast score in the band) one row per run. The encoder's scores are a pure
  function of the text, so each distinct text is classified once and the result broadcast to
  its duplicates; the governor is given a fresh window per batch, so evaluation never degrades
  (quality is measured without a capacity limit; latency is measured separately);
* **encoder** alone: :meth:`TextModel.score_each` on a capped per-set sample of dev rows
  (a few ms per text: the full dev split would take longer than everything else together).

The benchmarks' test splits (OLID test, TweetEval hate test, COLD dev, GermEval test, ...) and
the hash-held-back slices were neither trained nor tuned on; thresholds come from dev.
Latency is measured last, pinned to one core, with one onnxruntime thread per model.
"""

from __future__ import annotations

import hashlib
import os
import random
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.metrics import average_precision_score

from models.data import DATASETS, LABELS, Corpus, Example, build_corpus
from models.golden import GoldenText, load_golden, score_golden
from streams.classify import DEGRADED, FAST, Classifier, EncoderGovernor
from streams.features import FeatureConfig, featurize
from streams.model import TextModel, load_model
from streams.settings import CASCADE_HIGH, CASCADE_LOW

OFFENSIVE = ("toxic", "hate")  # a text is "offensive" when either label is flagged
POINTS = ("review", "block")
# streams.classify.Classifier's block point for a label whose model file names none
DEFAULT_BLOCK = 0.99
ENCODER_DEV_CAP = 500  # dev rows per set scored by the encoder alone
MAX_TEXT_CHARS = 1000  # as the worker clips texts (Settings.max_text_chars)
MODEL_FILES_DIRS = ("fast", "encoder", "accurate")  # where shipped model files live
REPO_DIR = Path(__file__).resolve().parent.parent
SYSTEM_ORDER = {"fast": 0, "cascade": 1, "encoder": 2}
_J = {label: j for j, label in enumerate(LABELS)}

Array = npt.NDArray[np.float32]
Flags = npt.NDArray[np.bool_]


# --- metrics ------------------------------------------------------------------------------


def prf(y: Flags, pred: Flags) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``pred`` against ``y`` (0 where undefined)."""
    tp = float((y & pred).sum())
    p = tp / max(float(pred.sum()), 1.0)
    r = tp / max(float(y.sum()), 1.0)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def macro_f1(y: Flags, pred: Flags) -> float:
    """Mean of the positive and the negative class's F1."""
    return (prf(y, pred)[2] + prf(~y, ~pred)[2]) / 2


def pr_auc(y: Flags, score: npt.NDArray[np.floating[Any]]) -> float:
    return float(average_precision_score(y, score)) if y.any() and not y.all() else float("nan")


def block_points(model: TextModel) -> dict[str, float]:
    """The model's block thresholds, with the classifier's default where it names none."""
    return {
        k: max(model.block_thresholds.get(k, DEFAULT_BLOCK), model.thresholds[k])
        for k in model.labels
    }


@dataclass(slots=True)
class Scored:
    """Scores of one system on a list of rows, its two operating points and who decided."""

    name: str
    scores: Array
    review: dict[str, float]
    block: dict[str, float]
    decided_by: npt.NDArray[np.uint8] | None = None

    def cut(self, point: str = "review") -> Array:
        points = self.review if point == "review" else self.block
        return np.array([points[k] for k in LABELS], dtype=np.float32)

    def flags(self, point: str = "review") -> Flags:
        return np.asarray(self.scores >= self.cut(point)[None, :], dtype=bool)

    def offensive(self, point: str = "review") -> Flags:
        f = self.flags(point)
        return np.asarray(f[:, _J["toxic"]] | f[:, _J["hate"]], dtype=bool)

    def take(self, rows: Sequence[int] | npt.NDArray[np.intp]) -> Scored:
        idx = np.asarray(rows, dtype=np.intp)
        decided = self.decided_by[idx] if self.decided_by is not None else None
        return Scored(self.name, self.scores[idx], self.review, self.block, decided)


@dataclass(slots=True)
class Report:
    """Everything the card shows; plain data (lists of dicts) so it can be saved and compared."""

    run: dict[str, Any] = field(default_factory=dict)
    models: list[dict[str, Any]] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)
    corpus: dict[str, Any] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    per_label: list[dict[str, Any]] = field(default_factory=list)
    benign_fpr: list[dict[str, Any]] = field(default_factory=list)
    routed: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    golden: list[dict[str, Any]] = field(default_factory=list)
    baseline: list[dict[str, Any]] = field(default_factory=list)
    confusions: list[dict[str, Any]] = field(default_factory=list)
    model_files: list[dict[str, Any]] = field(default_factory=list)
    research: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


# --- row selection ------------------------------------------------------------------------


def _text_rank(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()


def cap_per_set(examples: Sequence[Example], cap: int | None) -> list[Example]:
    """At most ``cap`` rows of each set, chosen by text hash (stable whatever else changes)."""
    if cap is None:
        return list(examples)
    by_set: dict[str, list[Example]] = {}
    for e in examples:
        by_set.setdefault(e.dataset, []).append(e)
    keep: set[int] = set()
    for rows in by_set.values():
        chosen = sorted(rows, key=lambda e: _text_rank(e.text))[:cap] if len(rows) > cap else rows
        keep.update(id(e) for e in chosen)
    return [e for e in examples if id(e) in keep]


def label_matrix(examples: Sequence[Example]) -> npt.NDArray[np.int8]:
    return np.array([e.labels for e in examples], dtype=np.int8).reshape(-1, len(LABELS))


# --- scoring ------------------------------------------------------------------------------


def _clip(texts: Sequence[str]) -> list[str]:
    return [t[:MAX_TEXT_CHARS] for t in texts]


def classify_once(
    classifier: Classifier, texts: Sequence[str]
) -> tuple[Array, npt.NDArray[np.uint8]]:
    """``classifier.classify`` on one batch with no capacity limit (a fresh governor window)."""
    if classifier.accurate is not None:
        classifier.governor = EncoderGovernor(1.0)
    out = classifier.classify(texts)
    if out.degraded or (out.decided_by == DEGRADED).any():
        raise RuntimeError("the cascade degraded during evaluation; quality figures would lie")
    return out.scores, out.decided_by


def cascade_scores(
    classifier: Classifier,
    texts: Sequence[str],
    batch: int = 256,
    log: Callable[[str], None] | None = None,
    every_s: float = 120.0,
) -> tuple[Array, npt.NDArray[np.uint8]]:
    """Cascade scores and ``decided_by`` for every text, each distinct text classified once.

    ``log`` gets a progress line every ``every_s`` seconds (a full run encodes for an hour).
    """
    clipped = _clip(texts)
    unique = list(dict.fromkeys(clipped))
    scores = np.zeros((len(unique), len(LABELS)), dtype=np.float32)
    decided = np.zeros(len(unique), dtype=np.uint8)
    start = last = time.perf_counter()
    for i in range(0, len(unique), batch):
        s, d = classify_once(classifier, unique[i : i + batch])
        scores[i : i + batch], decided[i : i + batch] = s, d
        now = time.perf_counter()
        if log is not None and now - last > every_s:
            last = now
            done = min(i + batch, len(unique))
            routed = int((decided[:done] != FAST).sum())
            eta = (now - start) / done * (len(unique) - done)
            log(
                f"  cascade: {done}/{len(unique)} distinct texts, {routed} routed, "
                f"{(now - start) / 60:.1f} min, ~{eta / 60:.0f} min to go"
            )
    index = {t: i for i, t in enumerate(unique)}
    rows = np.fromiter((index[t] for t in clipped), dtype=np.intp, count=len(clipped))
    return scores[rows], decided[rows]


def encoder_scores(encoder: TextModel, texts: Sequence[str]) -> Array:
    """The encoder alone, row by row as the cascade runs it; each distinct text once."""
    clipped = _clip(texts)
    unique = list(dict.fromkeys(clipped))
    scores = encoder.score_each(unique) if unique else np.zeros((0, len(LABELS)), np.float32)
    index = {t: i for i, t in enumerate(unique)}
    return scores[[index[t] for t in clipped]]


def score_texts(
    texts: Sequence[str],
    fast: TextModel,
    classifier: Classifier | None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Scored]:
    """fast, and cascade when an encoder is configured, on ``texts``.

    Each system is what the service computes and judged at the points the service applies: the
    fast tier alone (a :class:`Classifier` without an encoder: its own points, each script
    group's mapped onto them) and the cascade (blended scores, the cascade's own points).
    """
    alone = Classifier(fast)
    clipped = _clip(texts)
    fast_scores = np.zeros((len(clipped), len(LABELS)), dtype=np.float32)
    for i in range(0, len(clipped), 1024):
        fast_scores[i : i + 1024] = alone.classify(clipped[i : i + 1024]).scores
    systems = {"fast": Scored("fast", fast_scores, *_system_points(alone))}
    if classifier is not None and classifier.accurate is not None:
        scores, decided = cascade_scores(classifier, texts, log=log)
        systems["cascade"] = Scored(
            "cascade", scores, *_system_points(classifier), decided_by=decided
        )
    return systems


def _system_points(classifier: Classifier) -> tuple[dict[str, float], dict[str, float]]:
    """The review and block points a classifier's scores are judged at (as the service does)."""
    review = dict(classifier.thresholds)
    block = {k: max(classifier.block_thresholds.get(k, DEFAULT_BLOCK), review[k]) for k in review}
    return review, block


def score_systems(
    examples: Sequence[Example],
    fast: TextModel,
    classifier: Classifier | None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Scored]:
    return score_texts([e.text for e in examples], fast, classifier, log)


# --- tables -------------------------------------------------------------------------------


def _groups(examples: Sequence[Example]) -> dict[tuple[str, str], npt.NDArray[np.intp]]:
    """Row indices per (language, set), and per (language, "all")."""
    out: dict[tuple[str, str], list[int]] = {}
    for i, e in enumerate(examples):
        out.setdefault((e.lang, e.dataset), []).append(i)
        out.setdefault((e.lang, "all"), []).append(i)
    return {k: np.array(v, dtype=np.intp) for k, v in out.items()}


def per_label_table(
    examples: Sequence[Example], scored: Scored, split: str
) -> list[dict[str, Any]]:
    """P/R/F1 at the review point and PR-AUC per (language, set, label) with both classes.

    ``dataset`` "all" pools a language's sets (dominated by its biggest sets).
    """
    labels = label_matrix(examples)
    flags = scored.flags("review")
    out = []
    for (lang, dataset), idx in sorted(_groups(examples).items()):
        for j, label in enumerate(LABELS):
            known = idx[labels[idx, j] >= 0]
            y = labels[known, j] == 1
            if len(known) == 0 or not y.any() or y.all():
                continue
            p, r, f1 = prf(y, flags[known, j])
            out.append(
                {
                    "system": scored.name,
                    "split": split,
                    "lang": lang,
                    "dataset": dataset,
                    "label": label,
                    "n": len(known),
                    "positives": int(y.sum()),
                    "precision": p,
                    "recall": r,
                    "f1": f1,
                    "pr_auc": pr_auc(y, scored.scores[known, j]),
                }
            )
    return out


def _flag_row(scored: Scored, rows: npt.NDArray[np.intp], point: str) -> dict[str, Any]:
    flags = scored.flags(point)[rows]
    return {
        "n": len(rows),
        "flagged": int(flags.any(axis=1).sum()),
        "fpr": float(flags.any(axis=1).mean()) if len(rows) else float("nan"),
        "by_label": {k: int(flags[:, j].sum()) for j, k in enumerate(LABELS)},
    }


def benign_table(
    examples: Sequence[Example],
    systems: dict[str, Scored],
    extra: dict[str, Flags] | None = None,
) -> list[dict[str, Any]]:
    """Share of benign rows flagged for any label, at each operating point.

    ``kind`` "general": everyday text (:attr:`Example.general_benign`) per language - the
    population the review and block bounds are stated on. ``kind`` "hard": benign rows written
    to sit next to harm (``domain`` hard) per (set, language) - not everyday text. ``extra``
    adds systems given as one flag per row (alt-profanity-check at its own cut).
    """
    general: dict[str, list[int]] = {}
    hard: dict[tuple[str, str], list[int]] = {}
    for i, e in enumerate(examples):
        if e.general_benign:
            general.setdefault(e.lang, []).append(i)
        elif e.domain == "hard" and e.benign:
            hard.setdefault((e.dataset, e.lang), []).append(i)
    groups: list[tuple[str, str, str, npt.NDArray[np.intp]]] = [
        ("general", lang, "general-domain sets", np.array(rows, dtype=np.intp))
        for lang, rows in sorted(general.items())
    ]
    groups += [
        ("hard", lang, dataset, np.array(rows, dtype=np.intp))
        for (dataset, lang), rows in sorted(hard.items())
    ]
    out: list[dict[str, Any]] = []
    for kind, lang, dataset, rows in groups:
        base = {"kind": kind, "lang": lang, "dataset": dataset}
        for name, s in systems.items():
            out.extend(
                {"system": name, "point": point, **base, **_flag_row(s, rows, point)}
                for point in POINTS
            )
        for name, flagged in (extra or {}).items():
            if lang != "en":
                continue
            hit = flagged[rows]
            out.append(
                {
                    "system": name,
                    "point": "own 0.5 cut",
                    **base,
                    "n": len(rows),
                    "flagged": int(hit.sum()),
                    "fpr": float(hit.mean()) if len(rows) else float("nan"),
                    "by_label": {},
                }
            )
    return out


def routed_table(
    examples: Sequence[Example], decided_by: npt.NDArray[np.uint8], split: str
) -> list[dict[str, Any]]:
    """Share of rows sent to the encoder, overall and per language, on all and benign rows."""
    routed = decided_by != FAST
    out = []
    for population, keep in (
        ("all rows", np.ones(len(examples), dtype=bool)),
        ("general-domain benign", np.array([e.general_benign for e in examples], dtype=bool)),
    ):
        langs = np.array([e.lang for e in examples])
        for lang in ["all", *sorted(set(langs[keep].tolist()))]:
            rows = keep if lang == "all" else keep & (langs == lang)
            n = int(rows.sum())
            if n:
                out.append(
                    {
                        "split": split,
                        "population": population,
                        "lang": lang,
                        "n": n,
                        "routed": int(routed[rows].sum()),
                        "share": float(routed[rows].mean()),
                    }
                )
    return out


def confusion_table(test: Sequence[Example], systems: dict[str, Scored]) -> list[dict[str, Any]]:
    """Positives caught under their own label vs only under the sibling label (test).

    scam and spam are exclusive, as are hate and toxic: a UCI spam text flagged ``scam`` alone
    counts as missed spam, a hateful text flagged ``toxic`` alone as missed hate.
    """
    sibling = {"spam": "scam", "scam": "spam", "hate": "toxic"}
    labels = label_matrix(test)
    sets = np.array([e.dataset for e in test])
    out = []
    for name, s in systems.items():
        flags = s.flags("review")
        for dataset in DATASETS:
            in_set = sets == dataset
            for label, other in sibling.items():
                pos = in_set & (labels[:, _J[label]] == 1)
                if not pos.any():
                    continue
                own = flags[pos, _J[label]]
                out.append(
                    {
                        "system": name,
                        "dataset": dataset,
                        "label": label,
                        "sibling": other,
                        "positives": int(pos.sum()),
                        "caught": int(own.sum()),
                        "sibling_only": int((~own & flags[pos, _J[other]]).sum()),
                    }
                )
    return out


# --- golden sets --------------------------------------------------------------------------


def flagged_sets(flags: Flags) -> list[set[str]]:
    return [{LABELS[j] for j in np.flatnonzero(row)} for row in flags]


def golden_table(
    texts: Sequence[GoldenText], flagged: dict[str, list[set[str]]]
) -> list[dict[str, Any]]:
    """Per system and (language, group): how many texts were right (models.golden's rule)."""
    return [
        {
            "system": system,
            "lang": g.lang,
            "group": g.group,
            "total": g.total,
            "right": g.right,
            "clean": g.clean,
            "share": g.share,
            "missed": list(g.missed),
        }
        for system, got in flagged.items()
        for g in score_golden(texts, got).rows()
    ]


def golden_flags(
    texts: Sequence[GoldenText], fast: TextModel, classifier: Classifier | None
) -> dict[str, list[set[str]]]:
    """Labels each system flags (review point) on every golden text."""
    systems = score_texts([t.text for t in texts], fast, classifier)
    return {name: flagged_sets(s.flags("review")) for name, s in systems.items()}


# --- alt-profanity-check ------------------------------------------------------------------


def profanity_probs(texts: Sequence[str]) -> Array:
    from profanity_check import predict_prob  # noqa: PLC0415 - evaluation-only dependency

    return (
        np.asarray(predict_prob(list(texts)), dtype=np.float32)
        if texts
        else np.zeros(0, np.float32)
    )


def baseline_table(
    test: Sequence[Example], systems: dict[str, Scored], probs: Array
) -> list[dict[str, Any]]:
    """alt-profanity-check at its own 0.5 cut vs ours on every English toxic/hate test set.

    For gold ``toxic`` ours is the offensive decision (toxic or hate flagged), for ``hate`` the
    hate flag; ``probs`` is alt-profanity-check's probability per test row (NaN if not English).
    """
    labels = label_matrix(test)
    out = []
    for dataset in DATASETS:
        rows_all = np.array(
            [i for i, e in enumerate(test) if e.dataset == dataset and e.lang == "en"],
            dtype=np.intp,
        )
        if not len(rows_all):
            continue
        for label in OFFENSIVE:
            j = _J[label]
            rows = rows_all[labels[rows_all, j] >= 0]
            y = labels[rows, j] == 1
            if not len(rows) or not y.any() or y.all():
                continue
            candidates: list[tuple[str, Flags, npt.NDArray[np.floating[Any]]]] = [
                ("alt-profanity-check", probs[rows] >= 0.5, probs[rows])
            ]
            for name, s in systems.items():
                if label == "toxic":
                    pred = s.offensive()[rows]
                    score = s.scores[rows][:, [_J["toxic"], _J["hate"]]].max(axis=1)
                else:
                    pred, score = s.flags()[rows, j], s.scores[rows, j]
                candidates.append((name, pred, score))
            for name, pred, score in candidates:
                p, r, f1 = prf(y, pred)
                out.append(
                    {
                        "dataset": dataset,
                        "label": label,
                        "system": name,
                        "n": len(rows),
                        "positives": int(y.sum()),
                        "precision": p,
                        "recall": r,
                        "f1": f1,
                        "macro_f1": macro_f1(y, pred),
                        "pr_auc": pr_auc(y, score),
                    }
                )
    return out


def golden_profanity(texts: Sequence[GoldenText]) -> list[set[str]]:
    """alt-profanity-check on the English golden texts, its flag read as ``toxic``."""
    probs = profanity_probs([t.text for t in texts])
    return [{"toxic"} if p >= 0.5 else set() for p in probs]


# --- targets ------------------------------------------------------------------------------


def judge(value: float | None, goal: float, op: str) -> bool | None:
    """Whether ``value`` meets ``goal`` (``op`` ">=" or "<="); None when not measured."""
    if value is None or np.isnan(value):  # not measurable
        return None
    return value >= goal if op == ">=" else value <= goal


def shortfall(target: dict[str, Any]) -> float | None:
    """How far a target is from its goal: positive = missed by that much, negative = spare."""
    value = target.get("value")
    if value is None or np.isnan(value):
        return None
    goal = float(target["goal"])
    return goal - float(value) if target["op"] == ">=" else float(value) - goal


def _target(
    name: str, metric: str, system: str, value: float | None, goal: float, op: str, n: int,
    unit: str = "",
) -> dict[str, Any]:  # fmt: skip
    return {
        "target": name,
        "metric": metric,
        "system": system,
        "value": value,
        "goal": goal,
        "op": op,
        "unit": unit,
        "n": n,
        "met": judge(value, goal, op),
    }


def _column(examples: Sequence[Example], rows: npt.NDArray[np.intp], label: str) -> Flags:
    j = _J[label]
    return np.array([examples[int(i)].labels[j] == 1 for i in rows], dtype=bool)


def _known(examples: Sequence[Example], dataset: str, label: str) -> npt.NDArray[np.intp]:
    j = _J[label]
    return np.array(
        [i for i, e in enumerate(examples) if e.dataset == dataset and e.labels[j] >= 0],
        dtype=np.intp,
    )


# (target, metric, set, gold label, how ours decides, statistic, goal)
BENCHMARKS: tuple[tuple[str, str, str, str, str, str, float], ...] = (
    ("OLID test", "macro-F1, offensive = toxic or hate", "olid", "toxic", "offensive", "macro_f1", 0.75),
    ("TweetEval hate test", "macro-F1 (hate)", "tweeteval_hate", "hate", "hate", "macro_f1", 0.62),
    ("COLD dev (our cold test)", "accuracy, offensive = toxic or hate", "cold", "toxic", "offensive", "accuracy", 0.88),
    ("UCI SMS spam test", "F1, spam = spam or scam", "sms", "spam", "unwanted", "f1", 0.95),
    ("YouTube spam test", "F1, spam = spam or scam", "youtube_spam", "spam", "unwanted", "f1", 0.95),
    ("Mendeley smishing test", "F1 (scam label)", "mendeley_smish", "scam", "scam", "f1", 0.93),
)  # fmt: skip


def statistic(stat: str, y: Flags, pred: Flags) -> float:
    """``macro_f1``, ``accuracy`` or ``f1`` (of the positive class) of ``pred`` against ``y``."""
    if stat == "macro_f1":
        return macro_f1(y, pred)
    if stat == "accuracy":
        return float((y == pred).mean())
    if stat == "f1":
        return prf(y, pred)[2]
    raise ValueError(f"unknown statistic {stat!r}")


def benchmark_targets(test: Sequence[Example], systems: dict[str, Scored]) -> list[dict[str, Any]]:
    """The issue's benchmark targets on the test splits, with today's label semantics.

    Rows where the gold label is unknown are left out (a hate positive has toxic unknown).
    UCI's and YouTube's *spam* class is every unwanted message, fraud included, where our labels
    split it into ``spam`` (promotion) and ``scam`` (fraud), exclusive of each other: a text of
    that class is caught when either is flagged (``unwanted``); a prize-claim SMS flagged
    ``scam`` is right, not a missed spam.
    """
    out = []
    for name, metric, dataset, gold, ours, stat, goal in BENCHMARKS:
        rows = _known(test, dataset, gold)
        for system, s in systems.items():
            if not len(rows):
                out.append(_target(name, metric, system, None, goal, ">=", 0))
                continue
            y = _column(test, rows, gold)
            if ours == "offensive":
                pred = s.offensive()[rows]
            elif ours == "unwanted":
                flags = s.flags()[rows]
                pred = np.asarray(flags[:, _J["spam"]] | flags[:, _J["scam"]], dtype=bool)
            else:
                pred = s.flags()[rows, _J[ours]]
            value = statistic(stat, y, pred)
            out.append(_target(name, metric, system, value, goal, ">=", len(rows)))
    return out


REVIEW_FPR_GOAL = 0.01
BLOCK_FPR_GOAL = 0.002
GOLDEN_GOAL = 0.90
GOLDEN_SCAM_GOAL = 0.80
FAST_US_GOAL = 20.0
ENCODER_MS_GOAL = 4.0
MODEL_MB_GOAL = 60.0


def fpr_targets(benign: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Benign FPR per language on general-domain test text, at review and at block."""
    out = []
    rows = sorted(
        (r for r in benign if r["kind"] == "general" and r["point"] in POINTS),
        key=lambda r: (r["lang"], POINTS.index(r["point"]), SYSTEM_ORDER.get(r["system"], 9)),
    )
    for r in rows:
        goal = REVIEW_FPR_GOAL if r["point"] == "review" else BLOCK_FPR_GOAL
        out.append(
            _target(
                f"benign FPR {r['lang']} at {r['point']}",
                "everyday test text flagged (any label)",
                r["system"],
                r["fpr"],
                goal,
                "<=",
                r["n"],
            )
        )
    return out


def golden_targets(golden: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Golden insult + hard benign per language (en, zh) >= 90%; zh scam >= 80% flagged scam."""
    systems = sorted(
        {r["system"] for r in golden if r["system"] in ("fast", "cascade")},
        key=lambda s: SYSTEM_ORDER[s],
    )
    wanted = [
        ("golden insult + hard benign (en)", "en", ("insult", "hard_benign"), GOLDEN_GOAL),
        ("golden insult + hard benign (zh)", "zh", ("insult", "hard_benign"), GOLDEN_GOAL),
        ("golden Chinese scam", "zh", ("scam",), GOLDEN_SCAM_GOAL),
    ]
    out = []
    for name, lang, groups, goal in wanted:
        metric = (
            "share flagged scam"
            if groups == ("scam",)
            else "share right (insults flagged toxic, hard benign not flagged)"
        )
        for system in systems:
            chosen = [
                r
                for r in golden
                if r["system"] == system and r["lang"] == lang and r["group"] in groups
            ]
            total = sum(r["total"] for r in chosen)
            value = sum(r["right"] for r in chosen) / total if total else None
            out.append(_target(name, metric, system, value, goal, ">=", total))
    return out


def _cost_us(row: dict[str, Any] | None) -> float | None:
    """A tier's cost per event: CPU time on one core (wall time for reports without it)."""
    if row is None:
        return None
    return float(row.get("cpu_us", row["median_us"]))


def capacity_targets(
    latency: list[dict[str, Any]], files: list[dict[str, Any]], encoder: bool
) -> list[dict[str, Any]]:
    """Fast tier µs/event, encoder ms/event (CPU time, one thread), model files in MB."""
    by_key = {r["key"]: r for r in latency}
    fast = _cost_us(by_key.get("fast"))
    enc = _cost_us(by_key.get("encoder"))
    out = [
        _target(
            "fast tier latency",
            "µs/event, batch 256, one thread (CPU time, median pass)",
            "fast",
            fast,
            FAST_US_GOAL,
            "<=",
            by_key["fast"]["events"] if "fast" in by_key else 0,
            "µs",
        )
    ]
    if encoder:
        out.append(
            _target(
                "encoder tier latency",
                "ms/event, batch 32, one thread, row at a time (CPU time, median pass)",
                "encoder",
                enc / 1000 if enc is not None else None,
                ENCODER_MS_GOAL,
                "<=",
                by_key["encoder"]["events"] if "encoder" in by_key else 0,
                "ms",
            )
        )
    total = sum(f["bytes"] for f in files)
    out.append(
        _target(
            "model files",
            "MB in total (shipped model files, see Models)",
            "all",
            total / 1e6 if files else None,
            MODEL_MB_GOAL,
            "<=",
            len(files),
            "MB",
        )
    )
    return out


# --- latency ------------------------------------------------------------------------------


@contextmanager
def one_core() -> Iterator[None]:
    """Pin this process to one core for the duration (where the OS allows it)."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def time_per_event(
    fn: Callable[[Sequence[str]], object], texts: Sequence[str], batch: int, repeats: int = 5
) -> dict[str, float]:
    """µs per event amortised over batches, over ``repeats`` passes after a warm-up batch.

    ``median_us`` / ``best_us`` are wall time; ``cpu_us`` is the median pass's CPU time of this
    process per event - what the work costs on one core, which a busy neighbour on a shared
    machine inflates far less than wall time. The 1-minute load average is recorded too.
    """
    fn(texts[:batch])  # warm up
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(texts), batch):
            fn(texts[i : i + batch])
        walls.append((time.perf_counter() - start) / len(texts) * 1e6)
        cpus.append((time.process_time() - cpu) / len(texts) * 1e6)
    return {
        "median_us": statistics.median(walls),
        "best_us": min(walls),
        "cpu_us": statistics.median(cpus),
        "repeats": repeats,
        "load_avg": os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"),
    }


def latency_sample(examples: Sequence[Example], n: int = 2560, seed: int = 0) -> list[str]:
    """A fixed, language-mixed sample of texts (as they would arrive, up to 1000 chars)."""
    rng = random.Random(seed)
    texts = _clip([e.text for e in examples])
    return rng.sample(texts, min(n, len(texts)))


def traffic_mix(
    test: Sequence[Example], n: int = 2048, harmful: float = 0.05, seed: int = 0
) -> list[str]:
    """Everyday traffic: general-domain benign test texts with ``harmful`` harm positives."""
    rng = random.Random(seed)
    benign = [e.text for e in test if e.general_benign]
    harm = [e.text for e in test if any(v == 1 for v in e.labels)]
    k = min(len(harm), round(n * harmful))
    mix = rng.sample(harm, k) + rng.sample(benign, min(len(benign), n - k))
    rng.shuffle(mix)
    return _clip(mix)


def bench_mix(n: int = 2048) -> list[str]:
    """The benchmark's event texts (bench.workload: en/zh, 5% harmful), if the bench is here."""
    try:
        from bench.workload import Workload  # noqa: PLC0415 - optional: the repo's bench
    except ImportError:
        return []
    return [item.text for item in Workload(pool_size=n).pool if item.text]


def latency_table(
    fast: TextModel,
    encoder: TextModel | None,
    sample: Sequence[str],
    mixes: Mapping[str, Sequence[str]],
    *,
    repeats: int = 5,
    encoder_events: int = 256,
    band: tuple[float, float] = (CASCADE_LOW, CASCADE_HIGH),
) -> list[dict[str, Any]]:
    """Every tier's cost per event, one core, one onnxruntime thread: the one place it is timed.

    fast: features alone and features + ONNX at batch 256; encoder: ``score_each`` (the
    cascade's row-at-a-time path) at batch 32; cascade: ``Classifier.classify`` at batch 256 on
    each of ``mixes``, with its routed share. ``fast`` and ``encoder`` must be loaded with one
    thread.
    """
    config = FeatureConfig.from_meta(fast.metadata["features"])
    rows: list[dict[str, Any]] = []
    with one_core():
        rows.append(
            {
                "key": "fast-features",
                "system": "fast: feature extraction alone",
                "batch": 256,
                "events": len(sample),
                "unit": "µs",
                **time_per_event(lambda b: featurize(b, config), sample, 256, repeats),
            }
        )
        rows.append(
            {
                "key": "fast",
                "system": "fast (features + ONNX)",
                "batch": 256,
                "events": len(sample),
                "unit": "µs",
                **time_per_event(fast.score, sample, 256, repeats),
            }
        )
        if encoder is None:
            return rows
        sub = list(sample[:encoder_events])
        rows.append(
            {
                "key": "encoder",
                "system": "encoder (tokenizer + int8 e5, one row per run)",
                "batch": 32,
                "events": len(sub),
                "unit": "ms",
                **time_per_event(encoder.score_each, sub, 32, max(1, min(repeats, 3))),
            }
        )
        classifier = Classifier(
            fast, encoder, cascade_low=band[0], cascade_high=band[1], cascade_max_busy=1.0
        )
        for name, texts in mixes.items():
            if not texts:
                continue
            routed: list[npt.NDArray[np.bool_]] = []

            def run(batch: Sequence[str], routed: list[npt.NDArray[np.bool_]] = routed) -> None:
                routed.append(classify_once(classifier, batch)[1] != FAST)

            timing = time_per_event(run, texts, 256, max(1, min(repeats, 3)))
            last_pass = routed[-((len(texts) + 255) // 256) :]  # every pass routes alike
            rows.append(
                {
                    "key": f"cascade:{name}",
                    "system": f"cascade on {name}",
                    "batch": 256,
                    "events": len(texts),
                    "unit": "ms",
                    "routed_share": float(np.concatenate(last_pass).mean()),
                    **timing,
                }
            )
    return rows


# --- model files and data -----------------------------------------------------------------


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(REPO_DIR))
    except ValueError:
        return str(path)


def model_info(tier: str, model: TextModel) -> dict[str, Any]:
    return {
        "tier": tier,
        "path": str(model.path),
        "file": _shown(model.path),
        "name": model.name,
        "version": model.version,
        "sha256": model.sha256,
        "created_at": model.created_at,
        "bytes": model.path.stat().st_size,
        "features": model.metadata.get("features", ""),
        "fingerprint": model.data_fingerprint,
        "datasets": [d for d in model.metadata.get("datasets", "").split(",") if d],
        "review": dict(model.thresholds),
        "block": block_points(model),
        "block_in_file": sorted(model.block_thresholds),
        "script_points": model.script_points,
        "cascade": model.cascade,
    }


def model_files(evaluated: Sequence[Path], repo: Path) -> list[dict[str, Any]]:
    """Committed ONNX files under models/ plus the evaluated ones, with sizes.

    The evaluated files count even before they are committed: they are what would ship.
    """
    tracked: set[Path] = set()
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--", *(f"models/{d}" for d in MODEL_FILES_DIRS)],
            cwd=repo,
            capture_output=True,
            check=True,
            timeout=30,
        ).stdout.decode()
        tracked = {(repo / p).resolve() for p in out.split("\0") if p.endswith(".onnx")}
    except (OSError, subprocess.SubprocessError):
        pass
    paths = {p.resolve() for p in evaluated} | tracked
    rows = []
    for p in sorted(paths):
        if not p.is_file():
            continue
        rows.append(
            {
                "path": _shown(p),
                "bytes": p.stat().st_size,
                "committed": p in tracked,
                "evaluated": p in {q.resolve() for q in evaluated},
            }
        )
    return rows


def data_table(corpus: Corpus) -> list[dict[str, Any]]:
    """Per set: licence, whether it ships, rows per split and HELDOUT_OVERLAP drops."""
    counts: dict[tuple[str, str], int] = {}
    for split in ("train", "dev", "test"):
        for e in corpus.split(split):
            counts[e.dataset, split] = counts.get((e.dataset, split), 0) + 1
    return [
        {
            "name": d.name,
            "lang": d.lang,
            "licence": d.licence,
            "ships": d.ships,
            "source": d.source,
            "train": counts.get((d.name, "train"), 0),
            "dev": counts.get((d.name, "dev"), 0),
            "test": counts.get((d.name, "test"), 0),
            "dropped_heldout": corpus.dropped_heldout.get(d.name, 0),
        }
        for d in DATASETS.values()
    ]


# --- the run ------------------------------------------------------------------------------


def research_targets(corpus: Corpus, model: TextModel) -> list[dict[str, Any]]:
    """Benchmark targets of a non-shipped variant (e.g. trained with OLID), for comparison only."""
    test = corpus.test
    scored = Scored(
        "research", model.score(_clip([e.text for e in test])), dict(model.thresholds),
        block_points(model),
    )  # fmt: skip
    rows = benchmark_targets(test, {"research": scored})
    for r in rows:
        r["trained_on"] = model.metadata.get("datasets", "")
    return rows


def _score_splits(
    report: Report,
    corpus: Corpus,
    fast: TextModel,
    classifier: Classifier | None,
    max_per_set: int | None,
    log: Callable[[str], None],
) -> tuple[list[Example], dict[str, Scored]]:
    """Score dev and test with fast and cascade; fill the per-label and routed tables."""
    out: tuple[list[Example], dict[str, Scored]] = ([], {})
    for split in ("dev", "test"):
        examples = cap_per_set(corpus.split(split), max_per_set)
        log(f"scoring {len(examples)} {split} texts (fast{', cascade' if classifier else ''})")
        t0 = time.perf_counter()
        systems = score_systems(examples, fast, classifier, log)
        log(f"  {time.perf_counter() - t0:.0f} s")
        for s in systems.values():
            report.per_label.extend(per_label_table(examples, s, split))
        decided = systems["cascade"].decided_by if "cascade" in systems else None
        if decided is not None:
            report.routed.extend(routed_table(examples, decided, split))
        out = (examples, systems)
    return out  # the test split's


def _golden(fast: TextModel, classifier: Classifier | None, baseline: bool) -> list[dict[str, Any]]:
    """The golden table for fast, cascade and (English, abuse groups) alt-profanity-check."""
    texts = load_golden()
    rows = golden_table(texts, golden_flags(texts, fast, classifier))
    if baseline:
        english = [t for t in texts if t.lang == "en"]
        rows += [
            r
            for r in golden_table(english, {"alt-profanity-check": golden_profanity(english)})
            if r["group"] in ("insult", "hard_benign", "benign")
        ]
    return rows


def _latency(
    test: Sequence[Example],
    fast: TextModel,
    encoder: TextModel | None,
    *,
    quick: bool,
    band: tuple[float, float],
) -> list[dict[str, Any]]:
    """The latency table with single-threaded copies of the models."""
    n = 512 if quick else 2048
    mixes = {
        "a traffic mix (95% general-domain benign test text, 5% harm positives)": traffic_mix(
            test, n=n
        ),
        "the bench workload's texts (bench.workload)": bench_mix(n),
    }
    return latency_table(
        load_model(fast.path, threads=1),
        load_model(encoder.path, threads=1) if encoder is not None else None,
        latency_sample(test, 2560),
        mixes,
        repeats=2 if quick else 5,
        encoder_events=64 if quick else 256,
        band=band,
    )


def evaluate(
    data_dir: Path,
    fast: TextModel,
    accurate: TextModel | None = None,
    *,
    corpus: Corpus | None = None,
    baseline: bool = True,
    latency: bool = True,
    golden: bool = True,
    max_per_set: int | None = None,
    encoder_dev_cap: int = ENCODER_DEV_CAP,
    cascade_band: tuple[float, float] = (CASCADE_LOW, CASCADE_HIGH),
    log: Callable[[str], None] = print,
) -> Report:
    """Every figure of the card. ``accurate`` is the encoder tier (None: the fast tier alone).

    ``max_per_set`` caps the evaluated rows per set and split (quick runs; the card says so).
    """
    started = time.perf_counter()
    encoder = accurate
    corpus = corpus or build_corpus(data_dir)
    report = Report(
        run={
            "max_per_set": max_per_set,
            "encoder_dev_cap": encoder_dev_cap,
            "cascade_band": list(cascade_band),
            "encoder": encoder is not None,
        },
        models=[model_info("fast", fast)] + ([model_info("encoder", encoder)] if encoder else []),
        data=data_table(corpus),
        corpus={
            "fingerprint": corpus.fingerprint,
            "datasets": list(corpus.datasets),
            "dropped_for_leak": corpus.dropped_for_leak,
            "dropped_heldout": sum(corpus.dropped_heldout.values()),
        },
    )
    classifier = None
    if encoder is not None:
        low, high = cascade_band
        classifier = Classifier(
            fast, encoder, cascade_low=low, cascade_high=high, cascade_max_busy=1.0
        )
        # None: no cascade points for this pair, routed rows take aligned encoder scores
        report.run["cascade_weight"] = classifier.weight
    test, systems = _score_splits(report, corpus, fast, classifier, max_per_set, log)
    if encoder is not None and encoder_dev_cap > 0:
        dev = cap_per_set(cap_per_set(corpus.dev, max_per_set), encoder_dev_cap)
        log(f"scoring {len(dev)} dev texts with the encoder alone (≤ {encoder_dev_cap}/set)")
        alone = Scored(
            "encoder", encoder_scores(encoder, [e.text for e in dev]), dict(encoder.thresholds),
            block_points(encoder),
        )  # fmt: skip
        report.per_label.extend(per_label_table(dev, alone, "dev"))
    probs = None
    if baseline:
        log("scoring alt-profanity-check (English test rows)")
        english = [i for i, e in enumerate(test) if e.lang == "en"]
        probs = np.full(len(test), np.nan, dtype=np.float32)
        probs[english] = profanity_probs([test[i].text for i in english])
        report.baseline = baseline_table(test, systems, probs)
    extra = {"alt-profanity-check": probs >= 0.5} if probs is not None else None
    report.benign_fpr = benign_table(test, systems, extra)
    report.confusions = confusion_table(test, systems)
    report.targets = benchmark_targets(test, systems) + fpr_targets(report.benign_fpr)
    if golden:
        log("scoring the golden sets")
        report.golden = _golden(fast, classifier, baseline)
        report.targets += golden_targets(report.golden)
    evaluated = [fast.path] + ([encoder.path] if encoder is not None else [])
    report.model_files = model_files(evaluated, REPO_DIR)
    if latency:
        log("timing (one core)")
        report.latency = _latency(
            test, fast, encoder, quick=max_per_set is not None, band=cascade_band
        )
    report.targets += capacity_targets(report.latency, report.model_files, encoder is not None)
    report.run["seconds"] = time.perf_counter() - started
    return report
