"""Campaign and repeat-actor state vs distinct authors: RSS and stored bytes, plotted.

One process holds every shard (the worst case: a single worker owns all the campaign stage's
partitions) and sees ``--authors`` distinct authors post within one window W, so nothing
expires: the state at the end is what a worker holds with that many authors in the window. The
stores are dicts, as Faust's in-memory table store is; each author posts one event:

* 80 % everyday text (distinct word sequences: each is a near-duplicate singleton),
* 15 % flagged text (also counted by the repeat-actor tracker),
* 5 % text with a phone number (a shared-indicator group per number; half the numbers are drawn
  from authors / 50, so they are shared). The numbers are valid UK mobiles (+44 7400…): the
  +44 7700 900… drama range used before is not a valid number, so no group was ever stored.

"stored" is the table's keys and values; "singletons" the in-memory arrays of texts one author
has posted (``streams/networks/singletons.py``); "state" their sum (what the state-size metric
counts, up to the keys).

Run: ``python -m bench.networks_memory [--authors 1000000] [--out bench/results]``; writes
``networks-memory.json`` and ``networks-memory.png`` (RSS and stored MB vs authors) and prints a
table. The issue's bound: <= 300 MB RSS per worker with 1M distinct authors in the window.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from streams.networks.actors import ActorTracker
from streams.networks.campaigns import CampaignConfig, CampaignTracker, Observation
from streams.networks.indicators import IndicatorExtractor
from streams.networks.minhash import MinHasher

_VOCABULARY = (
    "the a to and of in is it you that for on with this my was at be have are not just so but we  "
    "all they like me can your what out up if about get go now one more when time do new today  "
    "good love day see game week night home work team back people know think going got make  "
    "really still great want need last first thanks year happy best look show watch live city  "
    "music photo video news school friends family weekend morning coffee train rain sun"
)
WORDS = _VOCABULARY.split()
BATCH = 1_000


def _events(authors: int, seed: int) -> Iterator[tuple[str, str, tuple[str, ...]]]:
    rng = random.Random(seed)
    for i in range(authors):
        words = rng.choices(WORDS, k=rng.randint(8, 20))
        draw = rng.random()
        if draw < 0.05:
            number = 7_400_000_000 + (rng.randrange(authors // 50 + 1) if rng.random() < 0.5 else i)
            yield f"author-{i:07d}", " ".join(words) + f" call +44 {number}", ()
        elif draw < 0.20:
            yield f"author-{i:07d}", " ".join(words) + " idiot", ("toxic",)
        else:
            yield f"author-{i:07d}", " ".join(words), ()


def _rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 1e6


def measure(authors: int, checkpoints: list[int], seed: int = 11) -> list[dict[str, Any]]:
    store: dict[str, bytes] = {}
    config = CampaignConfig()
    campaigns = CampaignTracker(config, store)
    actors = ActorTracker(store)
    hasher = MinHasher()
    extractor = IndicatorExtractor("GB")
    now = time.time()
    span = 0.8 * config.window_s  # every event inside one window: nothing expires
    gc.collect()
    points: list[dict[str, Any]] = [
        {
            "authors": 0,
            "rss_mb": round(_rss_mb(), 1),
            "stored_mb": 0.0,
            "singleton_mb": 0.0,
            "state_mb": 0.0,
            "keys": 0,
            "singletons": 0,
            "seconds": 0.0,
            "cpu_seconds": 0.0,
        }
    ]
    started = time.perf_counter()
    cpu_started = time.process_time()
    batch: list[tuple[str, str, tuple[str, ...]]] = []
    seen = 0
    marks = iter(sorted(checkpoints))
    mark = next(marks, None)
    for event in _events(authors, seed):
        batch.append(event)
        if len(batch) < BATCH and seen + len(batch) < authors:
            continue
        texts = [text for _, text, _ in batch]
        sigs, has = hasher.signatures(texts)
        observations = []
        for j, (author, text, labels) in enumerate(batch):
            n = seen + j
            indicators = tuple((ind.type, ind.value) for ind in extractor.extract(text))
            observations.append(
                Observation(
                    f"e{n}",
                    author,
                    now - span + span * n / authors,
                    labels,
                    text,
                    sigs[j] if has[j] else None,
                    indicators,
                    bool(labels),
                )
            )
        campaigns.observe(observations)
        actors.observe(observations)
        seen += len(batch)
        batch = []
        while mark is not None and seen >= mark:
            gc.collect()
            stored = sum(len(v) + len(k) for k, v in store.items()) / 1e6
            singles = campaigns.singletons.nbytes() / 1e6
            points.append(
                {
                    "authors": seen,
                    "rss_mb": round(_rss_mb(), 1),
                    "stored_mb": round(stored, 1),
                    "singleton_mb": round(singles, 1),
                    "state_mb": round(stored + singles, 1),
                    "keys": len(store),
                    "singletons": len(campaigns.singletons),
                    "seconds": round(time.perf_counter() - started, 1),
                    # this process's CPU (the wall time above includes other jobs' load)
                    "cpu_seconds": round(time.process_time() - cpu_started, 1),
                }
            )
            p = points[-1]
            print(
                f"{seen:>9,} authors  RSS {p['rss_mb']:7.1f} MB  stored {p['stored_mb']:7.1f} MB"
                f"  singletons {p['singleton_mb']:6.1f} MB  {len(store):>9,} keys"
                f"  {p['singletons']:>9,} singletons  {p['seconds']:6.1f} s"
                f" ({p['cpu_seconds']:.1f} s CPU)",
                flush=True,
            )
            mark = next(marks, None)
    return points


def plot(points: list[dict[str, Any]], path: Path) -> None:
    import matplotlib  # noqa: PLC0415 - the bench extra

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    xs = [p["authors"] / 1e3 for p in points]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(xs, [p["rss_mb"] for p in points], marker="o", label="process RSS")
    ax.plot(xs, [p["state_mb"] for p in points], marker="o", label="state: stored + singletons")
    ax.plot(xs, [p["stored_mb"] for p in points], marker=".", label="stored keys + values")
    ax.axhline(300, linestyle="--", color="grey", label="goal: 300 MB RSS at 1M authors")
    ax.set_xlabel("distinct authors in the window (thousands)")
    ax.set_ylabel("MB")
    ax.set_title("Campaign + repeat-actor state, one worker holding every shard")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--authors", type=int, default=1_000_000, help="Distinct authors.")
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="Results folder.")
    args = parser.parse_args(argv)
    steps = [args.authors * k // 10 for k in range(1, 11)]
    points = measure(args.authors, steps)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "networks-memory.json").write_text(
        json.dumps({"authors": args.authors, "points": points}, indent=1) + "\n"
    )
    plot(points, args.out / "networks-memory.png")
    print(f"wrote {args.out / 'networks-memory.json'} and networks-memory.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
