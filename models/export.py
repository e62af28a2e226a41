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
        },
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, out)
    return out
