"""Worker throughput with campaign detection on and off, on the firehose of issue 10's test.

    python -m bench.networks_throughput [--bootstrap 127.0.0.1:9092] [--rounds 2]
        [--set NAME=VALUE ...] [--stem networks-throughput]

``flagstream bench`` drains its own workload, whose texts are drawn from a few sentence banks:
nearly every text there is a near-duplicate of hundreds of others, so campaign detection meets
its worst case (every bundle touches large benign clusters). This script drains a firehose
shaped like a platform's instead: ``tests/integration/test_networks_firehose.py``'s (the same
seed: 50,085 events, 6,000 authors, everyday English and Chinese, 3 % benign viral phrases, the
hidden scam, phone, listed and late campaigns), preloaded once on 4 partitions. It runs the
``flagstream`` and ``flagstream-campaigns`` contenders alternately (``--rounds`` pairs, each a
fresh consumer group), with ``flagstream bench``'s drain (``bench.measure.drain``: the window
ends with the campaign stage's last write, and the stage must have committed every
observation), and writes ``bench/results/<stem>.{json,md}`` with the ratio of every pair.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import Producer

from bench import kafka
from bench.config import RESULTS_DIR, BenchConfig, parse_overrides
from bench.errors import BenchError
from bench.measure import as_dict, drain
from bench.runner import machine
from tests.integration.test_networks_firehose import SEED, firehose

PARTITIONS = 4
MARKERS = 2 * PARTITIONS  # malformed records, dead-lettered: the first and last of each partition
OFF, ON = "flagstream", "flagstream-campaigns"
SPACING_S = 0.002  # event time between two events of the firehose (500 events/s of event time)


def _created_at(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def preload(bootstrap: str) -> tuple[str, int]:
    """The firehose on ``bench.networks.firehose.s<SEED>`` (reused when complete); its size,
    with a malformed marker first and last on every partition: their dead letters bound the
    drain window whatever the flagged events' places (most of the firehose is benign)."""
    events, _ = firehose(random.Random(SEED))
    topic = f"bench.networks.firehose.s{SEED}"
    total = len(events) + MARKERS
    if kafka.topic_exists(bootstrap, topic):
        if sum(kafka.end_offsets(bootstrap, topic, PARTITIONS)) == total:
            return topic, total
        kafka.delete_topics(bootstrap, [topic])
        time.sleep(2)
    kafka.create_topics(bootstrap, [topic], PARTITIONS)
    producer = Producer({**kafka.client_conf(bootstrap), "linger.ms": 20, "acks": "all"})
    start = time.time() - len(events) * SPACING_S  # event times end now: all inside W
    for p in range(PARTITIONS):
        producer.produce(topic, b"{marker: first", f"first-{p}".encode(), partition=p)
    producer.flush(60)
    for i, (event_id, author, text) in enumerate(events):
        body = {
            "event_id": event_id,
            "type": "post",
            "created_at": _created_at(start + i * SPACING_S),
            "source": "bench",
            "author": {"id": author},
            "text": text,
        }
        for _attempt in range(10_000):
            try:
                producer.produce(topic, orjson.dumps(body), event_id.encode())
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(60)
    for p in range(PARTITIONS):
        producer.produce(topic, b"{marker: last", f"last-{p}".encode(), partition=p)
    if producer.flush(60):
        raise BenchError(f"the firehose preload to {topic} did not complete")
    return topic, total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--rounds", type=int, default=2, help="off/on pairs, alternating")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--stem", default="networks-throughput")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = ap.parse_args(argv)
    if any("=" not in o for o in args.overrides):
        ap.error("--set takes NAME=VALUE")
    overrides = parse_overrides(tuple(args.overrides))
    kafka.check_broker(args.bootstrap)
    topic, n = preload(args.bootstrap)
    base = BenchConfig(
        bootstrap=args.bootstrap,
        events=n,
        partitions=PARTITIONS,
        overrides=overrides,
        drain_timeout_s=900.0,
    )
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        pair: dict[str, Any] = {}
        for name in (OFF, ON) if r % 2 == 0 else (ON, OFF):
            cfg = dataclasses.replace(base, run_id=f"{base.run_id}-{r}")
            d = drain(cfg, name, topic, n, MARKERS)
            pair[name] = as_dict(d)
            print(
                f"round {r} {name}: {d.throughput_eps:,.0f} events/s, {d.cpu_s_per_1k:.3f} CPU s/1k,"
                f" load {d.load_avg_1m}, stage {d.stage or '-'}",
                flush=True,
            )
        pair["ratio"] = round(pair[ON]["throughput_eps"] / pair[OFF]["throughput_eps"], 3)
        rounds.append(pair)
    ratios = [p["ratio"] for p in rounds]
    result = {
        "machine": machine(),
        "input_topic": topic,
        "events": n,
        "settings": dict(overrides),
        "rounds": rounds,
        "ratio_median": statistics.median(ratios),
        "target": 0.7,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        f"# Campaign detection on/off, worker drain of the issue-10 firehose ({n:,} events)",
        "",
        f"Settings: {dict(overrides) or 'defaults'}; load average at start "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "| round | off events/s | off CPU s/1k | on events/s | on CPU s/1k | on/off |",
        "|---|---|---|---|---|---|",
    ]
    for r, p in enumerate(rounds):
        lines.append(
            f"| {r} | {p[OFF]['throughput_eps']:,.0f} | {p[OFF]['cpu_s_per_1k']:.3f} | "
            f"{p[ON]['throughput_eps']:,.0f} | {p[ON]['cpu_s_per_1k']:.3f} | {p['ratio']:.2f}× |"
        )
    lines += ["", f"Median on/off: **{result['ratio_median']:.2f}×** (target ≥ 0.7×)."]
    (args.out / f"{args.stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
