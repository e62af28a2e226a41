"""models/synthetic_zh.py: the Chinese SMS/chat fraud bridge and its benign look-alikes."""

from __future__ import annotations

from collections import Counter

from models import synthetic_zh
from models.data import DATASETS, LOADERS
from models.golden import load_golden


def test_generation_is_deterministic_and_covers_every_pattern() -> None:
    scams, benign = synthetic_zh.generate(400, 300)
    again = synthetic_zh.generate(400, 300)
    assert (scams, benign) == again
    assert len(scams) == 400
    assert len(benign) == 300
    assert len({t for t, _ in scams}) == 400
    assert len(set(benign)) == 300
    kinds = Counter(k for _, k in scams)
    assert set(kinds) == {"customer_service", "task_rebate", "fake_police", "investment", "other"}
    assert min(kinds.values()) > 40  # no pattern left out by chance
    assert synthetic_zh.generate(50, 50, seed=1) != synthetic_zh.generate(50, 50, seed=2)


def test_slots_are_filled_and_benign_shares_the_fraud_vocabulary() -> None:
    scams, benign = synthetic_zh.generate(300, 300)
    assert not any("{" in t or "}" in t for t, _ in scams)
    assert not any("{" in t or "}" in t for t in benign)
    # the hard negatives carry the words a keyword model would take for fraud
    for word in ("客服", "退款", "刷单", "公安", "炒股", "验证码"):
        assert any(word in t for t in benign), word


def test_loader_rows_are_training_only_scam_or_hard_benign_and_never_near_golden() -> None:
    rows = [e for e in LOADERS["synthetic_zh_fraud"](None) if e is not None]  # type: ignore[arg-type]
    assert DATASETS["synthetic_zh_fraud"].ships
    assert {e.split for e in rows} == {"train"}
    scam = [e for e in rows if e.labels == [0, 1, 0, 0]]
    benign = [e for e in rows if e.labels == [0, 0, 0, 0]]
    assert len(scam) + len(benign) == len(rows)
    assert len(scam) > 1000
    assert len(benign) > 1000
    assert {e.domain for e in benign} == {"hard"}
    golden = [t.text for t in load_golden("zh")]
    assert all(synthetic_zh.far_from([e.text for e in rows[:300]], golden))


def test_far_from_flags_a_light_variant() -> None:
    text = "您好，我是淘宝客服，您的订单有质量问题，可以给您退款三百元，请加微信abc123办理"
    variant = text.replace("三百", "五百").replace("abc123", "xyz789")
    assert synthetic_zh.far_from([variant, "今天天气很好，我们去公园散步吧"], [text]) == [
        False,
        True,
    ]
