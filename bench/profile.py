"""Where a contender's time goes per event: py-spy attached to it while it drains the preloaded
topic, and the sampled stacks grouped by pipeline stage.

    python -m bench.profile [--contender flagstream] [--events 100000] [--seconds 20]

Writes ``bench/results/profile-<contender>.txt`` (py-spy's collapsed stacks) and
``profile-<contender>.md`` (the share of samples per stage). Each stack is charged to the
innermost frame that belongs to a known stage, so time in orjson/onnxruntime/tokenizers (native,
invisible to py-spy without --native) is charged to the Python function that called it.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import time
from pathlib import Path

from bench import kafka
from bench.config import RESULTS_DIR, BenchConfig
from bench.contenders import CONTENDERS
from bench.errors import BenchError
from bench.measure import contender_env
from bench.preload import preload
from bench.process import WatchedProcess
from bench.workload import Workload

# (stage, substrings of a frame "function (path:line)"), checked from the innermost frame out
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("metrics", ("prometheus_client", "streams/metrics.py", "record_batch (")),
    ("model: ONNX inference", ("onnxruntime/",)),
    ("model: tokenize/features", ("streams/features.py", "tokenizers")),
    ("model: other", ("streams/model.py", "streams/classify.py")),
    ("decode (orjson + schema)", ("streams/events.py", "fastjsonschema")),
    ("decide (policy)", ("streams/policy.py",)),
    ("build outputs (orjson)", ("streams/publish.py", "streams/pipeline.py")),
    ("produce (aiokafka)", ("aiokafka/producer", "_classify_and_send (")),
    ("consume (aiokafka)", ("aiokafka/consumer",)),
    ("kafka client: other", ("aiokafka/", "kafka/")),
    ("Faust/mode", ("faust/", "mode/", "streams/agents.py")),
    ("asyncio event loop", ("asyncio/", "selectors.py", "uvloop")),
)


def _py_spy() -> str:
    beside = Path(sys.executable).parent / "py-spy"  # the venv's, from the bench extra
    return str(beside) if beside.is_file() else "py-spy"


# a leaf frame in one of these is a thread waiting, not working; py-spy's own idle detection
# misses them in this VM, so they are split out here and left out of the CPU shares
IDLE_LEAVES = (
    "select (selectors.py",
    "_worker (concurrent/futures/thread.py",
    "wait (threading.py",
)
IDLE = "idle (waiting in select/queue)"


def classify_stack(stack: str) -> str:
    frames = stack.split(";")
    if any(frames[-1].startswith(leaf) or leaf in frames[-1] for leaf in IDLE_LEAVES):
        return IDLE
    for frame in reversed(frames):
        for stage, needles in STAGES:
            if any(n in frame for n in needles):
                return stage
    return "other"


def summarise(raw: str) -> dict[str, int]:
    """Collapsed stacks (``a;b;c 12`` per line) → samples per stage."""
    per_stage: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            per_stage[classify_stack(stack)] += int(count)
    return dict(per_stage.most_common())


def profile(cfg: BenchConfig, name: str, seconds: float, out_dir: Path) -> Path:
    """Profile ``name`` for ``seconds`` of a drain; returns the Markdown summary's path."""
    kafka.check_broker(cfg.bootstrap)
    cfg.run_dir.mkdir(parents=True, exist_ok=True)
    workload = Workload(seed=cfg.seed)
    pre = preload(cfg.bootstrap, workload, cfg.events, cfg.partitions, cfg.seed)
    flagged, dlq = (
        f"bench.{cfg.run_id}.{name}.profile.flagged",
        f"bench.{cfg.run_id}.{name}.profile.dlq",
    )
    kafka.create_topics(cfg.bootstrap, [flagged, dlq], cfg.partitions, kafka.OUTPUT_TOPIC_CONFIG)
    group = f"bench-{cfg.run_id}-{name}-profile"
    env = contender_env(cfg, pre.topic, flagged, dlq, group, cfg.drain_timeout_s)
    proc = WatchedProcess(CONTENDERS[name].argv, env, cfg.run_dir / f"{name}-profile.log")
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_path = out_dir / f"profile-{name}.txt"
    proc.start()
    try:
        deadline = time.monotonic() + cfg.startup_timeout_s
        while kafka.end_offsets(cfg.bootstrap, dlq, cfg.partitions) == [0] * cfg.partitions:
            if time.monotonic() > deadline or not proc.alive():
                raise BenchError(f"{name} produced nothing; log {proc.log_path}")
            time.sleep(0.2)
        before = kafka.committed_total(cfg.bootstrap, group, pre.topic, cfg.partitions)
        t0 = time.time()
        spy = subprocess.run(
            [_py_spy(), "record", "--pid", str(proc.pid), "--duration", str(int(seconds)),
             "--rate", "100", "--format", "raw", "--output", str(raw_path)],
            capture_output=True, text=True, timeout=seconds + 60, check=False,
        )  # fmt: skip
        t1 = time.time()
        if spy.returncode != 0:
            raise BenchError(f"py-spy failed ({spy.returncode}): {spy.stderr[-2000:]}")
        time.sleep(3)  # Faust commits every second: let the window's offsets land
        after = kafka.committed_total(cfg.bootstrap, group, pre.topic, cfg.partitions)
        cpu = proc.cpu_at(t1) - proc.cpu_at(t0)
    finally:
        proc.stop()
        if not cfg.keep_topics:
            kafka.delete_topics(cfg.bootstrap, [flagged, dlq])
    stages = summarise(raw_path.read_text())
    idle = stages.pop(IDLE, 0)
    busy = sum(stages.values()) or 1
    events = max(after - before, 1)
    lines = [
        f"# py-spy profile of {name} draining {cfg.events:,} events ({cfg.run_id})",
        "",
        f"{seconds:.0f} s sampled at 100 Hz while draining; about {events:,} events committed in "
        f"the window (commits lag by up to a second), {cpu:.1f} CPU s of the process tree "
        f"({cpu / (t1 - t0):.0%} of one core), so about {cpu / events * 1e6:.0f} CPU µs per "
        f"event. {idle / (idle + busy):.0%} of all thread samples were threads waiting "
        "(select, an idle executor), left out below. py-spy pauses the process to sample: "
        "absolute figures are a little slower than unprofiled.",
        "",
        "| stage | share of busy samples | ≈ CPU µs per event |",
        "|---|---|---|",
    ]
    lines += [
        f"| {stage} | {n / busy:.1%} | {cpu * n / busy / events * 1e6:.0f} |"
        for stage, n in stages.items()
    ]
    lines += ["", f"Raw collapsed stacks: `{raw_path.name}`."]
    md = out_dir / f"profile-{name}.md"
    md.write_text("\n".join(lines) + "\n")
    return md


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contender", default="flagstream", choices=list(CONTENDERS))
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args()
    cfg = BenchConfig(bootstrap=args.bootstrap, events=args.events)
    md = profile(cfg, args.contender, args.seconds, args.out)
    print(md.read_text())


if __name__ == "__main__":
    main()
