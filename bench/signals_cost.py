"""What signal-list matching costs the hot path, per event, on the benchmark's workload.

    python -m bench.signals_cost [--events 4096] [--batch 256] [--passes 5] [--signals 10000]

Runs ``Pipeline.process`` in-process (no broker) on the benchmark workload's events with the
signal lists off, on with no signal loaded, and on with ``--signals`` signals of each kind
(indicators, exact texts, near-duplicate texts; synthetic, so nearly nothing matches: the cost
of looking up, not of flagging). CPU time of this process (``time.process_time``), best of
``--passes``, interleaved so that the machine's load hits every variant alike; the ratio is the
throughput with signals relative to without, in the same run.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from bench.workload import Workload
from streams.networks.minhash import MinHasher, encode_signature
from streams.networks.signals import Signal
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import load_settings

_WORDS = ("win", "prize", "gift", "card", "claim", "now", "free", "bonus", "account", "verify",
          "bank", "login", "click", "link", "urgent", "crypto", "invest", "profit", "double",
          "money", "transfer", "fee", "customs", "parcel", "delivery", "loan", "credit")  # fmt: skip


def synthetic_signals(count: int, kinds: tuple[str, ...], seed: int = 11) -> list[Signal]:
    """``count`` signals of each of ``kinds``, lists ``bench-<kind>``."""
    rng = random.Random(seed)
    out: list[Signal] = []
    hasher = MinHasher()
    for kind in kinds:
        if kind == "indicator":
            out += [
                Signal("bench-indicator", kind, str(rng.randrange(10**8, 10**10)), "scam", "qq")
                for _ in range(count)
            ]
        elif kind == "text_exact":
            out += [
                Signal("bench-text-exact", kind, f"{rng.getrandbits(128):032x}", "spam")
                for _ in range(count)
            ]
        else:
            texts = [" ".join(rng.choices(_WORDS, k=16)) for _ in range(count)]
            sigs, has = hasher.signatures(texts)
            out += [
                Signal("bench-text-near", kind, encode_signature(sig), "scam")
                for sig, ok in zip(sigs, has, strict=True)
                if ok
            ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--signals", type=int, default=10_000, help="Signals of each kind.")
    parser.add_argument(
        "--fast-only", action="store_true", help="Without the encoder tier: the fast path alone."
    )
    args = parser.parse_args()
    tiers: dict[str, Any] = {"accurate_model_path": "none"} if args.fast_only else {}
    n, size = args.events, args.batch
    workload = Workload(seed=5)
    values = [value for _key, value, _kind in workload.events(n, "nc", time.time())]
    messages = [InMessage("t", 0, i, v) for i, v in enumerate(values)]
    batches = [messages[i : i + size] for i in range(0, n, size)]

    variants: dict[str, Pipeline] = {
        "signals off": Pipeline.from_settings(load_settings(signals_enabled=False, **tiers)),
        "on, no signal loaded": Pipeline.from_settings(
            load_settings(signals_enabled=True, **tiers)
        ),
    }
    for label, kinds in (
        ("on, indicators", ("indicator",)),
        ("on, exact texts", ("text_exact",)),
        ("on, near texts", ("text_near",)),
        ("on, all three kinds", ("indicator", "text_exact", "text_near")),
    ):
        pipeline = Pipeline.from_settings(load_settings(signals_enabled=True, **tiers))
        assert pipeline.signals is not None
        for signal in synthetic_signals(args.signals, kinds):
            pipeline.signals.put(signal)
        variants[f"{label} ({len(pipeline.signals)})"] = pipeline
    for pipeline in variants.values():  # warm up: first calls load tables and the PSL
        pipeline.process(batches[0])

    def run(p: Pipeline) -> Callable[[], None]:
        def go() -> None:
            for batch in batches:
                p.process(batch)

        return go

    best = dict.fromkeys(variants, float("inf"))
    for _ in range(args.passes):
        for name, pipeline in variants.items():
            started = time.process_time()
            run(pipeline)()
            best[name] = min(best[name], (time.process_time() - started) / n * 1e6)
    off = best["signals off"]
    tier = "fast tier only" if args.fast_only else "fast + encoder tiers"
    print(f"events {n}, batch {size}, {tier}, CPU µs/event, best of {args.passes} (interleaved)")
    for name, cost in best.items():
        print(f"{name:34s}: {cost:8.1f}  (x{off / cost:.2f} throughput vs off)")


if __name__ == "__main__":
    main()
