"""What campaign detection costs the hot path, per event, on the benchmark's workload.

    python -m bench.networks_cost [--events 4096] [--batch 256] [--passes 5] [--firehose]

Runs ``Pipeline.process`` in-process on the benchmark workload's events (``bench.workload``),
with campaigns off and on, and times the networks' two pieces alone (indicator extraction,
MinHash signatures and band keys); ``--firehose`` takes the first ``--events`` of issue 10's
firehose (``tests/integration/test_networks_firehose.py``) instead. CPU time of this process (``time.process_time``: a loaded
machine inflates wall time, not CPU time), best of ``--passes``, µs per event. No broker: the
campaign stage's own cost (it runs in the same worker, on the routed bundles) is measured by
``--stage``, which feeds the same events' observations to a tracker on a dict.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from bench.workload import Workload
from streams.networks.campaigns import CampaignTracker
from streams.networks.stage import campaign_config
from streams.networks.tap import NetworkTap, decode_bundle
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import load_settings
from tests.integration.test_networks_firehose import SEED, firehose


def best(passes: int, n: int, run: Callable[[], object]) -> float:
    """Best CPU µs per event over ``passes`` runs of ``run`` (which handles ``n`` events)."""
    times = []
    for _ in range(passes):
        started = time.process_time()
        run()
        times.append((time.process_time() - started) / n * 1e6)
    return min(times)


def workload_values(n: int) -> list[bytes]:
    workload = Workload(seed=5)
    return [value for _key, value, _kind in workload.events(n, "nc", time.time())]


def firehose_values(n: int) -> list[bytes]:
    events, _ = firehose(random.Random(SEED))
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return [
        orjson.dumps(
            {
                "event_id": event_id,
                "type": "post",
                "created_at": now,
                "source": "bench",
                "author": {"id": author},
                "text": text,
            }
        )
        for event_id, author, text in events[:n]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--firehose", action="store_true", help="issue 10's firehose")
    args = parser.parse_args()
    n, size = args.events, args.batch
    values = firehose_values(n) if args.firehose else workload_values(n)
    messages = [InMessage("t", 0, i, v) for i, v in enumerate(values)]
    texts = []
    for v in values:
        try:
            doc = orjson.loads(v)
        except orjson.JSONDecodeError:
            doc = None
        # the workload's malformed events include valid JSON that is not an object
        texts.append(str(doc.get("text", "")) if isinstance(doc, dict) else "")
    batches = [messages[i : i + size] for i in range(0, n, size)]
    text_batches = [texts[i : i + size] for i in range(0, n, size)]

    # as in a worker, the stage's tracker exists from start-up: its singleton store sets the
    # process's malloc mmap threshold (streams/networks/singletons.py), which every side pays
    CampaignTracker(campaign_config(load_settings()), {})
    off = Pipeline.from_settings(load_settings(campaigns_enabled=False))
    on = Pipeline.from_settings(load_settings(campaigns_enabled=True))
    assert on.networks is not None
    tap: NetworkTap = on.networks
    for pipeline in (off, on):  # warm up: first calls load tables and the PSL
        pipeline.process(batches[0])

    def run_pipeline(p: Pipeline) -> Callable[[], None]:
        def run() -> None:
            for batch in batches:
                p.process(batch)

        return run

    def indicators() -> None:
        for batch in text_batches:
            for text in batch:
                tap.extractor.extract(text)

    def minhash() -> None:
        for batch in text_batches:
            sigs, has = tap.hasher.signatures(batch)
            tap.hasher.band_keys(sigs[has])

    # interleaved, so that the machine's load hits both sides alike
    cost_off = min(best(1, n, run_pipeline(off)) for _ in range(args.passes))
    cost_on = min(best(1, n, run_pipeline(on)) for _ in range(args.passes))
    cost_ind = best(args.passes, n, indicators)
    cost_mh = best(args.passes, n, minhash)

    bundles = [
        out.value for b in batches for out in on.process(b).outputs if out.topic == tap.topic
    ]
    observations = [decode_bundle(v) for v in bundles if v is not None]

    def stage() -> None:
        tracker = CampaignTracker(campaign_config(on.settings), {})
        for obs in observations:
            tracker.observe(obs)

    cost_stage = best(args.passes, n, stage)
    print(f"events {n}, batch {size}, CPU µs/event, best of {args.passes}")
    print(f"pipeline, campaigns off : {cost_off:8.1f}")
    print(f"pipeline, campaigns on  : {cost_on:8.1f}  (x{cost_off / cost_on:.2f} throughput)")
    print(f"  indicator extraction  : {cost_ind:8.1f}")
    print(f"  MinHash + LSH bands   : {cost_mh:8.1f}")
    print(f"campaign stage (tracker): {cost_stage:8.1f}")


if __name__ == "__main__":
    main()
