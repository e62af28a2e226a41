"""Write a trained fast model as a self-describing ONNX file (graph + flagstream metadata)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import onnx
import orjson

from models.fast import LinearModel
from models.graph import linear_graph
from streams.features import FeatureConfig
from streams.model import LABELS, META_PREFIX

MODELS_DIR = Path(__file__).resolve().parent
FAST_PATH = MODELS_DIR / "fast" / "flagstream-fast.onnx"
BUILD_DIR = MODELS_DIR / "build"
FAST_ARTEFACT = BUILD_DIR / "fast-linear.npz"
VERSION = "0.1.0"


def save_artefact(
    model: LinearModel,
    thresholds: dict[str, float],
    fingerprint: str,
    datasets: list[str],
    path: Path = FAST_ARTEFACT,
    block: dict[str, float] | None = None,
    script_points: dict[str, dict[str, dict[str, float]]] | None = None,
    distilled: str | None = None,
) -> Path:
    """The training output that ``export`` turns into ONNX (kept out of git: models/build/)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "features": model.config.to_meta(),
        "thresholds": thresholds,
        "block_thresholds": block or {},
        "script_points": script_points or {},
        "data_fingerprint": fingerprint,
        "datasets": datasets,
    }
    if distilled:  # the teacher it was distilled from (models/distil.py)
        meta["distilled_from"] = distilled
    with path.open("wb") as f:
        np.savez_compressed(
            f,
            weights=model.weights,
            bias=model.bias,
            meta=np.frombuffer(orjson.dumps(meta), np.uint8),
        )
    return path


def load_artefact(path: Path = FAST_ARTEFACT) -> tuple[LinearModel, dict[str, object]]:
    with np.load(path) as z:
        meta = orjson.loads(z["meta"].tobytes())
        model = LinearModel(FeatureConfig.from_meta(meta["features"]), z["weights"], z["bias"])
    return model, meta


def set_metadata(model: onnx.ModelProto, values: dict[str, str]) -> None:
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key = META_PREFIX + key
        entry.value = value


def export_fast(
    artefact: Path = FAST_ARTEFACT, out: Path = FAST_PATH, created_at: str | None = None
) -> Path:
    """Build the ONNX graph from the trained weights and write it with its metadata."""
    model, meta = load_artefact(artefact)
    proto = linear_graph(model.weights, model.bias)
    proto.producer_name = "flagstream"
    proto.model_version = 1
    created = created_at or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    set_metadata(
        proto,
        {
            "name": "flagstream-fast",
            "version": VERSION,
            "labels": ",".join(LABELS),
            "thresholds": orjson.dumps(meta["thresholds"]).decode(),
            "block_thresholds": orjson.dumps(meta.get("block_thresholds", {})).decode(),
            "script_points": orjson.dumps(meta.get("script_points", {})).decode(),
            "data_fingerprint": str(meta["data_fingerprint"]),
            "datasets": ",".join(meta["datasets"]),  # type: ignore[arg-type]
            "created_at": created,
            "features": str(meta["features"]),
            "languages": "en,zh,de,ko",
        }
        | ({"distilled_from": str(meta["distilled_from"])} if meta.get("distilled_from") else {}),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, out)
    return out


def artefact_from_onnx(model_path: Path = FAST_PATH, out: Path = FAST_ARTEFACT) -> Path:
    """Rebuild the training artefact from a fast model's ONNX file (its weights and metadata).

    ``export_fast`` of the result computes the same scores: the graph holds the weights as the
    float16 the training-time model was rounded to. This lets ``flagstream model calibrate``
    re-choose the shipped model's points on a fresh checkout, where models/build/ is empty.
    """
    from onnx import numpy_helper  # noqa: PLC0415

    proto = onnx.load(str(model_path))
    tensors = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    meta = {
        p.key.removeprefix(META_PREFIX): p.value
        for p in proto.metadata_props
        if p.key.startswith(META_PREFIX)
    }
    if "W" not in tensors or "b" not in tensors or "features" not in meta:
        raise ValueError(f"{model_path}: not a flagstream fast model (no W, b or features)")
    config = FeatureConfig.from_meta(meta["features"])
    model = LinearModel(
        config,
        tensors["W"].astype(np.float32),
        tensors["b"].reshape(-1).astype(np.float32),
    )
    return save_artefact(
        model,
        orjson.loads(meta["thresholds"]),
        meta["data_fingerprint"],
        meta["datasets"].split(","),
        out,
        block=orjson.loads(meta.get("block_thresholds", "{}")),
        script_points=orjson.loads(meta.get("script_points", "{}")),
        distilled=meta.get("distilled_from"),
    )
