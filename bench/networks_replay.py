"""The 50k firehose of the end-to-end test replayed through one campaign tracker, no broker.

    python -m bench.networks_replay [--out FILE] [--compare FILE] [--batch 256]
        [--spacing 0.002] [--segment-size 65536]

The firehose is ``tests/integration/test_networks_firehose.py``'s (``firehose()``, the same seed:
50,000 benign events from 6,000 authors, the hidden scam, phone, listed and late campaigns).
Each event's observation is built as the tap builds it (MinHash signature of the text clipped
to ``max_text_chars``, the indicators of the campaign indicator types) and fed in batches to
one tracker on a dict holding every shard, event ``i`` at ``T0 + i * --spacing`` seconds;
``flush()`` runs every ``--flush-every`` batches, as the stage's timer does between bundles.
No labels (no classifier) and no signal lists: what is compared is the grouping.

Prints the campaigns (distinct ``campaign_id``), the records and, for each hidden campaign, the
share of its members the best-matching campaign names. ``--out`` writes every campaign's last
record (id, kind, authors, event ids) as JSON; ``--compare`` reads such a file (e.g. written by
the same script on another branch's code) and reports the campaigns that differ: the quality
gate for a change to the near-duplicate state (docs/networks.md, "Memory").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from pathlib import Path
from typing import Any

from streams.networks.campaigns import CampaignTracker, Observation
from streams.networks.indicators import IndicatorExtractor
from streams.networks.minhash import MinHasher
from streams.networks.singletons import SingletonStore
from streams.networks.stage import campaign_config
from streams.settings import load_settings
from tests.integration.test_networks_firehose import SEED, firehose

T0 = 1_800_000_000.0  # a fixed start: the replay decides the same on every run


def replay(
    batch: int, spacing: float, flush_every: int, segment_size: int | None = None
) -> dict[str, Any]:
    settings = load_settings()
    events, hidden = firehose(random.Random(SEED))
    tracker = CampaignTracker(campaign_config(settings), {})
    if segment_size is not None:  # set after the tracker is made: any version's code takes it
        tracker.singletons = SingletonStore(
            tracker.hasher.num_perm, tracker.hasher.bands, segment_size
        )
    hasher = MinHasher()
    extractor = IndicatorExtractor(settings.indicator_default_region)
    types = frozenset(settings.campaign_indicator_types)
    limit = settings.max_text_chars
    latest: dict[str, dict[str, Any]] = {}
    records = 0
    started = time.process_time()
    for b, start in enumerate(range(0, len(events), batch)):
        chunk = events[start : start + batch]
        texts = [text[:limit] for _, _, text in chunk]
        sigs, has = hasher.signatures(texts)
        observations = []
        for j, (event_id, author, text) in enumerate(chunk):
            inds = tuple(
                (ind.type, ind.value) for ind in extractor.extract(text) if ind.type in types
            )
            observations.append(
                Observation(
                    event_id,
                    author,
                    T0 + (start + j) * spacing,
                    (),
                    text,
                    sigs[j] if has[j] else None,
                    inds,
                )
            )
        out = tracker.observe(observations)
        if (b + 1) % flush_every == 0:
            out.extend(tracker.flush())
        for rec in out:
            records += 1
            latest[rec["campaign_id"]] = rec
    for rec in tracker.flush():
        records += 1
        latest[rec["campaign_id"]] = rec
    seconds = time.process_time() - started
    campaigns = {
        cid: {
            "kind": rec["kind"],
            "authors": rec["author_count"],
            "events": sorted(rec["event_ids"]),
        }
        for cid, rec in sorted(latest.items())
    }
    attributed = {}
    for name, campaign in hidden.items():
        truth = campaign.ids
        best = max((len(truth & set(c["events"])) for c in campaigns.values()), default=0)
        attributed[name] = round(best / len(truth), 3)
    digest = hashlib.sha256(json.dumps(campaigns, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "events": len(events),
        "campaigns": len(campaigns),
        "records": records,
        "attributed": attributed,
        "digest": digest,
        "cpu_seconds": round(seconds, 1),
        "by_id": campaigns,
    }


def compare(mine: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    """The campaigns that differ between two replays (empty: the same grouping)."""
    a, b = mine["by_id"], theirs["by_id"]
    lines = [f"only here: {cid} ({a[cid]['authors']} authors)" for cid in sorted(a.keys() - b)]
    lines += [f"only there: {cid} ({b[cid]['authors']} authors)" for cid in sorted(b.keys() - a)]
    for cid in sorted(a.keys() & b.keys()):
        if a[cid] != b[cid]:
            gained = len(set(a[cid]["events"]) - set(b[cid]["events"]))
            lost = len(set(b[cid]["events"]) - set(a[cid]["events"]))
            lines.append(f"differs: {cid} (+{gained} / -{lost} events)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="Observations per bundle.")
    parser.add_argument("--spacing", type=float, default=0.002, help="Seconds between events.")
    parser.add_argument("--flush-every", type=int, default=8, help="Bundles between flushes.")
    parser.add_argument(
        "--segment-size",
        type=int,
        help="Rows of a singleton segment (default the store's 65,536: the 50k firehose then "
        "never seals one; e.g. 16384 seals three, each with a bucketed index).",
    )
    parser.add_argument("--out", type=Path, help="Write every campaign's last record here.")
    parser.add_argument("--compare", type=Path, help="A replay written by --out to compare.")
    args = parser.parse_args(argv)
    result = replay(args.batch, args.spacing, args.flush_every, args.segment_size)
    print(
        f"{result['events']:,} events: {result['campaigns']:,} campaigns, "
        f"{result['records']:,} records, digest {result['digest']}, "
        f"tracker CPU {result['cpu_seconds']} s"
    )
    print("hidden campaigns attributed:", result["attributed"])
    if args.out:
        args.out.write_text(json.dumps(result, indent=0, sort_keys=True) + "\n")
    if args.compare:
        diff = compare(result, json.loads(args.compare.read_text()))
        print(f"{len(diff)} campaigns differ from {args.compare}")
        for line in diff[:40]:
            print(" ", line)
        return 1 if diff else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
