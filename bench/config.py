"""One frozen object with everything a benchmark run is told, and the three presets."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from bench.contenders import CONTENDERS

Mode = Literal["full", "quick", "smoke"]
RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """A run: N events on P partitions, drained by each contender, then offered loads."""

    mode: Mode = "quick"
    bootstrap: str = "127.0.0.1:9092"
    events: int = 100_000
    partitions: int = 4
    rates: tuple[int, ...] = (1_000, 5_000, 10_000)
    latency_seconds: float = 15.0  # measured window per offered load
    contenders: tuple[str, ...] = tuple(CONTENDERS)
    out_dir: Path = RESULTS_DIR
    work_dir: Path = Path("/tmp/flagstream-bench")
    seed: int = 5
    startup_timeout_s: float = 180.0  # contender start until its first output
    drain_timeout_s: float = 1800.0  # one drain of N events, start to last commit
    settle_timeout_s: float = 120.0  # after a latency window, for the backlog to clear
    keep_topics: bool = False
    # settings passed to every contender as FLAGSTREAM_<NAME>, e.g. {"batch_max": "1024"}
    overrides: tuple[tuple[str, str], ...] = ()
    run_id: str = field(default_factory=lambda: time.strftime("%Y%m%d-%H%M%S"))

    @property
    def run_dir(self) -> Path:
        return self.work_dir / self.run_id


def preset(mode: Mode) -> dict[str, object]:
    """The defaults of each mode; explicit options override them."""
    if mode == "full":
        return {"events": 1_000_000, "latency_seconds": 30.0, "drain_timeout_s": 7200.0}
    if mode == "smoke":
        return {
            "events": 2_000,
            "rates": (1_000,),
            "latency_seconds": 3.0,
            "drain_timeout_s": 300.0,
            "settle_timeout_s": 60.0,
        }
    return {}


def parse_overrides(overrides: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``--set NAME=VALUE`` options as settings overrides (names lower-cased)."""
    return tuple((n.strip().lower(), v) for n, _, v in (o.partition("=") for o in overrides))


def latency_config(
    bootstrap: str, partitions: int, rate: int, seconds: float, overrides: tuple[str, ...]
) -> BenchConfig:
    """The run of a tool that offers one load to workers of its own (breakdown, paired)."""
    return BenchConfig(
        bootstrap=bootstrap,
        partitions=partitions,
        rates=(rate,),
        latency_seconds=seconds,
        overrides=parse_overrides(overrides),
        mode="quick",
    )
