"""models/synthetic_zh_spam.py: the Chinese promotion-spam bridge and its benign look-alikes."""

from __future__ import annotations

from collections import Counter

from models import synthetic_zh, synthetic_zh_spam
from models.data import DATASETS, LOADERS, UNKNOWN
from models.golden import load_golden


def test_generation_is_deterministic_distinct_and_covers_every_kind() -> None:
    spam, benign = synthetic_zh_spam.generate(400, 300)
    assert (spam, benign) == synthetic_zh_spam.generate(400, 300)
    assert len({t for t, _ in spam}) == len(spam) == 400
    assert len(set(benign)) == len(benign) == 300
    kinds = Counter(k for _, k in spam)
    assert set(kinds) == {"retail", "reseller", "grey", "ads", "games", "social"}
    assert min(kinds.values()) > 20  # no kind left out by chance
    assert synthetic_zh_spam.generate(50, 50, seed=1) != synthetic_zh_spam.generate(50, 50, seed=2)


def test_slots_are_filled_and_benign_shares_the_spam_vocabulary() -> None:
    spam, benign = synthetic_zh_spam.generate(600, 600)
    assert not any("{" in t or "}" in t for t, _ in spam)
    assert not any("{" in t or "}" in t for t in benign)
    # the hard negatives carry the words a keyword model would take for spam
    for word in ("【", "退订", "发票", "互关", "关注", "培训", "折", "新区"):
        assert any(word in t for t in benign), word
    assert sum("退订" in t for t, _ in spam) > 100  # the opt-out line of bulk SMS


def test_loader_rows_are_training_only_spam_or_hard_benign_and_never_near_golden() -> None:
    rows = [e for e in LOADERS["synthetic_zh_spam"](None) if e is not None]  # type: ignore[arg-type]
    assert DATASETS["synthetic_zh_spam"].ships
    assert {e.split for e in rows} == {"train"}
    assert {e.lang for e in rows} == {"zh"}
    promo = [e for e in rows if e.labels == [1, 0, 0, 0]]
    grey = [e for e in rows if e.labels == [1, UNKNOWN, 0, 0]]
    benign = [e for e in rows if e.labels == [0, 0, 0, 0]]
    assert len(promo) + len(grey) + len(benign) == len(rows)
    assert len(promo) > 1200
    assert len(grey) > 200
    assert any("发票" in e.text for e in grey)
    assert len(benign) > 1500
    assert {e.domain for e in benign} == {"hard"}
    golden = [t.text for t in load_golden("zh")]
    assert all(synthetic_zh.far_from([e.text for e in rows[::7]], golden))
