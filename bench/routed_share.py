"""The bench workload's routed share: which events the cascade sends to the encoder tier.

Deterministic (a row is routed by its own fast scores), so it is measured offline on the
workload's text pool rather than inside a timed run: ``python -m bench.routed_share``. Also
reports the classification capacity of one core with and without the encoder tier on that pool
(events/s of :meth:`streams.classify.Classifier.classify` in batches of 256), the figure that
bounds a worker's throughput before any Kafka work.
"""

from __future__ import annotations

import time

import numpy as np

from bench.workload import MALFORMED, Workload
from streams.classify import ACCURATE, Classifier
from streams.settings import Settings


def main(pool_size: int = 4_000, batch: int = 256) -> None:
    texts = [p.text for p in Workload(pool_size=pool_size).pool if p.kind != MALFORMED]
    settings = Settings(onnx_threads=1)
    cascade = Classifier.from_settings(settings)
    fast_only = Classifier(cascade.fast, max_text_chars=settings.max_text_chars)
    for name, clf in (("fast tier only", fast_only), ("fast + encoder (defaults)", cascade)):
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
            f"re-scored {accurate}, {len(texts) / seconds:,.0f} events/s on one core "
            f"({seconds / len(texts) * 1e6:.0f} µs/event)"
        )


if __name__ == "__main__":
    main()
