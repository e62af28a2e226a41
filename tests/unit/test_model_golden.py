"""Golden labels of the shipped classifier (fast tier + encoder tier) for fixed texts.

These pin behaviour, not figures: a retrained model must still get these clear-cut texts right
at its own thresholds, through the same cascade the worker runs. Texts in languages the models
were not trained on must not be flagged. (The hand-written golden *sets* in models/golden/ are
measured, not pinned: models/CARD.md.)
"""

from __future__ import annotations

import pytest

from streams.classify import Classifier
from streams.model import LABELS
from streams.settings import Settings

ABUSE = {"spam", "scam"}  # an insult is not spam
ADS = {"toxic", "hate"}  # an advert is not abuse

GOLDEN: list[tuple[str, str, set[str], set[str] | None] | object] = [
    # (language, text, labels it must carry, labels it must not carry; None: no other label)
    ("en", "Thanks for the help yesterday, see you at lunch!", set(), None),
    ("en", "The meeting is moved to 3pm on Thursday.", set(), None),
    ("en", "you are a worthless stupid bitch, shut the fuck up", {"toxic"}, ABUSE),
    (
        # a prize that costs a premium-rate call to claim is fraud: scam (exclusive of spam)
        "en",
        "WINNER!! You have won a £1000 cash prize. Call 09061701461 now to claim",
        {"scam"},
        ADS,
    ),
    (
        "en",
        "Check out my channel and subscribe please!!! http://youtube.com/mychannel",
        {"spam"},
        ADS,
    ),
    ("zh", "今天天气很好，我们去公园散步吧。", set(), None),
    # judged at the Chinese (Han script) operating points (streams/calibration.py)
    ("zh", "你他妈的就是个傻逼，滚", {"toxic"}, ABUSE),
    ("de", "Vielen Dank für die schnelle Antwort, bis morgen!", set(), None),
    ("de", "Du bist ein dummes Arschloch und ein Vollidiot", {"toxic"}, ABUSE),
    ("ko", "오늘 날씨가 정말 좋네요. 좋은 하루 보내세요!", set(), None),
    # Korean keeps the shared toxic review point (no Hangul toxic point of its own): caught
    # since the session-17 models (a strict xfail before)
    ("ko", "이 병신 새끼야 꺼져", {"toxic"}, ABUSE),
    ("ru", "Привет! Как дела? Увидимся завтра.", set(), None),
    ("ar", "مرحبا، كيف حالك؟ أراك غدا", set(), None),
    ("ja", "こんにちは、お元気ですか？また明日。", set(), None),
    ("hi", "नमस्ते, आप कैसे हैं? कल मिलते हैं।", set(), None),
    # Latin-script languages it has no data for are read with English/German n-grams: ordinary
    # sentences must not be flagged at random
    ("es", "Hola, ¿cómo estás? Nos vemos mañana en la oficina.", set(), None),
    ("fr", "Bonjour à tous, la réunion est reportée à jeudi.", set(), None),
    ("it", "Ciao ragazzi, ci vediamo stasera al ristorante.", set(), None),
    ("pt", "Olá, tudo bem? Vamos almoçar amanhã?", set(), None),
    ("id", "Selamat pagi, apa kabar? Sampai jumpa besok.", set(), None),
    ("vi", "Xin chào, bạn có khỏe không? Hẹn gặp lại ngày mai.", set(), None),
    ("tr", "Merhaba, nasılsın? Yarın görüşürüz.", set(), None),
    ("nl", "Hallo allemaal, de vergadering is verplaatst naar donderdag.", set(), None),
    ("pl", "Cześć, jak się masz? Do zobaczenia jutro.", set(), None),
    # Japanese shares Han characters with Chinese; kana are not read
    ("ja", "今日は会議があります。明日東京に行きます。", set(), None),
]


@pytest.fixture(scope="module")
def model() -> Classifier:
    return Classifier.from_settings(Settings())


@pytest.mark.parametrize(
    ("lang", "text", "expected", "forbidden"),
    GOLDEN,
    ids=[f"{g[0] if isinstance(g, tuple) else g.values[0]}-{i}" for i, g in enumerate(GOLDEN)],  # type: ignore[attr-defined]
)
def test_golden(
    model: Classifier, lang: str, text: str, expected: set[str], forbidden: set[str] | None
) -> None:
    scores = model.classify([text]).scores[0]
    flagged = {label for j, label in enumerate(LABELS) if scores[j] >= model.thresholds[label]}
    must_have = expected - flagged
    extra = flagged - expected if forbidden is None else flagged & forbidden
    assert not must_have, (
        f"{lang}: {text!r} missed {must_have}: {dict(zip(LABELS, scores, strict=True))}"
    )
    assert not extra, (
        f"{lang}: {text!r} wrongly flagged {extra}: {dict(zip(LABELS, scores, strict=True))}"
    )
