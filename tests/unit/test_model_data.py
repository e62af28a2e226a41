"""models.data: the held-out filter, label semantics and the sets added in 2026-12.

The first half needs no data. The second half reads the shared data directory (skipped when
it is absent) and builds the corpus once for the module.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import string
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from models import data as data_module
from models.data import (
    AUDIT_LABELS,
    GENERAL_SETS,
    LABELS,
    LOADERS,
    UNKNOWN,
    Corpus,
    Example,
    build_corpus,
    general_audit,
    heldout_hash,
    heldout_key,
    load_heldout,
    load_raw,
    merge_labels,
    normalise,
    resolve,
)

DATA_DIR = Path(__file__).parents[2].parent / "shared" / "data"
SPAM, SCAM, TOXIC, HATE = (LABELS.index(n) for n in ("spam", "scam", "toxic", "hate"))

# --- the reference: HELDOUT_OVERLAP.txt's header, verbatim ---------------------------------

_URL = re.compile(r"(?:https?://|www\.)\S+")
_PLACEHOLDER = re.compile(r"\[(?:user|url)\]|<(?:user|url)>|\burl\b")
_MENTION = re.compile(r"@\w+")
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_SPACE = re.compile(rf" (?=[{_CJK}])|(?<=[{_CJK}]) ")


def _reference(text: str) -> str:
    t = unicodedata.normalize("NFKC", text).lower()
    t = _URL.sub(" ", t)
    t = _PLACEHOLDER.sub(" ", t)
    t = _MENTION.sub(" ", t)
    t = "".join(
        " "
        if unicodedata.category(c).startswith("P") or c in string.punctuation
        else ""
        if unicodedata.category(c) == "Cf"
        else c
        for c in t
    )
    t = " ".join(t.split())
    return _CJK_SPACE.sub("", t)


SYNTHETIC = [
    "Hello, World!!  How are   you?",
    "visit https://evil.example/login?x=1 NOW or www.phish.co",
    "[USER] said <url> is a url, not a URL-shortener: curl",
    "@someone_else thanks @you",
    "snake_case and kebab-case $100 +1 <3 ~tilde~ `tick` ^caret^ |pipe|",
    "zero\u200bwidth\u200djoiner\ufeffbom \u2066isolate\u2069",
    "为 什 么 听 一 面 之 辞 就 相 信 ？ 只 有",
    "中文 English 混合 text 테스트 한국어",
    "カタカナ ひらがな 漢字 ｶﾀｶﾅ",
    "ＦＵＬＬＷＩＤＴＨ　ｓｐａｃｅ！",
    "emoji 😀 😀 🔪 some 👳🏾",
    "“smart quotes” — em dash… «guillemets» ¿qué?",
    "tabs\tand\nnewlines\r\n",
    "",
    "   ",
    "Ich hasse spanisch! Über-Größe: ß",
    "谢谢。",
    "x url y urls url_z",
]


@pytest.mark.parametrize("text", SYNTHETIC)
def test_heldout_key_matches_the_header_function(text: str) -> None:
    assert heldout_key(text) == _reference(text)
    assert heldout_hash(text) == hashlib.sha1(_reference(text).encode("utf-8")).hexdigest()


def test_heldout_key_rules() -> None:
    assert heldout_key("你 好 ， 世 界") == "你好世界"  # spaces next to CJK go
    assert heldout_key("a\u200bb") == "ab"  # Cf removed, not spaced
    assert heldout_key("snake_case") == "snake case"  # "_" is string.punctuation
    assert heldout_key("[USER] hi <url>") == "hi"
    assert heldout_key("a 😀 b") == "a 😀 b"  # not CJK: spaces stay
    # differs from our dedup key on purpose
    assert normalise("a 😀 b") != heldout_key("a 😀 b")


def test_load_heldout_reads_the_hash_column(tmp_path: Path) -> None:
    sha = heldout_hash("Win a FREE prize!")
    (tmp_path / "HELDOUT_OVERLAP.txt").write_text(
        f"# header\n#\n{sha}\texact\tsms/x\n", encoding="utf-8"
    )
    assert load_heldout(tmp_path) == frozenset({sha})
    with pytest.raises(FileNotFoundError, match="HELDOUT_OVERLAP"):
        load_heldout(tmp_path / "missing")


# --- label rules ---------------------------------------------------------------------------


def test_scam_forces_spam_zero() -> None:
    assert resolve([1, 1, 0, 0]) == [0, 1, 0, 0]
    uci_spam = [1, UNKNOWN, 0, 0]
    mendeley_smishing = [0, 1, 0, 0]
    assert merge_labels([uci_spam, mendeley_smishing]) == [0, 1, 0, 0]
    assert merge_labels([mendeley_smishing, uci_spam]) == [0, 1, 0, 0]
    mendeley_spam = [1, 0, 0, 0]
    assert merge_labels([uci_spam, mendeley_spam]) == [1, 0, 0, 0]


def test_hate_masks_toxic() -> None:
    assert resolve([0, 0, 1, 1]) == [0, 0, UNKNOWN, 1]
    assert merge_labels([[0, 0, 1, 0], [0, 0, UNKNOWN, 1]]) == [0, 0, UNKNOWN, 1]
    assert merge_labels([[0, 0, 0, 0], [0, 0, UNKNOWN, 1]]) == [0, 0, UNKNOWN, 1]
    # known beats unknown, positive beats negative
    assert merge_labels([[0, 0, UNKNOWN, UNKNOWN], [0, 0, 1, 0]]) == [0, 0, 1, 0]


def test_benign_kinds() -> None:
    def ex(labels: list[int], domain: str) -> Example:
        return Example("t", labels, "x", "dev", "en", domain=domain)

    assert ex([0, 0, 0, 0], "labelled").benign
    assert ex([0, 0, 0, 0], "hard").benign
    assert not ex([0, 0, 0, 0], "hard").general_benign
    assert ex([0, 0, 0, 0], "general").general_benign
    assert not ex([0, 0, 0, 0], "borderline").benign  # e.g. Toxic Spans "not toxic"
    assert not ex([0, 0, UNKNOWN, 0], "labelled").benign
    assert not ex([0, 0, UNKNOWN, 1], "labelled").benign


def test_build_corpus_drops_heldout_and_merges(tmp_path: Path) -> None:
    (tmp_path / "HELDOUT_OVERLAP.txt").write_text(
        f"{heldout_hash('Seen in the benchmark')}\texact\tf\n", encoding="utf-8"
    )
    raw = [
        Example("Seen in the benchmark", [0, 0, 1, 0], "davidson", "train", "en"),
        Example("seen in the BENCHMARK!", [0, 0, 1, 0], "kmhas", "test", "ko"),
        Example("Claim your prize now", [1, UNKNOWN, 0, 0], "sms", "train", "en"),
        Example("claim your prize now!", [0, 1, 0, 0], "mendeley_smish", "train", "en"),
        Example("Also in dev", [0, 0, 0, 0], "tatoeba", "train", "en", domain="general"),
        Example("also in dev", [0, 0, 0, 0], "edos", "dev", "en"),
        Example("you people", [0, 0, 1, UNKNOWN], "paradetox", "train", "en"),
        Example("You people!", [0, 0, UNKNOWN, 1], "stormfront", "train", "en"),
        Example("fine text", [0, 0, 0, 0], "ud_sentences", "train", "ja", domain="general"),
        Example("Fine text", [0, 0, 0, 0], "toxic_spans", "train", "en", domain="borderline"),
    ]
    c = build_corpus(tmp_path, raw=raw)
    assert c.dropped_heldout == {"davidson": 1, "kmhas": 1}
    assert c.dropped_for_leak == 1  # "Also in dev"
    by_key = {normalise(e.text): e for e in c.train}
    assert set(by_key) == {"claim your prize now", "you people", "fine text"}
    assert by_key["claim your prize now"].labels == [0, 1, 0, 0]
    assert by_key["claim your prize now"].sources == ["sms", "mendeley_smish"]
    assert by_key["you people"].labels == [0, 0, UNKNOWN, 1]
    assert by_key["fine text"].domain == "borderline"
    assert not by_key["fine text"].benign
    assert [e.text for e in c.dev] == ["also in dev"]
    assert c.test == []


# --- the real data -------------------------------------------------------------------------

needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"{DATA_DIR} not present")


@pytest.fixture(scope="module")
def raw_all() -> list[Example]:
    return load_raw(DATA_DIR, heldout=False)


@pytest.fixture(scope="module")
def corpus(raw_all: list[Example]) -> Corpus:
    return build_corpus(DATA_DIR, raw=raw_all)


@pytest.fixture(scope="module")
def general_unaudited() -> list[Example]:
    """The general-domain rows as the sets have them, before the hand audit is applied."""
    with data_module.audit_ignored():
        return [e for name in GENERAL_SETS for e in LOADERS[name](DATA_DIR) if e is not None]


def _count(raw: list[Example], dataset: str) -> int:
    return sum(e.dataset == dataset for e in raw)


@needs_data
def test_row_counts_match_the_manifest(
    raw_all: list[Example], general_unaudited: list[Example]
) -> None:
    n = Counter(e.dataset for e in raw_all if e.domain != "general")
    n.update(e.dataset for e in general_unaudited)
    assert n["edos"] == 20_000
    assert n["jigsaw_templates"] == 76_564 + 34_958 + 37_359
    assert n["hatemoji"] == 4_728 + 591 + 593
    assert n["stormfront"] == 1_196 + 9_507  # relation and idk/skip dropped
    assert n["kmhas"] == 8_776 + 21_939
    assert n["cdial_gpt"] == 20_000
    assert n["kdconv"] == 19_058
    assert n["ud_sentences"] == 7_877
    assert n["tatoeba"] == 2 * (3_798 + 19_577)
    assert n["broad_twitter"] == 9_339
    # 11,927 toxic + 19,743 paraphrases + the cannot-rewrite rows marked toxic_content only
    assert 11_927 + 19_743 + 7_000 <= n["paradetox"] <= 11_927 + 19_743 + 7_300
    assert 15_000 <= n["toxic_spans"] <= 16_071  # 16,100 minus ties/abstentions
    cmrc = [e for e in raw_all if e.dataset == "cmrc2018"]
    assert sum(e.text.endswith(("？", "?")) for e in cmrc) >= 3_000  # the 3,219 questions
    tele = [e for e in raw_all if e.dataset == "teleantifraud"]
    assert 20_000 <= sum(e.labels[SCAM] == 1 for e in tele) <= 25_017  # caller turns >= 6 chars
    assert 15_000 <= sum(e.domain == "hard" for e in tele) <= 19_590


@needs_data
def test_heldout_drops_per_set(corpus: Corpus) -> None:
    # the per-file counts of HELDOUT_OVERLAP.txt's header (exact + near texts)
    expected = {
        "edos": 3,
        "paradetox": 6,
        "toxic_spans": 3,
        "jigsaw_templates": 1 + 1 + 6,
        "hatemoji": 5,
        "stormfront": 71,
        "cdial_gpt": 629,
        "tatoeba": 12 + 25,
        "kdconv": 3 + 8 + 2 + 2 + 1 + 2,
        "ud_sentences": 24 + 10,
        "teleantifraud": 0,  # its 3 listed texts are "谢谢。", shorter than a kept turn
    }
    for name, n in expected.items():
        assert corpus.dropped_heldout.get(name, 0) == n, name
    assert corpus.dropped_heldout["youtube_spam"] >= 150


@needs_data
def test_no_training_text_is_listed_in_heldout_overlap(corpus: Corpus) -> None:
    listed = load_heldout(DATA_DIR)
    assert not [e.text for e in corpus.train if heldout_hash(e.text) in listed]


@needs_data
def test_label_invariants_hold_everywhere(corpus: Corpus, raw_all: list[Example]) -> None:
    for e in corpus.train + corpus.dev + corpus.test:
        assert e.labels[SCAM] != 1 or e.labels[SPAM] == 0
        assert e.labels[HATE] != 1 or e.labels[TOXIC] == UNKNOWN
    path = DATA_DIR / "smish-mendeley/Mendeley_Dataset_5971.csv"
    by_label: defaultdict[str, set[str]] = defaultdict(set)
    with path.open(encoding="utf-8-sig", newline="") as f:
        for r in csv.DictReader(f):
            by_label[r["LABEL"].lower()].add(r["TEXT"].strip())
    # 34 texts are labelled both smishing and spam inside Mendeley: scam wins once merged
    both = by_label["smishing"] & by_label["spam"]
    assert len(both) == 34
    rows = [e for e in raw_all if e.dataset == "mendeley_smish" and e.text in by_label["smishing"]]
    assert len(rows) > 600
    assert all(e.labels[SPAM] == 0 and e.labels[SCAM] == 1 for e in rows if e.text not in both)
    both_keys = {normalise(t) for t in both}
    smish_train = [e for e in corpus.train if "mendeley_smish" in e.sources]
    in_both = [e for e in smish_train if normalise(e.text) in both_keys]
    assert in_both
    assert all(e.labels[:2] == [0, 1] for e in in_both)
    merged = [e for e in smish_train if "sms" in e.sources]
    assert any(e.labels[SCAM] == 1 for e in merged)


@needs_data
def test_languages_and_domains_per_row(corpus: Corpus) -> None:
    rows = corpus.train + corpus.dev + corpus.test
    langs: defaultdict[str, set[str]] = defaultdict(set)
    for e in rows:
        langs[e.dataset].add(e.lang)
    assert langs["tatoeba"] == {"en", "ko", "zh"}
    assert langs["ud_sentences"] == {"en", "zh", "ko", "de", "ja"}
    assert langs["jigsaw_templates"] == {"en", "de", "zh"}
    general = [e for e in corpus.dev if e.dataset == "cdial_gpt"]
    assert general
    assert all(e.general_benign for e in general)
    assert not any(re.search(f"[{_CJK}] [{_CJK}]", e.text) for e in general)  # spacing stripped
    spans = [e for e in corpus.dev + corpus.test if e.dataset == "toxic_spans"]
    assert any(e.labels[TOXIC] == 0 for e in spans)
    assert not any(e.benign for e in spans)
    assert not any(e.benign for e in rows if e.dataset == "stormfront")


def _splits_of(raw: list[Example], dataset: str) -> dict[str, set[str]]:
    out: defaultdict[str, set[str]] = defaultdict(set)
    for e in raw:
        if e.dataset == dataset:
            out[e.text].add(e.split)
    return out


@needs_data
def test_paradetox_pairs_stay_in_one_split(raw_all: list[Example]) -> None:
    splits = _splits_of(raw_all, "paradetox")
    checked = 0
    with (DATA_DIR / "paradetox/paradetox/paradetox.tsv").open(
        encoding="utf-8-sig", newline=""
    ) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            members = [r[c].strip() for c in ("toxic", "neutral1", "neutral2", "neutral3")]
            found = [splits[m] for m in members if m and len(splits.get(m, ())) == 1]
            if len(found) >= 2:
                assert len(set.union(*found)) == 1, members
                checked += 1
    assert checked > 10_000


@needs_data
def test_templates_stay_in_one_split(raw_all: list[Example]) -> None:
    rows = [e for e in raw_all if e.dataset == "jigsaw_templates"]
    base = DATA_DIR / "jigsaw-sentence-templates/sentence_templates"
    templates: list[tuple[str, str]] = []
    for file_lang, lang in (("en", "en"), ("de", "de"), ("zh-cn", "zh")):
        with (base / f"{file_lang}_sentence_templates.csv").open(
            encoding="utf-8-sig", newline=""
        ) as f:
            templates += [(lang, r["template"]) for r in csv.DictReader(f)]
    assert len(templates) == len(rows)
    split_of: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for t, e in zip(templates, rows, strict=True):
        split_of[t].add(e.split)
    assert all(len(s) == 1 for s in split_of.values())
    for lang in ("en", "de", "zh"):  # each language has a test and a dev template
        assert {next(iter(s)) for (lg, _), s in split_of.items() if lg == lang} == {
            "train",
            "dev",
            "test",
        }


@needs_data
def test_teleantifraud_calls_stay_in_one_split(raw_all: list[Example]) -> None:
    splits = _splits_of(raw_all, "teleantifraud")
    base = DATA_DIR / "teleantifraud-zh/multi-agents-tools"
    checked = 0
    for path in sorted(base.glob("AntiFraudMatrix*/results/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            found = [splits[t.strip()] for t in d["left"] if len(splits.get(t.strip(), ())) == 1]
            if len(found) >= 2:
                assert len(set.union(*found)) == 1
                checked += 1
    assert checked > 5_000
    fraud_right: set[str] = set()
    for path in sorted((base / "AntiFraudMatrix/results").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            fraud_right.update(t.strip() for t in json.loads(line)["right"])
    scam_texts = {e.text for e in raw_all if e.dataset == "teleantifraud" and e.labels[SCAM] == 1}
    assert len(scam_texts & fraud_right) < 50  # only replies that repeat a caller's words


# --- the hand audit of the general-domain sets (models/audit/) ------------------------------


def test_audit_file_parses_with_known_verdicts() -> None:
    audit = general_audit()
    assert len(audit) >= 500
    assert set(audit.values()) <= set(AUDIT_LABELS)
    assert all(re.fullmatch(r"[0-9a-f]{40}", k) for k in audit)
    # an insult is toxic and not hate; hate masks toxic; profanity teaches neither way
    assert AUDIT_LABELS["insult"] == (0, 0, 1, 0)
    assert AUDIT_LABELS["hate"] == (0, 0, UNKNOWN, 1)
    assert AUDIT_LABELS["profanity"][TOXIC] == UNKNOWN
    assert AUDIT_LABELS["benign"] == (0, 0, 0, 0)


def test_a_bad_audit_line_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "general.tsv"
    path.write_text("sha1\tdataset\tlang\tverdict\n" + "a" * 40 + "\ttatoeba\ten\trude\n")
    with pytest.raises(ValueError, match=r"general.tsv:2: verdict 'rude' is not one of"):
        general_audit.__wrapped__(path)


@needs_data
def test_audit_relabels_training_rows_and_drops_held_out_ones(
    raw_all: list[Example], general_unaudited: list[Example]
) -> None:
    audit = general_audit()
    kept = Counter((e.dataset, e.split, e.text) for e in raw_all if e.domain == "general")
    judged: Counter[str] = Counter()
    for e in general_unaudited:
        verdict = audit.get(heldout_hash(e.text), "benign")
        key = (e.dataset, e.split, e.text)
        if verdict != "benign":
            judged[verdict] += 1
        if verdict != "benign" and e.split != "train":
            assert key not in kept, e.text  # not benign: no place in the FPR population
        else:
            assert key in kept
    # every copy of a text counts
    assert judged["insult"] >= 80
    assert judged["profanity"] >= 100
    rows = {(e.dataset, e.text): e for e in raw_all if e.domain == "general" and e.split == "train"}
    for e in rows.values():
        verdict = audit.get(heldout_hash(e.text), "benign")
        assert tuple(e.labels) == AUDIT_LABELS[verdict]
        assert e.general_benign == (verdict == "benign")


def test_the_encoder_sample_keeps_every_audited_general_row() -> None:
    from models.encoder import training_rows  # noqa: PLC0415

    def row(i: int, dataset: str, labels: tuple[int, ...], domain: str) -> Example:
        return Example(f"text {i}", list(labels), dataset, "train", "en", [dataset], domain)

    benign = [row(i, "tatoeba", AUDIT_LABELS["benign"], "general") for i in range(5000)]
    audited = [
        row(5000 + i, "tatoeba", AUDIT_LABELS[v], "general")
        for i, v in enumerate(("insult", "hate", "profanity", "unsure") * 10)
    ]
    picked = training_rows(benign + audited, seed=0)
    ids = {id(e) for e in picked}
    assert all(id(e) in ids for e in audited)
    assert len(picked) == len(ids)  # no row twice
    assert sum(e.general_benign for e in picked) < len(benign)  # the set is still capped


def test_the_pool_fpr_counts_audited_rows_apart_and_together() -> None:
    from models.general_audit import pool_fpr  # noqa: PLC0415

    def row(lang: str) -> Example:
        return Example("x", [0, 0, 0, 0], "tatoeba", "test", lang, ["tatoeba"], "general")

    pool = [
        (row("en"), "benign"),
        (row("en"), "benign"),
        (row("en"), "insult"),
        (row("zh"), "benign"),
    ]
    out = pool_fpr(pool, [True, False, True, False])
    assert out["en"] == {"all": (2, 3), "kept": (1, 2), "insult": (1, 1)}
    assert out["zh"] == {"all": (0, 1), "kept": (0, 1)}
