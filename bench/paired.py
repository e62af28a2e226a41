"""Two or more workers measured at once, on the same input and the same load: ``python -m bench.paired``.

``flagstream bench`` measures one contender after another, so on a shared machine a change in the
other load between two latency windows moves the figures more than a change of the worker does.
Here every worker consumes the same input topic at the same time (each with its own group and
output topics), so every one sees the same offered load, broker and neighbours; their latencies
(harness send → flagged record readable, as in ``bench.measure``) are compared within one window.
Each ``--tree NAME=PATH`` runs ``flagstream worker`` from the source tree at PATH (e.g. a git
worktree of the commit before a change); ``-c raw-classify`` adds a contender of the current tree.
The workers share the cores with each other, so the figures are higher than one worker's alone:
the comparison is the point, not the level.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
import numpy as np

from bench import kafka, measure
from bench.config import latency_config
from bench.contenders import CONTENDERS
from bench.process import WatchedProcess
from bench.workload import Workload


@click.command()
@click.option("--bootstrap", default="127.0.0.1:9092", show_default=True)
@click.option("--rate", default=5_000, show_default=True, help="Offered events/s.")
@click.option("--seconds", default=30.0, show_default=True, help="Measured window.")
@click.option("--partitions", default=4, show_default=True)
@click.option("--tree", "trees", multiple=True, metavar="NAME=PATH", help="A worker's source tree.")
@click.option("-c", "--contender", "contenders", multiple=True, help="A contender of this tree.")
@click.option("--set", "overrides", multiple=True, metavar="NAME=VALUE", help="FLAGSTREAM_NAME.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON here.")
def main(
    bootstrap: str,
    rate: int,
    seconds: float,
    partitions: int,
    trees: tuple[str, ...],
    contenders: tuple[str, ...],
    overrides: tuple[str, ...],
    out: Path | None,
) -> None:
    cfg = latency_config(bootstrap, partitions, rate, seconds, overrides)
    kafka.check_broker(cfg.bootstrap)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    runs: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for spec in trees:
        name, _, path = spec.partition("=")
        runs[name] = ((sys.executable, "-m", "streams.cli", "worker"), str(Path(path).resolve()))
    for name in contenders:
        runs[name] = (CONTENDERS[name].argv, None)
    if len(runs) < 2:
        raise click.UsageError("give at least two workers (--tree, -c)")
    base = f"bench.{cfg.run_id}.paired"
    live = f"{base}.in"
    kafka.create_topics(cfg.bootstrap, [live], cfg.partitions)
    outputs = {name: (f"{base}.{name}.flagged", f"{base}.{name}.dlq") for name in runs}
    every = [t for pair in outputs.values() for t in pair]
    kafka.create_topics(cfg.bootstrap, every, cfg.partitions, kafka.OUTPUT_TOPIC_CONFIG)
    budget = cfg.startup_timeout_s + seconds + cfg.settle_timeout_s + 120
    procs: dict[str, WatchedProcess] = {}
    reader = measure._Reader(cfg.bootstrap, every, cfg.partitions)
    reader.start()
    producer = measure._load_producer(cfg.bootstrap)
    try:
        for name, (argv, tree) in runs.items():
            flagged, dlq = outputs[name]
            group = f"bench-{cfg.run_id}-paired-{name}"
            env = measure.contender_env(cfg, live, flagged, dlq, group, budget)
            if tree is not None:
                env["PYTHONPATH"] = tree
            procs[name] = WatchedProcess(argv, env, cfg.run_dir / f"paired-{name}.log")
            procs[name].start()
        workload = Workload(seed=cfg.seed)
        dlqs = [dlq for _flagged, dlq in outputs.values()]
        measure.warm_up(cfg, procs, dlqs, producer, reader, live, workload)
        load_before = os.getloadavg()[0]
        sent_at, _start, _end = measure._offer(producer, live, workload, rate, seconds)
        producer.flush(30)
        time.sleep(5.0)  # the backlog of a slow worker
    finally:
        for proc in procs.values():
            proc.stop()
        reader.close()
    result: dict[str, object] = {
        "rate": rate,
        "seconds": seconds,
        "sent": len(sent_at),
        "load_avg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "settings": dict(cfg.overrides),
    }
    workers: dict[str, dict[str, float]] = {}
    click.echo(f"{len(sent_at):,} events at {rate:,}/s; load {result['load_avg_1m']}")
    for name in runs:
        flagged = outputs[name][0]
        times = measure.flagged_times(reader.seen, flagged, sent_at)
        lat = np.asarray([(at - sent) * 1000 for sent, at in times.values()])
        p50, p95, p99 = (round(float(x), 2) for x in np.percentile(lat, [50, 95, 99]))
        workers[name] = {"samples": len(lat), "p50": p50, "p95": p95, "p99": p99}
        click.echo(f"  {name}: p50/p95/p99 {p50} / {p95} / {p99} ms over {len(lat):,} flagged")
    result["workers"] = workers
    if not cfg.keep_topics:
        kafka.delete_topics(cfg.bootstrap, [live, *every])
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n")
        click.echo(f"json: {out}")


if __name__ == "__main__":
    main()
