"""The pipeline's cost per event at batch size 1 (what per-event frameworks pay) and 256.

    python -m bench.per_call [--events 2048]

Runs ``Pipeline.process`` in-process on firehose events with the shipped model and prints the best
of three passes per batch size, in µs per event. No broker.
"""

from __future__ import annotations

import argparse
import time

from streams.firehose import Firehose
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import load_settings

BATCH_SIZES = (1, 256)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2048)
    args = parser.parse_args()
    n: int = args.events
    pipeline = Pipeline.from_settings(load_settings())
    hose = Firehose(seed=3, harmful=0.05, malformed=0.0)
    messages = [InMessage("t", 0, i, hose.sample().value) for i in range(n)]
    for size in BATCH_SIZES:
        passes = []
        for _ in range(3):
            started = time.perf_counter()
            for i in range(0, n, size):
                pipeline.process(messages[i : i + size])
            passes.append((time.perf_counter() - started) / n * 1e6)
        print(f"batch {size}: {min(passes):.1f} µs/event (Pipeline.process, best of 3)")


if __name__ == "__main__":
    main()
