"""The golden evaluation sets: their format, their scoring rule, and that no training set holds them."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from models.data import LABELS, load_raw, normalise
from models.golden import (
    BENIGN_GROUPS,
    GOLDEN_DIR,
    GROUPS,
    HARM_GROUPS,
    LANGS,
    SCAM_TYPES,
    GoldenFormatError,
    GoldenText,
    golden_keys,
    load_golden,
    score_golden,
)

# the same default as tests/models/test_training_smoke.py: the data directory beside the checkout
REPO_DIR = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("FLAGSTREAM_TEST_DATA_DIR", REPO_DIR.parent / "shared" / "data"))

MINIMUM: dict[tuple[str, str], int] = {
    ("en", "insult"): 40,
    ("en", "hard_benign"): 40,
    ("en", "hate"): 30,
    ("en", "scam"): 30,
    ("en", "spam"): 20,
    ("en", "benign"): 40,
    ("zh", "insult"): 40,
    ("zh", "hard_benign"): 40,
    ("zh", "hate"): 30,
    ("zh", "scam"): 40,
    ("zh", "spam"): 20,
    ("zh", "benign"): 40,
}
ZH_SCAM_TYPE_MINIMUM = {"customer_service": 8, "task_rebate": 8, "fake_police": 8, "investment": 8}
_CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def golden() -> list[GoldenText]:
    return load_golden()


def test_every_line_is_one_json_object_with_the_known_fields() -> None:
    allowed = {"id", "lang", "group", "text", "labels", "acceptable", "type"}
    for lang in LANGS:
        lines = (GOLDEN_DIR / f"{lang}.jsonl").read_text(encoding="utf-8").splitlines()
        assert lines, lang
        for n, line in enumerate(lines, 1):
            row = json.loads(line)
            assert isinstance(row, dict), (lang, n)
            assert row.keys() <= allowed, (lang, n, row.keys() - allowed)
            assert row["lang"] == lang, (lang, n)
            assert isinstance(row["text"], str), (lang, n)
            assert isinstance(row["labels"], list), (lang, n)


def test_ids_are_unique_and_name_language_and_group(golden: list[GoldenText]) -> None:
    ids = Counter(t.id for t in golden)
    assert [i for i, c in ids.items() if c > 1] == []
    for t in golden:
        assert re.fullmatch(rf"{t.lang}-{t.group.replace('_', '-')}-\d{{3}}", t.id), t.id


def test_texts_are_unique_after_normalisation(golden: list[GoldenText]) -> None:
    keys = Counter(normalise(t.text) for t in golden)
    assert [k for k, c in keys.items() if c > 1] == []
    assert golden_keys() == set(keys)


def _grams(text: str) -> set[str]:
    key = normalise(text).replace(" ", "")
    return {key[i : i + 5] for i in range(len(key) - 4)}


def test_no_two_texts_are_templated_variants(golden: list[GoldenText]) -> None:
    # "differ only by a name or a number" shows as a high character 5-gram overlap
    grams = [(t.id, _grams(t.text)) for t in golden]
    close = [
        (a, b, round(len(ga & gb) / len(ga | gb), 2))
        for (a, ga), (b, gb) in combinations(grams, 2)
        if ga and gb and len(ga & gb) / len(ga | gb) >= 0.4
    ]
    assert close == []


def test_labels_follow_the_group(golden: list[GoldenText]) -> None:
    for t in golden:
        assert t.group in GROUPS, t.id
        assert t.labels | t.acceptable <= set(LABELS), t.id
        assert not t.labels & t.acceptable, t.id
        if t.group in BENIGN_GROUPS:
            assert t.labels == frozenset(), t.id
            assert t.acceptable == frozenset(), t.id
        else:
            assert t.labels == {HARM_GROUPS[t.group]}, t.id


def test_each_language_and_group_has_its_minimum(golden: list[GoldenText]) -> None:
    counts = Counter((t.lang, t.group) for t in golden)
    short = {k: (counts[k], n) for k, n in MINIMUM.items() if counts[k] < n}
    assert short == {}
    assert set(counts) == set(MINIMUM)


def test_zh_scams_name_their_fraud_pattern(golden: list[GoldenText]) -> None:
    zh_scams = [t for t in golden if t.lang == "zh" and t.group == "scam"]
    assert all(t.type in SCAM_TYPES for t in zh_scams)
    kinds = Counter(t.type for t in zh_scams)
    assert {k: kinds[k] for k in ZH_SCAM_TYPE_MINIMUM if kinds[k] < 8} == {}
    assert all(t.type is None for t in golden if not (t.lang == "zh" and t.group == "scam"))


def test_texts_are_in_their_language_and_mostly_short(golden: list[GoldenText]) -> None:
    for t in golden:
        assert 4 <= len(t.text) <= 200, t.id
        assert t.text == t.text.strip(), t.id
        assert bool(_CJK.search(t.text)) == (t.lang == "zh"), t.id
    in_range = sum(8 <= len(t.text) <= 120 for t in golden)
    assert in_range >= 0.9 * len(golden)


def test_readme_counts_match_the_files(golden: list[GoldenText]) -> None:
    readme = (GOLDEN_DIR / "README.md").read_text(encoding="utf-8")
    table = {
        (lang, m["group"]): int(m[lang])
        for m in re.finditer(
            r"^\| `(?P<group>\w+)` \|.*\| (?P<en>\d+) \| (?P<zh>\d+) \|$", readme, re.M
        )
        for lang in LANGS
    }
    assert table == Counter((t.lang, t.group) for t in golden)


def test_load_golden_reads_one_language(golden: list[GoldenText]) -> None:
    zh = load_golden("zh")
    assert zh == [t for t in golden if t.lang == "zh"]


def test_load_golden_names_the_bad_line(tmp_path: Path) -> None:
    good = {"id": "en-spam-001", "lang": "en", "group": "spam", "text": "buy", "labels": ["spam"]}
    bad = dict(good, id="en-spam-002", labels=["advert"])
    (tmp_path / "en.jsonl").write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n")
    with pytest.raises(GoldenFormatError, match=r"en\.jsonl:2: unknown label"):
        load_golden("en", tmp_path)


def _text(id_: str, group: str, labels: set[str], acceptable: set[str] | None = None) -> GoldenText:
    return GoldenText(
        id_, "en", group, f"text {id_}", frozenset(labels), frozenset(acceptable or set())
    )


def test_score_golden_applies_the_rule() -> None:
    texts = [
        _text("h1", "hate", {"hate"}, {"toxic"}),  # hate + toxic: right and clean
        _text("h2", "hate", {"hate"}, {"toxic"}),  # hate + spam: right, not clean
        _text("h3", "hate", {"hate"}, {"toxic"}),  # toxic only: wrong
        _text("h4", "hate", {"hate"}, {"toxic"}),  # nothing: wrong
        _text("b1", "hard_benign", set()),  # nothing: right
        _text("b2", "hard_benign", set()),  # toxic: wrong
        _text("s1", "scam", {"scam"}, {"spam"}),  # scam + spam: right and clean
    ]
    flagged = [
        {"hate", "toxic"},
        {"hate", "spam"},
        {"toxic"},
        set(),
        set(),
        {"toxic"},
        {"spam", "scam"},
    ]
    report = score_golden(texts, flagged)
    hate = report.groups["en", "hate"]
    assert (hate.total, hate.right, hate.clean, hate.missed) == (4, 2, 1, ("h3", "h4"))
    assert report.share("en", "hate") == pytest.approx(0.5)
    benign = report.groups["en", "hard_benign"]
    assert (benign.total, benign.right, benign.clean, benign.missed) == (2, 1, 1, ("b2",))
    assert report.share("en", "scam") == 1.0
    assert [(r.lang, r.group) for r in report.rows()] == [
        ("en", "hard_benign"),
        ("en", "hate"),
        ("en", "scam"),
    ]


def test_score_golden_refuses_mismatched_or_unknown_input() -> None:
    texts = [_text("x", "spam", {"spam"})]
    with pytest.raises(ValueError, match="1 texts but 2"):
        score_golden(texts, [{"spam"}, set()])
    with pytest.raises(ValueError, match="unknown label"):
        score_golden(texts, [{"advert"}])


@pytest.mark.slow
@pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"{DATA_DIR} not present")
def test_no_golden_text_is_in_any_data_set() -> None:
    # every set the loaders know, every split: a golden text must not be trained on, nor be a
    # benchmark row that some future recipe might move into training
    keys = golden_keys()
    leaks = sorted({(e.dataset, e.text) for e in load_raw(DATA_DIR) if normalise(e.text) in keys})
    assert leaks == []
