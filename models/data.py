"""Load the labelled sets from the shared data directory into one deduplicated table.

Every set is read byte for byte from its upstream layout (see ``MANIFEST.md`` in the data
directory) and mapped to flagstream's four labels. A label a set does not annotate is *unknown*
(-1) rather than negative, so that, for example, COLD's group attacks are not taught as "not
hate". Splits:

* ``train`` - what models learn from;
* ``dev``   - calibration and model selection (thresholds are tuned here);
* ``test``  - reported only: official test/dev splits of the benchmarks, and hash-held-back
  slices of sets without an official split.

Deduplication is on normalised text across all sets *before* training rows are chosen: a text
that appears in any dev/test split of any set never reaches training, and duplicate training
texts are merged into one row whose labels are resolved on purpose (positive wins; so a text
labelled smishing in one set and spam in another is scam - scam wins over spam).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

LABELS: tuple[str, ...] = ("spam", "scam", "toxic", "hate")
UNKNOWN = -1
SPLITS = ("train", "dev", "test")
_SPLIT_RANK = {"train": 0, "dev": 1, "test": 2}


@dataclass(frozen=True, slots=True)
class DataSet:
    """One folder of the data directory and what we may do with it."""

    name: str
    lang: str
    licence: str
    ships: bool  # may the shipped (default) model be trained on it?
    source: str


# The licence column of MANIFEST.md, decided once here. OLID is "research use" only, so the
# shipped model does not train on it (its test file is a benchmark either way).
DATASETS: dict[str, DataSet] = {
    d.name: d
    for d in (
        DataSet("davidson", "en", "MIT", True, "Davidson et al. 2017, hate/offensive tweets"),
        DataSet(
            "olid", "en", "research use (cite the paper)", False, "OLID v1.0 / OffensEval 2019"
        ),
        DataSet(
            "tweeteval_hate",
            "en",
            "TweetEval (released without restrictions; cite HatEval)",
            True,
            "TweetEval hate = SemEval-2019 HatEval, English",
        ),
        DataSet("hatexplain", "en", "MIT", True, "HateXplain via MBIB, official split"),
        DataSet("germeval2018", "de", "CC BY 4.0", True, "GermEval 2018 tweets"),
        DataSet("korean_hate", "ko", "CC BY-SA 4.0", True, "Korean entertainment-news comments"),
        DataSet("cold", "zh", "Apache-2.0", True, "COLD, Chinese Offensive Language Dataset"),
        DataSet("swsr", "zh", "MIT", True, "SWSR Sina Weibo sexism comments"),
        DataSet("sms", "en", "CC BY 4.0", True, "UCI SMS Spam Collection"),
        DataSet("mendeley_smish", "en", "CC BY 4.0", True, "Mishra & Soni 2022 SMS smishing"),
        DataSet("youtube_spam", "en", "CC BY 4.0", True, "UCI YouTube Spam Collection (4 videos)"),
    )
}


@dataclass(slots=True)
class Example:
    """One labelled text. ``labels`` holds 1, 0 or UNKNOWN per entry of :data:`LABELS`."""

    text: str
    labels: list[int]
    dataset: str
    split: str
    lang: str
    sources: list[str] = field(default_factory=list)

    @property
    def benign(self) -> bool:
        """Positive for no label and known not to be offensive (toxic annotated 0)."""
        return all(v <= 0 for v in self.labels) and self.labels[2] == 0


_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """The deduplication key: NFKC, lower case, URLs/mentions/punctuation/spacing removed."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = text.replace("<user>", " ").replace("<url>", " ").replace("@user", " ")
    return _NON_WORD.sub(" ", text).strip()


def hash_split(key: str, dev: float = 0.1, test: float = 0.1) -> str:
    """A split chosen by the text itself, so duplicates across sets land together."""
    bucket = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % 1000
    if bucket < test * 1000:
        return "test"
    if bucket < (test + dev) * 1000:
        return "dev"
    return "train"


def _row(spam: int, scam: int, toxic: int, hate: int) -> list[int]:
    return [spam, scam, toxic, hate]


def _example(text: str, labels: list[int], dataset: str, split: str | None) -> Example | None:
    text = text.strip()
    if not text:
        return None
    if split is None:
        split = hash_split(normalise(text))
    return Example(text, labels, dataset, split, DATASETS[dataset].lang, [dataset])


def _csv(path: Path, delimiter: str = ",") -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        yield from csv.DictReader(f, delimiter=delimiter)


def _train_or_dev(text: str) -> str:
    """For sets whose only held-out split is reported as a test: carve a dev from train."""
    return "dev" if hash_split(normalise(text), dev=0.1, test=0.0) == "dev" else "train"


def load_davidson(root: Path) -> Iterator[Example | None]:
    for r in _csv(root / "davidson/data/labeled_data.csv"):
        cls = int(r["class"])
        hate = int(cls == 0)
        toxic = int(cls in (0, 1))
        yield _example(r["tweet"], _row(0, 0, toxic, hate), "davidson", None)


def load_olid(root: Path) -> Iterator[Example | None]:
    base = root / "olid/OLID_dataset"
    for r in _csv(base / "olid-training-v1.0.tsv", "\t"):
        toxic = int(r["subtask_a"] == "OFF")
        yield _example(r["tweet"], _row(0, 0, toxic, UNKNOWN), "olid", _train_or_dev(r["tweet"]))
    gold = {r["id"]: r["subtask_a"] for r in _csv(base / "labels-levela.csv")}
    for r in _csv(base / "testset-levela.tsv", "\t"):
        toxic = int(gold[r["id"]] == "OFF")
        yield _example(r["tweet"], _row(0, 0, toxic, UNKNOWN), "olid", "test")


def load_tweeteval_hate(root: Path) -> Iterator[Example | None]:
    base = root / "tweeteval/hate"
    for name, split in (("train", "train"), ("val", "dev"), ("test", "test")):
        texts = (base / f"{name}_text.txt").read_text(encoding="utf-8").splitlines()
        labels = (base / f"{name}_labels.txt").read_text(encoding="utf-8").splitlines()
        for text, lab in zip(texts, labels, strict=True):
            hate = int(lab.strip())
            # offensiveness is not annotated. Marking only the hateful tweets as toxic would
            # teach "HatEval topic (immigration, women) = toxic" from positives alone.
            yield _example(text, _row(0, 0, UNKNOWN, hate), "tweeteval_hate", split)


def load_hatexplain(root: Path) -> Iterator[Example | None]:
    divisions = json.loads(
        (root / "hatexplain-mbib/hatexplain/Data/post_id_divisions.json").read_text()
    )
    split_of = {pid: ("dev" if s == "val" else s) for s, ids in divisions.items() for pid in ids}
    path = root / "hatexplain-mbib/mbib/datasets/092_HateXplain/092-HateXplain.csv"
    for r in _csv(path):
        category = int(r["category"])  # 0 normal, 1 hate speech, 2 offensive, 3 no majority
        if category == 3:
            continue
        hate = int(category == 1)
        toxic = int(category in (1, 2))
        yield _example(r["text"], _row(0, 0, toxic, hate), "hatexplain", split_of.get(r[""]))


def load_germeval(root: Path) -> Iterator[Example | None]:
    for name in ("training", "test"):
        path = root / f"germeval2018/germeval2018.{name}.txt"
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) < 2:
                continue
            text = parts[0].replace("|LBR|", " ")
            toxic = int(parts[1] == "OFFENSE")
            split = "test" if name == "test" else _train_or_dev(text)
            # ABUSE may or may not be an attack on a protected group: hate unknown
            yield _example(text, _row(0, 0, toxic, UNKNOWN), "germeval2018", split)


def load_korean(root: Path) -> Iterator[Example | None]:
    base = root / "korean-hate-speech/labeled"
    for name in ("train", "dev"):
        for r in _csv(base / f"{name}.tsv", "\t"):
            hate = int(r["hate"] == "hate")
            toxic = int(r["hate"] in ("hate", "offensive"))
            split = "test" if name == "dev" else _train_or_dev(r["comments"])
            yield _example(r["comments"], _row(0, 0, toxic, hate), "korean_hate", split)


def load_cold(root: Path) -> Iterator[Example | None]:
    base = root / "cold/COLDataset"
    for name in ("train", "dev"):
        for r in _csv(base / f"{name}.csv"):
            toxic = int(r["label"])
            split = "test" if name == "dev" else _train_or_dev(r["TEXT"])
            # COLD marks offensive text; whether it attacks a protected group is not annotated
            yield _example(r["TEXT"], _row(0, 0, toxic, UNKNOWN), "cold", split)


def load_swsr(root: Path) -> Iterator[Example | None]:
    for r in _csv(root / "swsr/SWSR/SexComment.csv"):
        hate = int(r["label"])
        # sexism (incl. benevolent sexism) is hate here; offensiveness is not annotated
        yield _example(r["comment_text"], _row(0, 0, UNKNOWN, hate), "swsr", None)


def load_sms(root: Path) -> Iterator[Example | None]:
    path = root / "sms-spam-collection/SMSSpamCollection"
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        label, _, text = line.partition("\t")
        spam = int(label == "spam")
        # UCI does not separate smishing from other spam: scam unknown for its spam
        yield _example(text, _row(spam, UNKNOWN if spam else 0, 0, 0), "sms", None)


def load_mendeley(root: Path) -> Iterator[Example | None]:
    for r in _csv(root / "smish-mendeley/Mendeley_Dataset_5971.csv"):
        label = r["LABEL"].strip().lower()
        scam = int(label == "smishing")
        spam = int(label in ("spam", "smishing"))  # smishing is unsolicited too
        yield _example(r["TEXT"], _row(spam, scam, 0, 0), "mendeley_smish", None)


def load_youtube(root: Path) -> Iterator[Example | None]:
    for path in sorted((root / "youtube-spam").glob("Youtube0*.csv")):
        for r in _csv(path):
            spam = int(r["CLASS"])
            yield _example(
                r["CONTENT"], _row(spam, UNKNOWN if spam else 0, 0, 0), "youtube_spam", None
            )


LOADERS = {
    "davidson": load_davidson,
    "olid": load_olid,
    "tweeteval_hate": load_tweeteval_hate,
    "hatexplain": load_hatexplain,
    "germeval2018": load_germeval,
    "korean_hate": load_korean,
    "cold": load_cold,
    "swsr": load_swsr,
    "sms": load_sms,
    "mendeley_smish": load_mendeley,
    "youtube_spam": load_youtube,
}


def load_raw(root: Path, names: Iterable[str] | None = None) -> list[Example]:
    """Every example of the named sets (default: all), before deduplication."""
    out: list[Example] = []
    for name in names or LOADERS:
        out.extend(e for e in LOADERS[name](root) if e is not None)
    return out


def _merge(labels: list[list[int]]) -> list[int]:
    # positive wins over negative, known over unknown: a smishing copy of a UCI "spam" text
    # becomes scam (and spam), an offensive copy of a "normal" text is offensive.
    return [max(col) for col in zip(*labels, strict=True)]


@dataclass(slots=True)
class Corpus:
    """The deduplicated table: ``train`` merged per normalised text, ``evaluation`` per set."""

    train: list[Example]
    dev: list[Example]
    test: list[Example]
    fingerprint: str
    datasets: tuple[str, ...]
    dropped_for_leak: int

    def split(self, name: str) -> list[Example]:
        return {"train": self.train, "dev": self.dev, "test": self.test}[name]


def build_corpus(
    root: Path, *, train_sets: Iterable[str] | None = None, raw: list[Example] | None = None
) -> Corpus:
    """Deduplicate across all sets, then keep ``train_sets`` (default: those that ship) for training.

    Held-out rows (dev/test) stay per set and unmerged so that each benchmark keeps its rows;
    any training text whose key appears in a held-out split of *any* set is dropped.
    """
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: data directory not found; pass --data-dir")
    wanted = (
        tuple(train_sets)
        if train_sets is not None
        else tuple(n for n, d in DATASETS.items() if d.ships)
    )
    examples = raw if raw is not None else load_raw(root)
    held_out_keys: dict[str, int] = {}
    for e in examples:
        if e.split != "train":
            k = normalise(e.text)
            held_out_keys[k] = max(held_out_keys.get(k, 0), _SPLIT_RANK[e.split])
    merged: dict[str, Example] = {}
    dropped = 0
    for e in examples:
        if e.split != "train" or e.dataset not in wanted:
            continue
        k = normalise(e.text)
        if not k:
            continue
        if k in held_out_keys:
            dropped += 1
            continue
        if k in merged:
            m = merged[k]
            m.labels = _merge([m.labels, e.labels])
            m.sources.append(e.dataset)
        else:
            merged[k] = Example(e.text, list(e.labels), e.dataset, "train", e.lang, [e.dataset])
    train = sorted(merged.values(), key=lambda e: normalise(e.text))
    dev = [e for e in examples if e.split == "dev"]
    test = [e for e in examples if e.split == "test"]
    h = hashlib.sha256()
    for e in train:
        h.update(e.text.encode())
        h.update(bytes(v + 1 for v in e.labels))
    return Corpus(train, dev, test, h.hexdigest()[:16], wanted, dropped)
