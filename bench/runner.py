"""One benchmark run: preload, drain every contender, offer every load to every contender,
then hand the figures to ``report``. Contenders run one at a time (2 cores: side by side they
would measure each other)."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench import kafka, measure
from bench.config import BenchConfig
from bench.errors import BenchError
from bench.preload import preload
from bench.workload import Workload

Say = Callable[[str], None]
ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    import onnxruntime  # noqa: PLC0415 - only for its version

    cpu_model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def model_sha256() -> str:
    """The shipped model every contender loads (FLAGSTREAM_MODEL_PATH is not passed on)."""
    from streams.settings import DEFAULT_MODEL_PATH  # noqa: PLC0415

    try:
        return hashlib.sha256(DEFAULT_MODEL_PATH.read_bytes()).hexdigest()
    except OSError as exc:
        raise BenchError(
            f"the shipped model {DEFAULT_MODEL_PATH} cannot be read ({exc.strerror}): "
            "build it with `flagstream model export`"
        ) from None


def capacity(cfg: BenchConfig) -> list[dict[str, Any]]:
    """Classification alone on the workload's texts, with the contenders' settings
    (``bench.routed_share``, in a child process so that ``--set`` applies as it does to them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTREAM_")}
    env.update({f"FLAGSTREAM_{k.upper()}": v for k, v in cfg.overrides})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "bench.routed_share", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise BenchError(f"bench.routed_share exited {done.returncode}: {tail[0]}")
    rows: list[dict[str, Any]] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return rows


def run(cfg: BenchConfig, say: Say) -> dict[str, Any]:
    """Run the benchmark described by ``cfg``; per-contender failures are recorded, not raised."""
    kafka.check_broker(cfg.bootstrap)
    sha_start = model_sha256()
    shas = {sha_start}
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": machine(),
        "run": {
            "run_id": cfg.run_id,
            "mode": cfg.mode,
            "events": cfg.events,
            "partitions": cfg.partitions,
            "rates": list(cfg.rates),
            "latency_seconds": cfg.latency_seconds,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "logs": str(cfg.run_dir),
            "model_sha256": sha_start,
            "settings": dict(cfg.overrides),
        },
        "contenders": {},
    }
    workload = Workload(seed=cfg.seed)
    say(f"preloading {cfg.events:,} events on {cfg.partitions} partitions")
    pre = preload(cfg.bootstrap, workload, cfg.events, cfg.partitions, cfg.seed)
    say(
        f"  {pre.topic}: "
        + ("reused" if pre.reused else f"{pre.events / max(pre.seconds, 1e-3):,.0f} events/s")
    )
    results["run"]["input_topic"] = pre.topic
    results["harness_floor_ms"] = {}
    for rate in cfg.rates:
        fl = measure.floor(cfg, rate, workload)
        results["harness_floor_ms"][str(rate)] = fl
        say(f"harness floor at {rate:,} events/s: p50 {fl['p50']} / p99 {fl['p99']} ms")
    results["run"]["malformed_events"] = pre.malformed
    for name in cfg.contenders:
        entry: dict[str, Any] = {"latency_ms": {}, "latency_detail": {}, "errors": []}
        results["contenders"][name] = entry
        shas.add(model_sha256())  # as each contender starts: all must load the same model
        say(f"{name}: draining {cfg.events:,} events")
        try:
            d = measure.drain(cfg, name, pre.topic, cfg.events, pre.malformed)
        except BenchError as exc:
            entry["errors"].append(f"drain: {exc}")
            say(f"  failed: {exc}")
        else:
            entry.update(
                {
                    "throughput_eps": d.throughput_eps,
                    "cpu_s_per_1k": d.cpu_s_per_1k,
                    "peak_rss_mb": d.peak_rss_mb,
                    "counts": {
                        "committed": d.committed,
                        "flagged": d.flagged,
                        "dead_lettered": d.dead_lettered,
                        "expected_dead_letters": d.expected_dead_letters,
                        "flagged_decided_by": d.decided_by,
                    },
                    "drain": measure.as_dict(d),
                }
            )
            say(
                f"  {d.throughput_eps:,.0f} events/s, {d.cpu_s_per_1k:.3f} CPU s/1k, "
                f"peak {d.peak_rss_mb:.0f} MB, {d.flagged} flagged, {d.dead_lettered} dead letters"
            )
        for rate in cfg.rates:
            say(f"{name}: {rate:,} events/s offered for {cfg.latency_seconds:.0f} s")
            try:
                lat = measure.latency(cfg, name, rate, workload)
            except BenchError as exc:
                entry["errors"].append(f"latency at {rate}/s: {exc}")
                say(f"  failed: {exc}")
                continue
            entry["latency_ms"][str(rate)] = {"p50": lat.p50, "p95": lat.p95, "p99": lat.p99}
            entry["latency_detail"][str(rate)] = measure.as_dict(lat)
            entry["peak_rss_mb"] = max(entry.get("peak_rss_mb") or 0.0, lat.peak_rss_mb)
            say(
                f"  p50 {lat.p50} / p95 {lat.p95} / p99 {lat.p99} ms over {lat.samples} flagged"
                f"{'' if lat.complete else ' (backlog not cleared)'}"
            )
    say("classification capacity on the workload's texts (bench.routed_share)")
    try:
        results["capacity"] = capacity(cfg)
    except (BenchError, subprocess.TimeoutExpired, orjson.JSONDecodeError, IndexError) as exc:
        results["run"].setdefault("errors", []).append(f"capacity: {exc}")
        say(f"  failed: {exc}")
    else:
        for r in results["capacity"]:
            say(
                f"  {r['system']}: {r['events_per_s']:,.0f} events/s, routed "
                f"{r['routed_share']:.1%}"
            )
    results["run"]["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    shas.add(model_sha256())
    if len(shas) > 1:
        # the contenders may not all have run the same model: the comparison is void
        results["run"].setdefault("errors", []).append(
            "the model file changed during the run: rerun the benchmark"
        )
        say("error: the model file changed during the run; its figures do not compare")
    return results
