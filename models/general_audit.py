"""The hand audit of the general-domain sets: what was read, what it found, and what to read next.

The everyday sets (tweets, chats, Tatoeba sentences, ...) carry no harm labels and are not clean:
"You're such an idiot!" is a Tatoeba sentence and "Bitch ass idiots" a Broad Twitter Corpus tweet.
Taken as benign, such texts teach the models that plain insults are benign and push the review
points up until they are not flagged, since they count as false positives. So the texts the
shipped models scored highest were read by hand and given a verdict (``models/audit/general.tsv``,
rules in ``models/audit/README.md``). :func:`models.data.general_audit` applies it when the sets
are loaded.

``python -m models.general_audit`` lists the texts that are candidates now (the shipped encoder
scores them at or above ``--threshold`` for toxic or hate) and have no verdict yet, as TSV for a
person to judge; ``--summary`` counts the verdicts per set; ``--fpr`` measures the cascade's
review-point false-positive rate on the general-domain test texts with and without the texts the
audit took out, and how many of those it flags, per verdict.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.data import (
    AUDIT_FILE,
    LABELS,
    Example,
    audit_ignored,
    audit_verdict,
    build_corpus,
    general_audit,
    heldout_hash,
    load_raw,
)
from streams.settings import CASCADE_LOW

THRESHOLD = 0.3  # the encoder score the audit of session 16 read down to


def general_rows(root: Path) -> list[Example]:
    """Every distinct general-domain text the loaders yield (audited non-benign dev/test texts,
    already judged, are not among them)."""
    seen: dict[str, Example] = {}
    for e in load_raw(root, heldout=False):
        if e.domain == "general":
            seen.setdefault(e.text, e)
    return list(seen.values())


def candidates(
    rows: list[Example], fast_path: Path, encoder_path: Path, threshold: float = THRESHOLD
) -> list[tuple[float, Example]]:
    """(score, row) of the rows the encoder scores >= ``threshold`` for toxic or hate, highest first.

    Only rows the fast tier sends to the encoder (any toxic/hate score >= the cascade band's ``CASCADE_LOW``) are
    encoded, as the cascade does.
    """
    from streams.model import load_model  # noqa: PLC0415

    fast = load_model(fast_path)
    encoder = load_model(encoder_path, row_workers=2)
    texts = [e.text[:1000] for e in rows]
    cols = [LABELS.index("toxic"), LABELS.index("hate")]
    f = np.concatenate([fast.score(texts[i : i + 1024]) for i in range(0, len(texts), 1024)])
    routed = np.flatnonzero(f[:, cols].max(axis=1) >= CASCADE_LOW)
    scores = np.zeros(len(rows), dtype=np.float32)
    if len(routed):
        scores[routed] = encoder.score_each([texts[i] for i in routed])[:, cols].max(axis=1)
    picked = [int(i) for i in np.flatnonzero(scores >= threshold)]
    picked.sort(key=lambda i: (-scores[i], rows[i].text))
    return [(float(scores[i]), rows[i]) for i in picked]


def pool_rows(root: Path, langs: tuple[str, ...] = ("en", "zh")) -> list[tuple[Example, str]]:
    """(row, verdict) for every general-domain **test** row of ``langs`` as the sets come, the
    audited texts included (they are not in the card's pool): the verdict is "benign" for a text
    the audit did not read."""
    with audit_ignored():
        corpus = build_corpus(root)
    return [
        (e, audit_verdict(e.text)) for e in corpus.test if e.domain == "general" and e.lang in langs
    ]


def pool_fpr(
    pool: list[tuple[Example, str]], flagged: Sequence[bool]
) -> dict[str, dict[str, tuple[int, int]]]:
    """lang -> {"kept": (flagged, n) over the benign-verdict rows (the card's pool), "all": the
    same with every row counted as benign (the pool before the audit), and per non-benign verdict
    (flagged, n)}."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for (e, verdict), hit in zip(pool, flagged, strict=True):
        cell = out.setdefault(e.lang, {})
        for key in ("all", "kept" if verdict == "benign" else verdict):
            f, n = cell.get(key, (0, 0))
            cell[key] = (f + int(hit), n + 1)
    return out


def summary(path: Path = AUDIT_FILE) -> Counter[tuple[str, str, str]]:
    """(dataset, language, verdict) -> texts."""
    with path.open(encoding="utf-8", newline="") as f:
        return Counter(
            (r["dataset"], r["lang"], r["verdict"]) for r in csv.DictReader(f, delimiter="\t")
        )


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - a tool for people
    from models.encoder import ENCODER_PATH  # noqa: PLC0415
    from models.export import FAST_PATH  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="python -m models.general_audit", description=__doc__)
    p.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data"
    )
    p.add_argument("--threshold", type=float, default=THRESHOLD)
    p.add_argument("--summary", action="store_true", help="count the verdicts and stop")
    p.add_argument(
        "--fpr",
        action="store_true",
        help="the cascade's review-point FPR on general test text with and without the audit",
    )
    args = p.parse_args(argv)
    if args.fpr:
        return _print_fpr(args.data_dir, FAST_PATH, ENCODER_PATH)
    if args.summary:
        for (dataset, lang, verdict), n in sorted(summary().items()):
            print(f"{dataset}\t{lang}\t{verdict}\t{n}")
        return 0
    audited = general_audit()
    print("sha1\tdataset\tlang\tscore\ttext")
    for score, e in candidates(
        general_rows(args.data_dir), FAST_PATH, ENCODER_PATH, args.threshold
    ):
        key = heldout_hash(e.text.strip())
        if key not in audited:
            text = e.text.replace("\t", " ").replace("\n", " ")
            print(f"{key}\t{e.dataset}\t{e.lang}\t{score:.3f}\t{text}")
    return 0


def _print_fpr(root: Path, fast_path: Path, encoder_path: Path) -> int:  # pragma: no cover
    from models.evaluate import CASCADE_HIGH, CASCADE_LOW, score_texts  # noqa: PLC0415
    from streams.classify import Classifier  # noqa: PLC0415
    from streams.model import load_model  # noqa: PLC0415

    pool = pool_rows(root)
    fast = load_model(fast_path)
    encoder = load_model(encoder_path, threads=1)
    classifier = Classifier(
        fast, encoder, cascade_low=CASCADE_LOW, cascade_high=CASCADE_HIGH, cascade_max_busy=1.0
    )
    cascade = score_texts([e.text for e, _ in pool], fast, classifier)["cascade"]
    hits = np.asarray(cascade.flags("review"))
    flagged = [bool(hits[i].any()) for i in range(len(pool))]
    print("lang\tpool\tflagged\tn\tshare")
    for lang, cells in sorted(pool_fpr(pool, flagged).items()):
        for key, (f, n) in sorted(cells.items()):
            print(f"{lang}\t{key}\t{f}\t{n}\t{f / n:.2%}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
