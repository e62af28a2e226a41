"""ONNX helpers of the encoder tier's build: quantise, score a graph, write flagstream metadata."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

from streams.model import META_PREFIX, padded_batches


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
