"""The golden evaluation texts: hand-written posts the model is judged on and never learns from.

``models/golden/{en,zh}.jsonl`` hold texts the flagstream team wrote by hand (see the README
there): plain insults, hate without slurs, SMS and chat scams, adverts, everyday posts, and
*hard benign* posts that a keyword model gets wrong (banter, "we killed it", news about fraud,
quoting abuse to condemn it). Each line names the labels the text **must** carry (``labels``,
empty for benign groups) and, optionally, labels that are not wrong to add (``acceptable``).

The scoring rule, per (language, group):

* a harm group (``insult``, ``hate``, ``scam``, ``spam``): a text is *right* when every one of
  its required labels was flagged. Extra labels do not make it wrong, acceptable or not (an
  insult also flagged ``hate`` is still a caught insult); they are counted separately: a text is
  *clean* when it is right and nothing outside ``labels ∪ acceptable`` was flagged.
* a benign group (``benign``, ``hard_benign``): a text is right only when nothing at all was
  flagged. ``acceptable`` does not exist for benign texts.

These texts must never enter training, validation or threshold calibration: a threshold tuned on
them would make their figures meaningless. :func:`golden_keys` gives their normalised forms so
the training code can assert that none of them is trained on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from models.data import LABELS, normalise

GOLDEN_DIR = Path(__file__).parent / "golden"
LANGS: tuple[str, ...] = ("en", "zh")
# the label every text of a harm group must carry
HARM_GROUPS: dict[str, str] = {"insult": "toxic", "hate": "hate", "scam": "scam", "spam": "spam"}
BENIGN_GROUPS: frozenset[str] = frozenset({"benign", "hard_benign"})
GROUPS: frozenset[str] = frozenset(HARM_GROUPS) | BENIGN_GROUPS
# zh scam lines name their fraud pattern
SCAM_TYPES: frozenset[str] = frozenset(
    {"customer_service", "task_rebate", "fake_police", "investment", "other"}
)


class GoldenFormatError(ValueError):
    """A golden file has a malformed line: fix the line named in the message."""


@dataclass(frozen=True, slots=True)
class GoldenText:
    """One hand-written text and what the model must (and may) flag on it."""

    id: str
    lang: str
    group: str
    text: str
    labels: frozenset[str]
    acceptable: frozenset[str] = frozenset()
    type: str | None = None  # fraud pattern of a zh scam text, else None

    @property
    def benign(self) -> bool:
        return self.group in BENIGN_GROUPS


def _parse(line: str, where: str) -> GoldenText:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as e:
        raise GoldenFormatError(f"{where}: not valid JSON ({e.msg})") from e
    if not isinstance(raw, dict):
        raise GoldenFormatError(f"{where}: expected a JSON object")
    missing = {"id", "lang", "group", "text", "labels"} - raw.keys()
    if missing:
        raise GoldenFormatError(f"{where}: missing field(s) {sorted(missing)}")
    labels = frozenset(raw["labels"])
    acceptable = frozenset(raw.get("acceptable", ()))
    unknown = (labels | acceptable) - set(LABELS)
    if unknown:
        raise GoldenFormatError(f"{where}: unknown label(s) {sorted(unknown)}; use {LABELS}")
    if raw["group"] not in GROUPS:
        raise GoldenFormatError(f"{where}: unknown group {raw['group']!r}; use {sorted(GROUPS)}")
    return GoldenText(
        id=raw["id"],
        lang=raw["lang"],
        group=raw["group"],
        text=raw["text"],
        labels=labels,
        acceptable=acceptable,
        type=raw.get("type"),
    )


def load_golden(lang: str | None = None, directory: Path = GOLDEN_DIR) -> list[GoldenText]:
    """Every golden text of ``lang`` (default: all languages), in file order."""
    langs = LANGS if lang is None else (lang,)
    out: list[GoldenText] = []
    for code in langs:
        path = directory / f"{code}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no golden set for language {code!r}")
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    out.append(_parse(line, f"{path.name}:{n}"))
    return out


def golden_keys() -> set[str]:
    """The normalised form (:func:`models.data.normalise`) of every golden text."""
    return {normalise(t.text) for t in load_golden()}


@dataclass(frozen=True, slots=True)
class GroupScore:
    """How one (language, group) fared. ``missed`` lists the ids that were not right."""

    lang: str
    group: str
    total: int
    right: int
    clean: int
    missed: tuple[str, ...]

    @property
    def share(self) -> float:
        """The share of texts that were right (see the module docstring for the rule)."""
        return self.right / self.total if self.total else 0.0


@dataclass(frozen=True, slots=True)
class GoldenReport:
    """Scores per (language, group)."""

    groups: dict[tuple[str, str], GroupScore]

    def share(self, lang: str, group: str) -> float:
        return self.groups[lang, group].share

    def rows(self) -> list[GroupScore]:
        return [self.groups[k] for k in sorted(self.groups)]


def is_right(text: GoldenText, flagged: Iterable[str]) -> bool:
    """The rule: harm texts need all required labels; benign texts need no label at all."""
    got = set(flagged)
    return not got if text.benign else text.labels <= got


def score_golden(texts: Sequence[GoldenText], flagged: Sequence[set[str]]) -> GoldenReport:
    """Score ``flagged[i]`` (the labels the model flagged on ``texts[i]``) per (lang, group)."""
    if len(texts) != len(flagged):
        raise ValueError(f"{len(texts)} texts but {len(flagged)} flagged label sets")
    tallies: dict[tuple[str, str], tuple[int, int, int, list[str]]] = {}
    for text, got in zip(texts, flagged, strict=True):
        unknown = set(got) - set(LABELS)
        if unknown:
            raise ValueError(f"{text.id}: flagged unknown label(s) {sorted(unknown)}")
        total, right, clean, missed = tallies.get((text.lang, text.group), (0, 0, 0, []))
        ok = is_right(text, got)
        neat = ok and set(got) <= text.labels | text.acceptable
        if not ok:
            missed.append(text.id)
        tallies[text.lang, text.group] = (total + 1, right + ok, clean + neat, missed)
    return GoldenReport(
        {
            key: GroupScore(key[0], key[1], total, right, clean, tuple(missed))
            for key, (total, right, clean, missed) in tallies.items()
        }
    )
