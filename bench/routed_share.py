"""The bench workload's routed share: which events the cascade sends to the encoder tier.

Deterministic (a row is routed by its own fast scores), so it is measured offline on the
workload's text pool rather than inside a timed run: ``python -m bench.routed_share``. Also
reports the classification capacity with and without the encoder tier on that pool (events/s of
:meth:`streams.classify.Classifier.classify` in batches of 256, one onnxruntime thread per run),
the figure that bounds a worker's throughput before any Kafka work: the fast tier on one core,
the encoder tier with one and with ``--workers`` routed rows at once (``encoder_workers``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bench.workload import MALFORMED, Workload
from streams.classify import ACCURATE, Classifier
from streams.settings import Settings


def main(pool_size: int = 4_000, batch: int = 256, workers: int = 2) -> None:
    texts = [p.text for p in Workload(pool_size=pool_size).pool if p.kind != MALFORMED]
    settings = Settings(onnx_threads=1, encoder_workers=workers)
    cascade = Classifier.from_settings(settings)
    one = Classifier.from_settings(Settings(onnx_threads=1, encoder_workers=1))
    fast_only = Classifier(cascade.fast, max_text_chars=settings.max_text_chars)
    systems = (
        ("fast tier only", fast_only),
        ("fast + encoder, 1 row at once", one),
        (f"fast + encoder, {workers} rows at once", cascade),
    )
    for name, clf in systems:
        clf.classify(texts[:batch])  # warm up
        routed = accurate = 0
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            out = clf.classify(texts[i : i + batch])
            routed += out.routed
            accurate += int(np.count_nonzero(out.decided_by == ACCURATE))
        seconds = time.perf_counter() - start
        print(
            f"{name}: {len(texts)} events, routed {routed} ({routed / len(texts):.1%}), "
            f"re-scored {accurate}, {len(texts) / seconds:,.0f} events/s "
            f"({seconds / len(texts) * 1e6:.0f} µs/event)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool-size", type=int, default=4_000)
    parser.add_argument("--workers", type=int, default=2, help="encoder_workers to compare with 1")
    args = parser.parse_args()
    main(args.pool_size, workers=args.workers)
