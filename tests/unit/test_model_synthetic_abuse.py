"""models/synthetic_abuse.py: hate without slurs, plain insults and their benign look-alikes."""

from __future__ import annotations

import re
from collections import Counter

from models import synthetic_abuse, synthetic_zh
from models.data import DATASETS, LOADERS, UNKNOWN
from models.golden import load_golden

SMALL = {"hate": 200, "insult": 150, "benign": 250}


def test_generation_is_deterministic_and_covers_both_languages_and_kinds() -> None:
    out = synthetic_abuse.generate(SMALL)
    assert out == synthetic_abuse.generate(SMALL)
    assert set(out) == {(lang, kind) for lang in ("en", "zh") for kind in synthetic_abuse.KINDS}
    for (_, kind), texts in out.items():
        assert len(texts) == SMALL[kind]
        assert len(set(texts)) == len(texts)
    assert synthetic_abuse.generate(SMALL, seed=1) != synthetic_abuse.generate(SMALL, seed=2)


def test_every_slot_is_filled_and_every_template_is_used() -> None:
    out = synthetic_abuse.generate()
    for texts in out.values():
        assert not any(re.search(r"[{}]", t) for t in texts)
    # each template yields at least one text at the default counts (no template left out by a
    # slot name that does not exist: str.format would raise; none drowned by the others)
    for (lang, kind), templates in synthetic_abuse.TEMPLATES.items():
        heads = Counter(t.split("{", 1)[0].strip().lower()[:12] for t in templates)
        texts = [t.lower() for t in out[(lang, kind)]]
        for head in heads:
            if head:
                assert any(t.startswith(head) for t in texts), (lang, kind, head)


def test_the_contrasts_share_the_attacks_words() -> None:
    out = synthetic_abuse.generate()
    en_benign = " ".join(out[("en", "benign")])
    zh_benign = "".join(out[("zh", "benign")])
    # a keyword model would take these for abuse or hate; the hard negatives carry them
    for word in ("Muslims", "immigrants", "killed", "idiot", "stupid", "garbage", "destroyed"):
        assert word in en_benign, word
    for word in ("女人", "同性恋", "砍价", "杀疯了", "傻子", "垃圾", "都是"):
        assert word in zh_benign, word


def test_loader_rows_are_training_only_with_the_label_rules_and_never_near_golden() -> None:
    rows = [e for e in LOADERS["synthetic_abuse"](None) if e is not None]  # type: ignore[arg-type]
    assert DATASETS["synthetic_abuse"].ships
    assert {e.split for e in rows} == {"train"}
    assert {e.lang for e in rows} == {"en", "zh"}
    by_labels = Counter((e.lang, tuple(e.labels), e.domain) for e in rows)
    for lang in ("en", "zh"):
        assert by_labels[(lang, (0, 0, UNKNOWN, 1), "labelled")] > 1000  # hate: toxic masked
        assert by_labels[(lang, (0, 0, 1, 0), "labelled")] > 1000  # insult: no hate
        assert by_labels[(lang, (0, 0, 0, 0), "hard")] > 2000  # contrasts
    assert sum(by_labels.values()) == len(rows)
    for lang in ("en", "zh"):
        golden = [t.text for t in load_golden(lang)]
        texts = [e.text for e in rows if e.lang == lang]
        assert all(synthetic_zh.far_from(texts[::10], golden))
