"""Where a flagged event's latency goes, stage by stage: ``python -m bench.breakdown``.

Runs the bench's latency measurement (fresh topics, warm-up, the offered load, the same reader)
against ``flagstream-traced`` — the real worker with stage stamps (``bench/contenders/
flagstream_traced.py``) — and joins, per flagged event, the harness's send and readable times with
the worker's stamps. Each stage is the time between two consecutive stamps:

| stage | from → to |
|---|---|
| produce + broker + fetch | harness send → returned by aiokafka's fetcher (Faust's consumer thread) |
| thread hop | → handed to the agent's collector on the event loop |
| wait for the runner | → handed to the batch runner (the previous batch is being processed) |
| wait for the thread | → ``Pipeline.process`` starts in the runner's thread |
| classify | ``Pipeline.process`` (decode, model, policy, outputs) of the event's batch |
| to the producer | → its flagged output handed to the producer |
| produce + broker + read | → readable by the harness's reader |
| (ack) | producer hand-over → the batch acknowledged (commits follow it; not on the path) |

``--contender raw-classify`` stamps the plain aiokafka loop the same way
(``bench/contenders/raw_classify_traced.py``; there ``getmany`` returns the records on the loop that
classifies them, so "thread hop" is zero), for a stage-by-stage comparison in one session.

Prints p50/p95/p99 of each stage and of the total, and the stages' mean share among the slowest
5 % of events (the tail the p99 target is about). Writes the table to ``--out`` as JSON too.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import click
import numpy as np
import orjson

from bench import kafka, measure
from bench.config import latency_config
from bench.contenders.flagstream_traced import FAUST_THREAD_ENV, TRACE_PATH_ENV
from bench.workload import Workload

#: contender → the module that runs it with stage stamps
TRACED = {
    "flagstream": "bench.contenders.flagstream_traced",
    "raw-classify": "bench.contenders.raw_classify_traced",
}
STAMPS = ("fetched", "delivered", "handed", "classify_start", "classify_end", "sent")
STAGES = (
    ("produce + broker + fetch", "send", "fetched"),
    ("thread hop (consumer thread → event loop)", "fetched", "delivered"),
    ("wait for the runner", "delivered", "handed"),
    ("wait for the classify thread", "handed", "classify_start"),
    ("classify (Pipeline.process of the batch)", "classify_start", "classify_end"),
    ("to the producer", "classify_end", "sent"),
    ("produce + broker + read", "sent", "readable"),
)


def _load(path: Path) -> dict[str, dict[str, float]]:
    by_key: dict[str, dict[str, float]] = defaultdict(dict)
    if path.is_file():
        for line in path.read_bytes().splitlines():
            stage, key, at = orjson.loads(line)
            by_key[key].setdefault(stage, at)  # the first time (a redelivery comes later)
    return by_key


def _pct(values: list[float]) -> dict[str, float]:
    p50, p95, p99 = np.percentile(np.asarray(values), [50, 95, 99])
    return {"p50": round(float(p50), 2), "p95": round(float(p95), 2), "p99": round(float(p99), 2)}


def analyse(
    samples: dict[str, tuple[float, float]], stamps: dict[str, dict[str, float]]
) -> dict[str, Any]:
    """Per-stage percentiles (ms) over the flagged events with every stamp."""
    rows = []
    for key, (sent, readable) in samples.items():
        s = stamps.get(key, {})
        if all(stage in s for stage in STAMPS):
            rows.append({"send": sent, "readable": readable, **s})
    if not rows:
        return {"events": 0, "stages": {}}
    stages: dict[str, Any] = {}
    totals = [(r["readable"] - r["send"]) * 1000 for r in rows]
    cut = float(np.percentile(totals, 95))
    tail = [r for r, t in zip(rows, totals, strict=True) if t >= cut]
    for label, a, b in STAGES:
        values = [(r[b] - r[a]) * 1000 for r in rows]
        stages[label] = {
            **_pct(values),
            "mean": round(float(np.mean(values)), 2),
            "tail_mean": round(float(np.mean([(r[b] - r[a]) * 1000 for r in tail])), 2),
        }
    acked = [(r["acked"] - r["sent"]) * 1000 for r in rows if "acked" in r]
    # every measured event's stamps, flagged or not; one stamp time per call, so distinct
    # times count the fetches and the batches
    fetches = len({s["fetched"] for s in stamps.values() if "fetched" in s})
    batches = len({s["handed"] for s in stamps.values() if "handed" in s})
    stamped = sum("handed" in s for s in stamps.values())
    return {
        "events": len(rows),
        "samples": len(samples),
        "stamped": stamped,
        "fetches": fetches,
        "batches": batches,
        "total": {**_pct(totals), "mean": round(float(np.mean(totals)), 2)},
        "tail_cut_ms": round(cut, 2),
        "tail_events": len(tail),
        "stages": stages,
        "ack_after_send": _pct(acked) if acked else {},
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{result['events']:,} flagged events with every stamp (of {result.get('samples', 0):,})",
        "",
        "| stage | p50 ms | p95 ms | p99 ms | mean ms | mean ms, slowest 5 % |",
        "|---|---|---|---|---|---|",
    ]
    for label, v in result["stages"].items():
        lines.append(
            f"| {label} | {v['p50']} | {v['p95']} | {v['p99']} | {v['mean']} | {v['tail_mean']} |"
        )
    t = result.get("total")
    if t:
        lines.append(
            f"| **send → readable** | {t['p50']} | {t['p95']} | {t['p99']} | {t['mean']} | "
            f"≥ {result['tail_cut_ms']} |"
        )
    if result.get("batches"):
        lines += [
            "",
            f"all {result['stamped']:,} measured events came in {result['fetches']:,} fetches and "
            f"went to the classifier in {result['batches']:,} batches",
        ]
    ack = result.get("ack_after_send")
    if ack:
        lines += [
            "",
            f"producer hand-over → batch acknowledged: p50/p95/p99 {ack['p50']} / "
            f"{ack['p95']} / {ack['p99']} ms (off the path: commits follow it)",
        ]
    return "\n".join(lines)


@click.command()
@click.option("--bootstrap", default="127.0.0.1:9092", show_default=True)
@click.option("--rate", default=5_000, show_default=True, help="Offered events/s.")
@click.option("--seconds", default=15.0, show_default=True, help="Measured window.")
@click.option("--partitions", default=4, show_default=True)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="NAME=VALUE",
    help="FLAGSTREAM_NAME for the worker.",
)
@click.option(
    "--faust-thread",
    is_flag=True,
    help="Run the aiokafka consumer in Faust's own thread (the state before InLoopConsumerThread).",
)
@click.option(
    "--contender",
    type=click.Choice(sorted(TRACED)),
    default="flagstream",
    show_default=True,
    help="The worker, or raw-classify (the plain aiokafka loop) with the same stamps.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON here.")
def main(
    bootstrap: str,
    rate: int,
    seconds: float,
    partitions: int,
    overrides: tuple[str, ...],
    faust_thread: bool,
    contender: str,
    out: Path | None,
) -> None:
    cfg = latency_config(bootstrap, partitions, rate, seconds, overrides)
    kafka.check_broker(cfg.bootstrap)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    trace = cfg.run_dir / "trace.jsonl"
    os.environ[TRACE_PATH_ENV] = str(trace)
    os.environ[FAUST_THREAD_ENV] = "1" if faust_thread else "0"
    samples: dict[str, tuple[float, float]] = {}
    argv = (sys.executable, "-m", TRACED[contender])
    lat = measure.latency(
        cfg, f"{contender}-traced", rate, Workload(seed=cfg.seed), argv=argv, samples=samples
    )
    result = analyse(samples, _load(trace))
    result["latency"] = measure.as_dict(lat)
    result["settings"] = dict(cfg.overrides)
    result["rate"] = rate
    result["faust_thread"] = faust_thread
    result["contender"] = contender
    click.echo(
        f"traced {contender} at {rate:,} events/s: p50/p95/p99 {lat.p50} / {lat.p95} / {lat.p99} ms "
        f"over {lat.samples} flagged (complete: {lat.complete})"
    )
    click.echo(render(result))
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n")
        click.echo(f"json: {out}")


if __name__ == "__main__":
    main()
