"""What indicator extraction costs per text, on the firehose of the campaign end-to-end test.

    python -m bench.indicators_cost [--passes 7] [--region US]

The texts are ``tests/integration/test_networks_firehose.py``'s (``firehose()``, the same seed:
50,000 everyday posts, 40 % Chinese, and the hidden campaigns). Each is extracted once to sort
it into the everyday texts (no indicator: ASCII, and the others, Chinese or with an emoji) and
the ones that carry indicators; then ``IndicatorExtractor.extract`` runs over each group.
CPU time of this process (``time.process_time``: a loaded machine inflates wall time, not CPU
time), best of ``--passes``, the groups interleaved so that the machine's load hits each alike;
µs per text. To compare two versions of the extractor, run it with each on ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import random
import time

from streams.networks.indicators import IndicatorExtractor
from tests.integration.test_networks_firehose import SEED, firehose


def groups(extractor: IndicatorExtractor) -> dict[str, list[str]]:
    """The firehose's texts by what extraction finds in them."""
    events, _hidden = firehose(random.Random(SEED))
    texts = [text for _event_id, _author, text in events]
    quiet = [t for t in texts if not extractor.extract(t)]
    carrying = [t for t in texts if extractor.extract(t)]
    return {
        "all": texts,
        "everyday": quiet,
        "everyday, ASCII": [t for t in quiet if t.isascii()],
        "everyday, not ASCII": [t for t in quiet if not t.isascii()],
        "with indicators": carrying,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passes", type=int, default=7)
    parser.add_argument("--region", default="US", help="the extractor's default_region")
    args = parser.parse_args()
    extractor = IndicatorExtractor(args.region)
    extract = extractor.extract
    texts = groups(extractor)
    best = dict.fromkeys(texts, float("inf"))
    for _ in range(args.passes):
        for name, group in texts.items():
            started = time.process_time()
            for text in group:
                extract(text)
            best[name] = min(best[name], time.process_time() - started)
    print(f"indicator extraction, CPU µs per text, best of {args.passes} passes")
    for name, group in texts.items():
        print(f"  {name:<22} {len(group):>7,} texts  {best[name] / len(group) * 1e6:8.2f} µs")


if __name__ == "__main__":
    main()
