"""Write the tiny ONNX models the unit tests load (run after changing the graph or metadata).

The unit tests must run without the training extras (no ``onnx`` package), so the models they
need are built here once and committed: ``.venv/bin/python -m tests.models.make_fixtures``.
Each is a real flagstream fast model whose scores are sigmoid(bias) for every text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import orjson

from models.export import set_metadata
from models.graph import linear_graph
from streams.features import FeatureConfig
from streams.model import LABELS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONFIG = FeatureConfig(bits=6, orders=(1, 2), word_bits=5)

# name: (bias logit, thresholds, labels, languages, with metadata)
SPECS: dict[str, tuple[float, float, tuple[str, ...], str, bool]] = {
    "half": (0.0, 0.5, LABELS, "en,zh,de,ko", True),  # every score 0.5
    "high": (3.0, 0.5, LABELS, "en", True),  # every score 0.953
    "half-t06": (0.0, 0.6, LABELS, "en,zh,de,ko", True),
    "half-t04": (0.0, 0.4, LABELS, "en", True),
    "two-labels": (0.0, 0.5, ("spam", "toxic"), "en", True),
    "bare": (0.0, 0.5, LABELS, "en", False),  # no flagstream metadata
}


def build(name: str) -> onnx.ModelProto:
    logit, threshold, labels, languages, with_meta = SPECS[name]
    weights = np.zeros((CONFIG.buckets + 1, len(labels)), dtype=np.float32)
    proto = linear_graph(weights, np.full(len(labels), logit, dtype=np.float32))
    if with_meta:
        set_metadata(
            proto,
            {
                "name": f"fixture-{name}",
                "version": "test",
                "labels": ",".join(labels),
                "thresholds": orjson.dumps(dict.fromkeys(labels, threshold)).decode(),
                "created_at": "2026-01-01T00:00:00+00:00",
                "data_fingerprint": "fixture",
                "features": CONFIG.to_meta(),
                "languages": languages,
            },
        )
    return proto


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    for name in SPECS:
        onnx.save(build(name), FIXTURES / f"{name}.onnx")


if __name__ == "__main__":
    main()
