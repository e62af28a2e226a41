"""Load the labelled sets from the shared data directory into one deduplicated table.

Every set is read byte for byte from its upstream layout (see ``MANIFEST.md`` in the data
directory) and mapped to flagstream's four labels. A label a set does not annotate is *unknown*
(-1) rather than negative, so that, for example, COLD's group attacks are not taught as "not
hate".

Label semantics (one meaning per label, whichever set a row comes from):

* ``scam``  - fraud or phishing that tries to extract money, credentials or personal data
  (smishing, fake parcel fees, fake bank agents);
* ``spam``  - unsolicited promotion that is *not* fraud. ``spam`` and ``scam`` are exclusive: a
  scam row has spam 0 (Mendeley ``smishing`` is scam 1 / spam 0, its ``spam`` is spam 1 / scam
  0; UCI SMS and YouTube spam keep scam unknown, since some of it is smishing);
* ``hate``  - an attack on people for a protected characteristic (race, religion, gender,
  sexuality, origin, disability, age ...);
* ``toxic`` - insult, harassment, abuse or profanity aimed at people that is *not* hate. A hate
  positive has toxic *unknown* (masked), never 1: a set that says "hate" does not tell us whether
  the text would still be abusive without the identity attack.

These two rules are enforced on every row (:func:`resolve`) and again when duplicate training
texts are merged: first positive wins over negative and known over unknown per label, then
scam 1 forces spam 0 and hate 1 forces toxic unknown.

Per-set decisions worth knowing (details at each loader): sets that say "toxic" without
separating hate (ParaDetox, Toxic Spans) give toxic 1 / hate unknown; identity templates'
``toxic`` rows are hate, except the ``you_occupation`` template ("You are a fucked secretary"),
whose insults name no protected characteristic: toxic 1 / hate 0; EDOS "not sexist" and
Stormfront ``noHate`` are hate 0 with toxic unknown; K-MHaS politics (2) and profanity (3) are
toxic, a hate id wins; TeleAntiFraud caller turns are scam, the callee's replies are left out,
and turns under six characters are dropped.

Domains (``Example.domain``), so that calibration can tell kinds of negatives apart:

* ``labelled``   - a row of a harm-labelled set (the default);
* ``hard``       - a benign row written to sit next to harmful text: ParaDetox paraphrases,
  ``nontoxic`` identity templates, HatemojiBuild contrast cases, TeleAntiFraud normal
  (service) calls;
* ``borderline`` - negative for some labels but not clean: Toxic Spans posts most annotators
  called "not toxic" (Civil Comments had pre-selected them as likely toxic; toxic 0) and
  Stormfront ``noHate`` sentences. They never count as :attr:`Example.benign`, so a
  false-positive rate on benign text does not punish flagging them;
* ``general``    - everyday text with no harm labels (CDial-GPT, KdConv, CMRC 2018, UD
  sentences, Tatoeba, Broad Twitter Corpus), all four labels 0: :attr:`Example.general_benign`.
  These sets are not clean: the texts the models scored highest were read by hand
  (``models/audit/``) and those found to be insults, hate, profanity or unclear are labelled so in
  training and left out of dev and test (:data:`AUDIT_LABELS`).

Splits:

* ``train`` - what models learn from;
* ``dev``   - calibration and model selection (thresholds are tuned here);
* ``test``  - reported only: official test/dev splits of the benchmarks, and hash-held-back
  slices of sets without an official split. General-domain sets split 50/25/25 (train
  negatives / threshold calibration / reported false-positive rate).

Rows that belong together are split together: a ParaDetox toxic sentence and its paraphrases
(by the toxic sentence), the rows of one identity template (by template), the turns of one
TeleAntiFraud call (by its first turn), the sentences of one Stormfront post or CMRC paragraph,
both sides of a Tatoeba pair.

Every text whose :func:`heldout_key` hashes to a line of ``HELDOUT_OVERLAP.txt`` is dropped at
load time, from every split (see :attr:`Corpus.dropped_heldout`).

Deduplication is on normalised text across all sets *before* training rows are chosen: a text
that appears in any dev/test split of any set never reaches training, and duplicate training
texts are merged into one row whose labels are resolved as above.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import json
import re
import string
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

LABELS: tuple[str, ...] = ("spam", "scam", "toxic", "hate")
UNKNOWN = -1
SPLITS = ("train", "dev", "test")
_SPLIT_RANK = {"train": 0, "dev": 1, "test": 2}
_SPAM, _SCAM, _TOXIC, _HATE = range(4)

DOMAINS = ("labelled", "hard", "borderline", "general")
# When duplicate training texts merge: "borderline" must survive (it is never benign), a
# labelled row says more than a hard negative, which says more than general text.
_DOMAIN_RANK = {"general": 0, "hard": 1, "labelled": 2, "borderline": 3}
HELDOUT_FILE = "HELDOUT_OVERLAP.txt"


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
        DataSet(
            "synthetic_zh_fraud",
            "zh",
            "CC0 (written by the flagstream team)",
            True,
            "Chinese SMS/chat fraud and benign look-alikes from slot templates "
            "(models/synthetic_zh.py; training rows only)",
        ),
        DataSet(
            "synthetic_zh_spam",
            "zh",
            "CC0 (written by the flagstream team)",
            True,
            "Chinese promotion spam (opt-out SMS, resellers, grey services, ads, game servers, "
            "comment spam) and benign look-alikes from slot templates "
            "(models/synthetic_zh_spam.py; training rows only)",
        ),
        DataSet(
            "synthetic_abuse",
            "en, zh",
            "CC0 (written by the flagstream team)",
            True,
            "hate without slurs, plain insults and their benign look-alikes from slot "
            "templates (models/synthetic_abuse.py; training rows only)",
        ),
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
        DataSet("edos", "en", "CC0 1.0", True, "EDOS (SemEval-2023 Task 10) online sexism"),
        DataSet("paradetox", "en", "CC0 1.0", True, "ParaDetox toxic/neutral paraphrase pairs"),
        DataSet("toxic_spans", "en", "CC0 1.0", True, "Toxic Spans (SemEval-2021 Task 5) posts"),
        DataSet(
            "jigsaw_templates",
            "en, de, zh",
            "CC BY 4.0",
            True,
            "Jigsaw identity-term bias sentence templates",
        ),
        DataSet("hatemoji", "en", "CC BY 4.0", True, "HatemojiBuild emoji hate + contrasts"),
        DataSet("stormfront", "en", "CC BY-SA 3.0 ES", True, "de Gibert et al. 2018, Stormfront"),
        DataSet(
            "teleantifraud",
            "zh",
            "Apache-2.0",
            True,
            "TeleAntiFraud AntiFraudMatrix, LLM-generated phone calls",
        ),
        DataSet(
            "kmhas",
            "ko",
            "CC BY-SA 4.0 (Hugging Face dataset card)",
            True,
            "K-MHaS Korean news comments",
        ),
        DataSet("cdial_gpt", "zh", "MIT", True, "CDial-GPT LCCC sample chats (general)"),
        DataSet("kdconv", "zh", "Apache-2.0", True, "KdConv knowledge dialogues (general)"),
        DataSet("cmrc2018", "zh", "CC BY-SA 4.0", True, "CMRC 2018 dev, Chinese Wikipedia"),
        DataSet(
            "ud_sentences",
            "en, zh, ko, de, ja",
            "CC BY-SA 4.0; Chinese-PUD CC BY-SA 3.0",
            True,
            "Universal Dependencies sentences (general)",
        ),
        DataSet(
            "tatoeba",
            "en, ko, zh",
            "CC BY 2.0 FR",
            True,
            "Tatoeba sentence pairs (general)",
        ),
        DataSet(
            "broad_twitter",
            "en",
            "CC BY 4.0 (Twitter terms apply)",
            True,
            "Broad Twitter Corpus tweets (general)",
        ),
    )
}
GENERAL_SETS = ("cdial_gpt", "kdconv", "cmrc2018", "ud_sentences", "tatoeba", "broad_twitter")


@dataclass(slots=True)
class Example:
    """One labelled text. ``labels`` holds 1, 0 or UNKNOWN per entry of :data:`LABELS`.

    ``domain`` is one of :data:`DOMAINS` (see the module docstring). ``upstream`` is the text
    unit as the upstream file holds it when ``text`` was cleaned or cut from it (CDial-GPT
    spacing, a CMRC paragraph); the held-out filter checks both.
    """

    text: str
    labels: list[int]
    dataset: str
    split: str
    lang: str
    sources: list[str] = field(default_factory=list)
    domain: str = "labelled"
    upstream: str | None = field(default=None, repr=False, compare=False)

    @property
    def benign(self) -> bool:
        """Positive for no label, known not offensive (toxic 0), and not a borderline row."""
        return (
            all(v <= 0 for v in self.labels)
            and self.labels[_TOXIC] == 0
            and self.domain != "borderline"
        )

    @property
    def general_benign(self) -> bool:
        """Everyday text from a general-domain set (not a hard negative of a labelled set)."""
        return self.domain == "general" and self.benign


# --- normalisation ------------------------------------------------------------------------

_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def _fold(text: str) -> str:
    """NFKC then lower case: the first step of both keys (ASCII is already NFKC)."""
    return text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).lower()


def _normalise_folded(text: str) -> str:
    # the guards skip regex passes that cannot match (most texts): same result, faster
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _MENTION.sub(" ", text)
    if "<u" in text:
        text = text.replace("<user>", " ").replace("<url>", " ")
    return _NON_WORD.sub(" ", text).strip()


def normalise(text: str) -> str:
    """The deduplication key: NFKC, lower case, URLs/mentions/punctuation/spacing removed."""
    return _normalise_folded(_fold(text))


# HELDOUT_OVERLAP.txt's own normalisation, copied from its header. It is not ours: it keeps
# "_", maps only P* categories and string.punctuation to spaces, deletes Cf characters and
# removes spaces next to CJK characters. Only the per-character loop is done differently
# (str.translate with a lazily filled table), which gives the same string much faster.
_H_URL = re.compile(r"(?:https?://|www\.)\S+")
_H_PLACEHOLDER = re.compile(r"\[(?:user|url)\]|<(?:user|url)>|\burl\b")
_H_MENTION = re.compile(r"@\w+")
_H_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_H_CJK_SPACE = re.compile(rf" (?=[{_H_CJK}])|(?<=[{_H_CJK}]) ")


class _HeldoutTable(dict[int, str | None]):
    """Code point -> " " (punctuation), None (Cf: delete) or the character itself."""

    def __missing__(self, cp: int) -> str | None:
        c = chr(cp)
        category = unicodedata.category(c)
        if category.startswith("P") or c in string.punctuation:
            self[cp] = " "
        elif category == "Cf":
            self[cp] = None
        else:
            self[cp] = c
        return self[cp]


_H_TABLE = _HeldoutTable()


def _heldout_folded(t: str) -> str:
    # each guard skips a pass that cannot change t (every pattern needs that substring)
    if "http" in t or "www." in t:
        t = _H_URL.sub(" ", t)
    if "url" in t or "user" in t:
        t = _H_PLACEHOLDER.sub(" ", t)
    if "@" in t:
        t = _H_MENTION.sub(" ", t)
    t = t.translate(_H_TABLE)
    t = " ".join(t.split())
    return t if t.isascii() or " " not in t else _H_CJK_SPACE.sub("", t)


def heldout_key(text: str) -> str:
    """``normalise()`` of the header of HELDOUT_OVERLAP.txt, character for character."""
    return _heldout_folded(_fold(text))


def _sha1(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def heldout_hash(text: str) -> str:
    """The sha1 HELDOUT_OVERLAP.txt lists for a text."""
    return _sha1(heldout_key(text))


def load_heldout(root: Path) -> frozenset[str]:
    """The sha1 column of ``HELDOUT_OVERLAP.txt``: texts that must never be trained or tuned on."""
    path = root / HELDOUT_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: list of held-out overlaps not found; the data directory must carry it "
            "(training on those texts would leak the evaluation sets)"
        )
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            out.add(line.split("\t", 1)[0].strip())
    return frozenset(out)


def hash_split(key: str, dev: float = 0.1, test: float = 0.1) -> str:
    """A split chosen by the text itself, so duplicates across sets land together."""
    bucket = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") % 1000
    if bucket < test * 1000:
        return "test"
    if bucket < (test + dev) * 1000:
        return "dev"
    return "train"


def _general_split(key: str) -> str:
    return hash_split(normalise(key), dev=0.25, test=0.25)


# --- labels -------------------------------------------------------------------------------


def _row(spam: int, scam: int, toxic: int, hate: int) -> list[int]:
    return [spam, scam, toxic, hate]


def resolve(labels: list[int]) -> list[int]:
    """Apply the exclusivity rules in place: scam 1 forces spam 0, hate 1 masks toxic."""
    if labels[_SCAM] == 1:
        labels[_SPAM] = 0
    if labels[_HATE] == 1:
        labels[_TOXIC] = UNKNOWN
    return labels


def merge_labels(labels: Iterable[list[int]]) -> list[int]:
    """Labels of one text from several rows: positive wins, known over unknown, then resolved."""
    return resolve([max(col) for col in zip(*labels, strict=True)])


def _merge(labels: list[list[int]]) -> list[int]:
    return merge_labels(labels)


_ALL0 = (0, 0, 0, 0)
_HATE1 = (0, 0, UNKNOWN, 1)  # hate positive: toxic masked
_TOXIC1 = (0, 0, 1, UNKNOWN)  # toxic from a set that does not separate hate
_SCAM1 = (0, 1, 0, 0)
_SPAM1 = (1, 0, 0, 0)
_GREY_SPAM = (1, UNKNOWN, 0, 0)  # a grey service: some are a fraud, some deliver


def _example(
    text: str,
    labels: list[int] | tuple[int, ...],
    dataset: str,
    split: str | None,
    *,
    lang: str | None = None,
    domain: str = "labelled",
    upstream: str | None = None,
) -> Example | None:
    text = text.strip()
    if not text:
        return None
    if split is None:
        split = hash_split(normalise(text))
    return Example(
        text,
        resolve(list(labels)),
        dataset,
        split,
        lang or DATASETS[dataset].lang,
        [dataset],
        domain,
        upstream,
    )


def _csv(path: Path, delimiter: str = ",", *, quote_none: bool = False) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as f:
        if quote_none:
            yield from csv.DictReader(f, delimiter=delimiter, quoting=csv.QUOTE_NONE)
        else:
            yield from csv.DictReader(f, delimiter=delimiter)


def _train_or_dev(text: str) -> str:
    """For sets whose only held-out split is reported as a test: carve a dev from train."""
    return "dev" if hash_split(normalise(text), dev=0.1, test=0.0) == "dev" else "train"


# --- loaders: the original sets -----------------------------------------------------------


def load_davidson(root: Path) -> Iterator[Example | None]:
    for r in _csv(root / "davidson/data/labeled_data.csv"):
        cls = int(r["class"])  # 0 hate, 1 offensive (not hate), 2 neither
        labels = _HATE1 if cls == 0 else _row(0, 0, int(cls == 1), 0)
        yield _example(r["tweet"], labels, "davidson", None)


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
        labels = _HATE1 if category == 1 else _row(0, 0, int(category == 2), 0)
        yield _example(r["text"], labels, "hatexplain", split_of.get(r[""]))


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
            yield _example(
                text, _row(0, 0, toxic, UNKNOWN), "germeval2018", split, upstream=parts[0]
            )


def load_korean(root: Path) -> Iterator[Example | None]:
    base = root / "korean-hate-speech/labeled"
    for name in ("train", "dev"):
        for r in _csv(base / f"{name}.tsv", "\t"):
            kind = r["hate"]  # hate / offensive (not hate) / none
            labels = _HATE1 if kind == "hate" else _row(0, 0, int(kind == "offensive"), 0)
            split = "test" if name == "dev" else _train_or_dev(r["comments"])
            yield _example(r["comments"], labels, "korean_hate", split)


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
        # smishing is fraud, so scam and not spam
        labels = _SCAM1 if label == "smishing" else _row(int(label == "spam"), 0, 0, 0)
        yield _example(r["TEXT"], labels, "mendeley_smish", None)


def load_youtube(root: Path) -> Iterator[Example | None]:
    for path in sorted((root / "youtube-spam").glob("Youtube0*.csv")):
        for r in _csv(path):
            spam = int(r["CLASS"])
            yield _example(
                r["CONTENT"], _row(spam, UNKNOWN if spam else 0, 0, 0), "youtube_spam", None
            )


# --- loaders: labelled sets added 2026-12 -------------------------------------------------


def load_edos(root: Path) -> Iterator[Example | None]:
    for r in _csv(root / "edos/data/edos_labelled_aggregated.csv"):
        # sexism is hate (gender); "not sexist" says nothing about other abuse: toxic unknown
        hate = int(r["label_sexist"] == "sexist")
        yield _example(r["text"], _row(0, 0, UNKNOWN, hate), "edos", r["split"])


def load_paradetox(root: Path) -> Iterator[Example | None]:
    base = root / "paradetox/paradetox"
    for r in _csv(base / "paradetox.tsv", "\t"):
        toxic = r["toxic"] or ""
        # the pair is one unit: the toxic sentence decides where its paraphrases go
        split = hash_split(normalise(toxic))
        yield _example(toxic, _TOXIC1, "paradetox", split)
        for col in ("neutral1", "neutral2", "neutral3"):
            if r.get(col):
                yield _example(r[col], _ALL0, "paradetox", split, domain="hard")
    for r in _csv(base / "paradetox_cannot_rewrite.tsv", "\t"):
        upstream = r["INPUT:toxic_comment"]
        reasons = json.loads(r["OUTPUT:reasons"] or "{}")
        # upstream wraps each comment in a pair of literal quotes; a few rows are bare numbers
        text = upstream.strip()
        if len(text) >= 2 and text[0] == text[-1] == '"':
            text = text[1:-1]
        if not reasons.get("toxic_content") or reasons.get("not_toxic"):
            continue
        if not any(c.isalpha() for c in text):
            continue
        yield _example(text, _TOXIC1, "paradetox", hash_split(normalise(text)), upstream=upstream)


def load_toxic_spans(root: Path) -> Iterator[Example | None]:
    base = root / "toxic-spans/data"
    # One vote per annotator: "not toxic" ticked (and not "all toxic") is a vote for not
    # toxic, no "not toxic" tick is a vote for toxic (spans or "all toxic"). 21,189 rows tick
    # both boxes; the upstream README calls them separate tick-boxes, so both ticked is a
    # contradiction and abstains (counting them as "not toxic" would call 1,700 posts with
    # agreed toxic spans in tsd_train "not toxic").
    votes: dict[str, list[int]] = {}
    for r in _csv(base / "annotations.csv"):
        all_toxic, not_toxic = r["all toxic"] == "True", r["not toxic"] == "True"
        if all_toxic and not_toxic:
            continue
        v = votes.setdefault(r["comment_id"], [0, 0])
        v[int(not_toxic)] += 1
    for r in _csv(base / "comments.csv"):
        yes, no = votes.get(r["comment_id"], (0, 0))
        if yes > no:
            yield _example(r["comment_text"], _TOXIC1, "toxic_spans", None)
        elif no > yes:
            # pre-selected as likely toxic by Civil Comments: negative, never clean benign
            yield _example(
                r["comment_text"], _row(0, 0, 0, 0), "toxic_spans", None, domain="borderline"
            )


def _template_splits(lang: str, templates: Iterable[str]) -> dict[str, str]:
    """Per language, whole templates go to one split: hash order, first test, second dev."""
    ordered = sorted(
        set(templates), key=lambda t: hashlib.blake2b(f"{lang}/{t}".encode()).hexdigest()
    )
    out = dict.fromkeys(ordered, "train")
    if len(ordered) >= 3:
        out[ordered[0]] = "test"
        out[ordered[1]] = "dev"
    return out


def load_jigsaw_templates(root: Path) -> Iterator[Example | None]:
    base = root / "jigsaw-sentence-templates/sentence_templates"
    for file_lang, lang in (("en", "en"), ("de", "de"), ("zh-cn", "zh")):
        rows = list(_csv(base / f"{file_lang}_sentence_templates.csv"))
        splits = _template_splits(lang, (r["template"] for r in rows))
        for r in rows:
            if r["toxicity"] == "toxic":
                # an insult on an occupation is not an identity attack
                labels = _row(0, 0, 1, 0) if r["template"] == "you_occupation" else _HATE1
                domain = "labelled"
            else:
                labels, domain = _ALL0, "hard"
            yield _example(
                r["phrase"],
                labels,
                "jigsaw_templates",
                splits[r["template"]],
                lang=lang,
                domain=domain,
            )


def load_hatemoji(root: Path) -> Iterator[Example | None]:
    base = root / "hatemoji-build/HatemojiBuild"
    for name, split in (("train", "train"), ("validation", "dev"), ("test", "test")):
        for r in _csv(base / f"{name}.csv"):
            if r["label_gold"] == "1":
                yield _example(r["text"], _HATE1, "hatemoji", split)
            else:  # the perturbed contrast cases: benign, and close to hate
                yield _example(r["text"], _ALL0, "hatemoji", split, domain="hard")


def load_stormfront(root: Path) -> Iterator[Example | None]:
    base = root / "stormfront"
    label_of = {r["file_id"]: r["label"] for r in _csv(base / "annotations_metadata.csv")}
    for r in _csv(base / "sentences.tsv", "\t", quote_none=True):
        label = label_of.get(r["file_id"])
        # the sentences of one post (file_id "<post>_<n>") stay in one split
        split = hash_split(r["file_id"].rsplit("_", 1)[0])
        if label == "hate":
            yield _example(r["text"], _HATE1, "stormfront", split)
        elif label == "noHate":
            # white-supremacist forum text: not hate, abuse not annotated, not clean benign
            yield _example(
                r["text"], _row(0, 0, UNKNOWN, 0), "stormfront", split, domain="borderline"
            )


_MIN_TURN = 6  # "喂？", "你好" and the like are not scam


def load_teleantifraud(root: Path) -> Iterator[Example | None]:
    base = root / "teleantifraud-zh/multi-agents-tools"
    files = [(p, True) for p in sorted((base / "AntiFraudMatrix/results").glob("fraud_*.jsonl"))]
    files += [(p, False) for p in sorted((base / "AntiFraudMatrix-normal/results").glob("*.jsonl"))]
    for path, fraud in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            d = json.loads(line)
            left: list[str] = d.get("left") or []
            right: list[str] = d.get("right") or []
            # tts_id repeats across files: the call's first turn identifies it
            opening = left[0] if left else (right[0] if right else "")
            split = hash_split(normalise(opening))
            turns = left if fraud else left + right  # a victim's replies are not scam: dropped
            for turn in turns:
                if len(turn.strip()) < _MIN_TURN:
                    continue
                if fraud:
                    yield _example(turn, _SCAM1, "teleantifraud", split)
                else:
                    yield _example(turn, _ALL0, "teleantifraud", split, domain="hard")


_KMHAS_HATE = frozenset({0, 1, 4, 5, 6, 7})  # origin, physical, age, gender, race, religion
_KMHAS_TOXIC = frozenset({2, 3})  # politics, profanity


def load_kmhas(root: Path) -> Iterator[Example | None]:
    base = root / "k-mhas/data"
    for name in ("kmhas_valid", "kmhas_test"):
        for r in _csv(base / f"{name}.txt", "\t"):
            ids = {int(x) for x in r["label"].split(",") if x.strip()}
            if ids & _KMHAS_HATE:
                labels: tuple[int, ...] | list[int] = _HATE1
            elif ids & _KMHAS_TOXIC:
                labels = _row(0, 0, 1, 0)
            elif ids == {8}:
                labels = _ALL0
            else:
                continue
            split = "test" if name == "kmhas_test" else _train_or_dev(r["document"])
            yield _example(r["document"], labels, "kmhas", split)


# --- loaders: general-domain benign text --------------------------------------------------


AUDIT_FILE = Path(__file__).parent / "audit" / "general.tsv"
# What a verdict of the general-domain audit (models/audit/README.md) makes of a training row.
# Outside training an audited text is left out unless it is benign: dev and test keep the
# everyday text the false-positive bounds are stated on, and these texts are not benign.
AUDIT_LABELS: dict[str, tuple[int, int, int, int]] = {
    "benign": _ALL0,
    "insult": (0, 0, 1, 0),  # an insult or abuse aimed at a person, no protected trait
    "hate": _HATE1,
    # profanity aimed at no one: neither taught as toxic nor benign
    "profanity": (0, 0, UNKNOWN, 0),
    "unsure": (0, 0, UNKNOWN, UNKNOWN),
}


@functools.cache
def general_audit(path: Path = AUDIT_FILE) -> dict[str, str]:
    """sha1 of :func:`heldout_key` -> verdict, for the audited general-domain texts."""
    out: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.DictReader(f, delimiter="\t"), start=2):
            verdict = row.get("verdict")
            if verdict not in AUDIT_LABELS or not row.get("sha1"):
                raise ValueError(
                    f"{path}:{n}: verdict {verdict!r} is not one of {', '.join(AUDIT_LABELS)} "
                    "(or the sha1 is empty): fix the line"
                )
            out[row["sha1"]] = verdict
    return out


_AUDIT_APPLIED: ContextVar[bool] = ContextVar("general_audit_applied", default=True)


@contextlib.contextmanager
def audit_ignored() -> Iterator[None]:
    """Load the general-domain sets as they come, every text benign in every split: for
    measuring what the audit changed (``python -m models.general_audit --fpr``), never for
    training or the card."""
    token = _AUDIT_APPLIED.set(False)
    try:
        yield
    finally:
        _AUDIT_APPLIED.reset(token)


def audit_verdict(text: str) -> str:
    """The audit's verdict on a general-domain text; "benign" for a text it did not read."""
    return general_audit().get(heldout_hash(text.strip()), "benign")


def _general(
    text: str, dataset: str, split: str, lang: str | None = None, upstream: str | None = None
) -> Example | None:
    verdict = audit_verdict(text) if _AUDIT_APPLIED.get() else "benign"
    if verdict != "benign" and split != "train":
        return None
    labels = AUDIT_LABELS[verdict]
    return _example(text, labels, dataset, split, lang=lang, domain="general", upstream=upstream)


# a space goes unless both neighbours are ASCII (keeps "iphone 6", drops "你 好")
_CHAR_SPACE = re.compile(r"(?<=[^\x00-\x7f]) +| +(?=[^\x00-\x7f])")


def load_cdial_gpt(root: Path) -> Iterator[Example | None]:
    path = root / "cdial-gpt/data/toy_train.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        utterances = line.split("\t")
        split = _general_split(line)
        for u in utterances:
            yield _general(_CHAR_SPACE.sub("", u), "cdial_gpt", split, upstream=u)


def load_kdconv(root: Path) -> Iterator[Example | None]:
    for path in sorted((root / "kdconv/data").glob("*/*.json")):
        for dialogue in json.loads(path.read_text(encoding="utf-8")):
            messages = [m.get("message", "") for m in dialogue.get("messages", [])]
            if not messages:
                continue
            split = _general_split(messages[0] + "".join(messages[1:2]))
            for m in messages:
                yield _general(m, "kdconv", split)


_SENTENCE_END = re.compile(r"(?<=[。！？])")


def load_cmrc2018(root: Path) -> Iterator[Example | None]:
    data = json.loads(
        (root / "cmrc2018/squad-style-data/cmrc2018_dev.json").read_text(encoding="utf-8")
    )
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            split = _general_split(context)
            for sentence in _SENTENCE_END.split(context):
                yield _general(sentence, "cmrc2018", split, upstream=context)
            for qa in paragraph.get("qas", []):
                yield _general(qa["question"], "cmrc2018", split)


_UD_LANG = {"English": "en", "Chinese": "zh", "Korean": "ko", "German": "de", "Japanese": "ja"}


def load_ud_sentences(root: Path) -> Iterator[Example | None]:
    for path in sorted((root / "ud-sentences").glob("UD_*/*.conllu")):
        lang = _UD_LANG[path.parent.name.removeprefix("UD_").split("-", 1)[0]]
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("# text = "):
                text = line.removeprefix("# text = ")
                yield _general(text, "ud_sentences", _general_split(text), lang)


def load_tatoeba(root: Path) -> Iterator[Example | None]:
    base = root / "tatoeba-pairs"
    for rel, other in (
        ("kor-eng-translator/kor.txt", "ko"),
        ("Keras_tutorial/cmn-eng/cmn.txt", "zh"),
    ):
        for line in (base / rel).read_text(encoding="utf-8-sig").splitlines():
            parts = line.split("\t")
            if len(parts) < 2:
                continue
            split = _general_split(parts[0])  # one English sentence, all its translations
            yield _general(parts[0], "tatoeba", split, "en")
            yield _general(parts[1], "tatoeba", split, other)


def load_broad_twitter(root: Path) -> Iterator[Example | None]:
    for path in sorted((root / "broad-twitter-corpus").glob("*.conll")):
        tokens: list[str] = []
        for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
            if line.strip():
                tokens.append(line.split("\t", 1)[0])
            elif tokens:
                text = " ".join(tokens)
                tokens = []
                yield _general(text, "broad_twitter", _general_split(text))


def _written_zh(
    dataset: str,
    harm: list[tuple[str, str]],
    benign: list[str],
    labels: Callable[[str], tuple[int, ...]],
) -> Iterator[Example | None]:
    """A Chinese written bridge's rows: ``harm`` (text, kind) labelled ``labels(kind)``, ``benign``
    as hard negatives; training rows only, none near a golden Chinese text."""
    from models import synthetic_zh  # noqa: PLC0415 - keeps the loader table import-light
    from models.golden import load_golden  # noqa: PLC0415

    golden = [t.text for t in load_golden("zh")]
    texts = [t for t, _ in harm] + benign
    for i, (text, far) in enumerate(zip(texts, synthetic_zh.far_from(texts, golden), strict=True)):
        if not far:
            continue
        if i < len(harm):
            yield _example(text, labels(harm[i][1]), dataset, "train")
        else:
            yield _example(text, _ALL0, dataset, "train", domain="hard")


def load_synthetic_zh_fraud(root: Path) -> Iterator[Example | None]:
    """models/synthetic_zh.py: training rows only; none near a golden Chinese text."""
    from models import synthetic_zh  # noqa: PLC0415 - keeps the loader table import-light

    del root  # written here, not read from the data directory
    scams, benign = synthetic_zh.generate()
    yield from _written_zh("synthetic_zh_fraud", scams, benign, lambda kind: _SCAM1)


def load_synthetic_zh_spam(root: Path) -> Iterator[Example | None]:
    """models/synthetic_zh_spam.py: training rows only; none near a golden Chinese text."""
    from models import synthetic_zh_spam  # noqa: PLC0415 - keeps the loader table import-light

    del root  # written here, not read from the data directory
    spams, benign = synthetic_zh_spam.generate()
    yield from _written_zh(
        "synthetic_zh_spam",
        spams,
        benign,
        lambda kind: _GREY_SPAM if synthetic_zh_spam.is_grey(kind) else _SPAM1,
    )


def load_synthetic_abuse(root: Path) -> Iterator[Example | None]:
    """models/synthetic_abuse.py: training rows only; none near a golden text of its language."""
    from models import synthetic_abuse, synthetic_zh  # noqa: PLC0415 - import-light loader table
    from models.golden import load_golden  # noqa: PLC0415

    del root  # written here, not read from the data directory
    rows: dict[str, tuple[int, ...]] = {"hate": _HATE1, "insult": (0, 0, 1, 0), "benign": _ALL0}
    golden = {lang: [t.text for t in load_golden(lang)] for lang in ("en", "zh")}
    for (lang, kind), texts in synthetic_abuse.generate().items():
        for text, far in zip(texts, synthetic_zh.far_from(texts, golden[lang]), strict=True):
            if far:
                domain = "hard" if kind == "benign" else "labelled"
                yield _example(
                    text, rows[kind], "synthetic_abuse", "train", lang=lang, domain=domain
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
    "edos": load_edos,
    "paradetox": load_paradetox,
    "toxic_spans": load_toxic_spans,
    "jigsaw_templates": load_jigsaw_templates,
    "hatemoji": load_hatemoji,
    "stormfront": load_stormfront,
    "teleantifraud": load_teleantifraud,
    "kmhas": load_kmhas,
    "cdial_gpt": load_cdial_gpt,
    "kdconv": load_kdconv,
    "cmrc2018": load_cmrc2018,
    "ud_sentences": load_ud_sentences,
    "tatoeba": load_tatoeba,
    "broad_twitter": load_broad_twitter,
    "synthetic_zh_fraud": load_synthetic_zh_fraud,
    "synthetic_zh_spam": load_synthetic_zh_spam,
    "synthetic_abuse": load_synthetic_abuse,
}


def _keys(
    examples: Iterable[Example], heldout: frozenset[str], dropped: dict[str, int] | None
) -> tuple[list[Example], list[str]]:
    """The examples HELDOUT_OVERLAP.txt does not list, with their :func:`normalise` keys.

    One pass, one NFKC per text: both keys start from the same folded string.
    """
    out: list[Example] = []
    keys: list[str] = []
    upstream_hit: dict[str, bool] = {}  # a CMRC paragraph is checked once, not per sentence
    for e in examples:
        folded = _fold(e.text)
        hit = _sha1(_heldout_folded(folded)) in heldout
        if not hit and e.upstream is not None:
            if e.upstream not in upstream_hit:
                upstream_hit[e.upstream] = heldout_hash(e.upstream) in heldout
            hit = upstream_hit[e.upstream]
        if hit:
            if dropped is not None:
                dropped[e.dataset] = dropped.get(e.dataset, 0) + 1
            continue
        out.append(e)
        keys.append(_normalise_folded(folded))
    return out, keys


def drop_heldout(
    examples: Iterable[Example], heldout: frozenset[str], dropped: dict[str, int] | None = None
) -> list[Example]:
    """``examples`` without the texts HELDOUT_OVERLAP.txt lists; counts drops per set."""
    return _keys(examples, heldout, dropped)[0]


def load_raw(
    root: Path,
    names: Iterable[str] | None = None,
    *,
    heldout: bool = True,
    dropped: dict[str, int] | None = None,
) -> list[Example]:
    """Every example of the named sets (default: all), before deduplication.

    Texts listed in ``HELDOUT_OVERLAP.txt`` are left out (``heldout=False`` keeps them, for
    inspection only); ``dropped``, if given, receives the count per set.
    """
    out: list[Example] = []
    for name in names or LOADERS:
        out.extend(e for e in LOADERS[name](root) if e is not None)
    if heldout:
        out = drop_heldout(out, load_heldout(root), dropped)
    return out


@dataclass(slots=True)
class Corpus:
    """The deduplicated table: ``train`` merged per normalised text, ``evaluation`` per set."""

    train: list[Example]
    dev: list[Example]
    test: list[Example]
    fingerprint: str
    datasets: tuple[str, ...]
    dropped_for_leak: int
    dropped_heldout: dict[str, int] = field(default_factory=dict)

    def split(self, name: str) -> list[Example]:
        return {"train": self.train, "dev": self.dev, "test": self.test}[name]


def build_corpus(
    root: Path, *, train_sets: Iterable[str] | None = None, raw: list[Example] | None = None
) -> Corpus:
    """Deduplicate across all sets, then keep ``train_sets`` (default: those that ship) for training.

    Held-out rows (dev/test) stay per set and unmerged so that each benchmark keeps its rows;
    any training text whose key appears in a held-out split of *any* set is dropped. Texts
    listed in HELDOUT_OVERLAP.txt are dropped from every split (``raw`` is filtered again, so
    a caller's list cannot bring them back).
    """
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: data directory not found; pass --data-dir")
    wanted = (
        tuple(train_sets)
        if train_sets is not None
        else tuple(n for n, d in DATASETS.items() if d.ships)
    )
    dropped_heldout: dict[str, int] = {}
    examples, keys = _keys(
        raw if raw is not None else load_raw(root, heldout=False),
        load_heldout(root),
        dropped_heldout,
    )
    held_out_keys: set[str] = {k for e, k in zip(examples, keys, strict=True) if e.split != "train"}
    merged: dict[str, Example] = {}
    dropped = 0
    for e, k in zip(examples, keys, strict=True):
        if e.split != "train" or e.dataset not in wanted or not k:
            continue
        if k in held_out_keys:
            dropped += 1
            continue
        m = merged.get(k)
        if m is not None:
            m.labels = merge_labels([m.labels, e.labels])
            m.sources.append(e.dataset)
            if _DOMAIN_RANK[e.domain] > _DOMAIN_RANK[m.domain]:
                m.domain = e.domain
        else:
            merged[k] = Example(
                e.text, list(e.labels), e.dataset, "train", e.lang, [e.dataset], e.domain
            )
    train = [merged[k] for k in sorted(merged)]
    dev = [e for e in examples if e.split == "dev"]
    test = [e for e in examples if e.split == "test"]
    h = hashlib.sha256()
    for e in train:
        h.update(e.text.encode())
        h.update(bytes(v + 1 for v in e.labels))
        h.update(e.domain.encode())
    return Corpus(train, dev, test, h.hexdigest()[:16], wanted, dropped, dropped_heldout)
