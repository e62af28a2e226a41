"""The bench workload's routed share: which events the cascade sends to the encoder tier.

Deterministic (a row is routed by its own fast scores), so it is measured offline on the
workload's text pool rather than inside a timed run: ``python -m bench.routed_share``. Also
reports the classification capacity with and without the encoder tier on that pool (events/s of
:meth:`streams.classify.Classifier.classify` in batches of 256, one onnxruntime thread per run),
the figure that bounds a worker's throughput before any Kafka work: the fast tier alone, and
the cascade with one and with ``--workers`` routed rows at once (``encoder_workers``).
``flagstream bench`` runs it (``--json``) in a child process with the contenders' settings and
puts the result in its report (``capacity``).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np
import orjson

from bench.workload import MALFORMED, Workload
from streams.classify import ACCURATE, DEGRADED, Classifier
from streams.settings import Settings


def measure(pool_size: int = 4_000, batch: int = 256, workers: int = 2) -> list[dict[str, Any]]:
    """One row per system: events, routed, re-scored, events/s; the settings come from the
    environment (``FLAGSTREAM_*``) except threads and ``encoder_workers``."""
    texts = [p.text for p in Workload(pool_size=pool_size).pool if p.kind != MALFORMED]
    # no capacity limit: every routed row is re-scored (the governor would skip some on a long pool)
    settings = Settings(onnx_threads=1, encoder_workers=workers, cascade_max_busy=1.0)
    cascade = Classifier.from_settings(settings)
    systems: list[tuple[str, Classifier]] = [
        ("fast tier only", Classifier(cascade.fast, max_text_chars=settings.max_text_chars))
    ]
    if cascade.accurate is not None:
        systems += [
            ("fast + encoder, 1 row at once", cascade),
            (f"fast + encoder, {workers} rows at once", cascade),
        ]
    rows = []
    for (name, clf), row_workers in zip(systems, (1, 1, workers), strict=False):
        if clf.accurate is not None:  # the same loaded encoder, its rows run this many at once
            clf.accurate.row_workers = row_workers
        clf.classify(texts[:batch])  # warm up
        routed = accurate = degraded = 0
        start = time.perf_counter()
        for i in range(0, len(texts), batch):
            out = clf.classify(texts[i : i + batch])
            routed += out.routed
            accurate += int(np.count_nonzero(out.decided_by == ACCURATE))
            degraded += int(np.count_nonzero(out.decided_by == DEGRADED))
        seconds = time.perf_counter() - start
        rows.append(
            {
                "system": name,
                "events": len(texts),
                "routed": routed,
                "routed_share": round(routed / len(texts), 4),
                "rescored": accurate,
                "degraded": degraded,
                "events_per_s": round(len(texts) / seconds, 1),
                "us_per_event": round(seconds / len(texts) * 1e6, 1),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pool-size", type=int, default=4_000)
    parser.add_argument("--workers", type=int, default=2, help="encoder_workers to compare with 1")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON array")
    args = parser.parse_args()
    rows = measure(args.pool_size, workers=args.workers)
    if args.json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        return
    for r in rows:
        print(
            f"{r['system']}: {r['events']} events, routed {r['routed']} "
            f"({r['routed_share']:.1%}), re-scored {r['rescored']}, degraded {r['degraded']}, "
            f"{r['events_per_s']:,.0f} events/s ({r['us_per_event']:.0f} µs/event)"
        )


if __name__ == "__main__":
    main()
