"""A sample firehose: realistic-looking events, benign and harmful, in several languages.

For demos, load and end-to-end tests only; it is never part of the consumer. The texts are written
for this project (no dataset rows); harmful ones read like the spam, scams, abuse and hate that
platforms see, so the classifier has something real to decide on. Deterministic for a seed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import orjson

# (lang, kind, template); {x} slots are filled from SLOTS
TEMPLATES: Final[tuple[tuple[str, str, str], ...]] = (
    # --- English, benign ---
    (
        "en",
        "benign",
        "Had a great time at the {place} with the kids today, the weather was perfect",
    ),
    ("en", "benign", "Does anyone know a good recipe for {food}? Cooking for six on Sunday"),
    ("en", "benign", "Just finished reading that book you recommended, the ending surprised me"),
    ("en", "benign", "Our team meeting moved to {day} at 3pm, please update your calendars"),
    ("en", "benign", "Congrats to everyone who ran the marathon this morning, so inspiring!"),
    ("en", "benign", "The new update fixed the battery drain on my phone, finally"),
    ("en", "benign", "Can you send me the slides from yesterday's talk? Thanks a lot"),
    ("en", "benign", "I love how the {place} looks in autumn, the colours are amazing"),
    ("en", "benign", "Happy birthday {name}! Hope you have a wonderful day"),
    ("en", "benign", "Traffic on the bridge is terrible again, leaving early tomorrow"),
    ("en", "benign", "This {food} place downtown has the friendliest staff I have ever met"),
    ("en", "benign", "Reminder: the library closes early on {day} for the holiday"),
    ("en", "benign", "Watching the game tonight with {name}, who else is excited?"),
    ("en", "benign", "My garden finally has tomatoes, only took three months of patience"),
    # --- English, spam ---
    (
        "en",
        "spam",
        "FREE entry into our weekly prize draw! Text WIN to 80{num} now to claim your reward. T&Cs apply",
    ),
    (
        "en",
        "spam",
        "Check out my channel and subscribe!!! I post new videos every day, subscribe for free stuff {url}",
    ),
    ("en", "spam", "Cheap {product} 90% OFF today only!!! Order now at {url} limited stock"),
    ("en", "spam", "Earn $500 a day working from home, no experience needed, click {url} to start"),
    ("en", "spam", "URGENT! You have won a 2 week holiday. Call 0906{num} to claim. 150p/min"),
    # --- English, scam / phishing ---
    (
        "en",
        "scam",
        "Your bank account has been suspended. Verify your identity immediately at {url} or it will be closed",
    ),
    (
        "en",
        "scam",
        "Congratulations! You have been selected for a $1000 gift card. Click {url} and enter your card details to claim",
    ),
    (
        "en",
        "scam",
        "USPS: your parcel could not be delivered due to an unpaid fee. Pay now at {url}",
    ),
    (
        "en",
        "scam",
        "Dear customer, unusual sign-in detected on your account. Confirm your password here {url}",
    ),
    (
        "en",
        "scam",
        "Invest $200 in bitcoin today and get $5000 guaranteed in one week, DM me for details",
    ),
    # --- English, toxic ---
    ("en", "toxic", "You are a stupid idiot and nobody wants you here, shut up"),
    ("en", "toxic", "What a pathetic loser, go cry somewhere else you moron"),
    ("en", "toxic", "{name} you are so fucking dumb it hurts to read your posts"),
    ("en", "toxic", "Shut your mouth you worthless piece of shit"),
    ("en", "toxic", "Nobody cares about your opinion, you ugly clown"),
    # --- English, hate ---
    ("en", "hate", "All immigrants are filthy animals and should be kicked out of this country"),
    ("en", "hate", "Women are too stupid to vote and should stay in the kitchen where they belong"),
    (
        "en",
        "hate",
        "Those people are subhuman vermin, this country would be better without their kind",
    ),
    ("en", "hate", "Muslims are all terrorists, ban every one of them"),
    # --- Chinese, benign ---
    ("zh", "benign", "今天和家人一起去{place_zh}玩，天气特别好，孩子们都很开心"),
    ("zh", "benign", "有人知道附近哪里有好吃的{food_zh}吗？周末想带朋友去"),
    ("zh", "benign", "刚看完这本书，结局真的出乎意料，推荐给大家"),
    ("zh", "benign", "明天早上九点开会，请大家准时参加，谢谢"),
    ("zh", "benign", "祝{name_zh}生日快乐，身体健康，万事如意"),
    ("zh", "benign", "新版本更新以后手机耗电少了很多，终于满意了"),
    ("zh", "benign", "周末去爬山，风景很美，空气也很清新"),
    ("zh", "benign", "这家店的服务态度非常好，下次还会再来"),
    # --- Chinese, harmful ---
    ("zh", "scam", "恭喜您中奖了！请立即点击链接 {url} 填写银行卡信息领取奖金"),
    ("zh", "scam", "您的账户存在异常，请马上登录 {url} 验证身份，否则将被冻结"),
    ("zh", "spam", "加微信领取免费福利，日赚五百元，名额有限，先到先得"),
    ("zh", "toxic", "你是不是脑子有病啊，傻逼一个，滚远点"),
    ("zh", "toxic", "这种垃圾也配说话？真是个废物，恶心死了"),
    ("zh", "toxic", "你妈的，蠢货，赶紧闭嘴吧"),
    ("zh", "hate", "女人就是头发长见识短，根本不配当领导"),
    ("zh", "hate", "这些黑鬼都应该滚出中国"),
    # --- German and Korean, benign and harmful ---
    ("de", "benign", "Heute war ein schöner Tag im Park, morgen geht es wieder zur Arbeit"),
    ("de", "benign", "Kann mir jemand ein gutes Rezept für Apfelkuchen empfehlen?"),
    ("de", "toxic", "Du bist so ein dummer Idiot, halt einfach die Klappe"),
    ("ko", "benign", "오늘 날씨가 정말 좋네요, 주말에 가족과 산책했어요"),
    ("ko", "benign", "이 영화 정말 재미있었어요, 추천합니다"),
    ("ko", "toxic", "진짜 멍청한 놈이네, 꺼져라"),
    # --- other languages: benign only (must not be flagged at random) ---
    ("fr", "benign", "Quelle belle journée à la plage avec les enfants, à demain"),
    ("es", "benign", "Gracias a todos por venir a la fiesta, lo pasamos genial"),
    ("ja", "benign", "今日はとても良い天気ですね、公園を散歩しました"),
    ("ru", "benign", "Спасибо за помощь, встретимся завтра в кафе"),
)

SLOTS: Final[dict[str, tuple[str, ...]]] = {
    "place": ("park", "beach", "museum", "lake", "zoo", "farmers market"),
    "food": ("lasagna", "ramen", "tacos", "curry", "banana bread", "dumplings"),
    "day": ("Monday", "Tuesday", "Thursday", "Friday"),
    "name": ("Sam", "Alex", "Maria", "Chen", "Priya", "Jonas"),
    "product": ("watches", "sunglasses", "sneakers", "phones"),
    "url": (
        "http://bit.ly/3xPrize",
        "http://secure-login-verify.co/acc",
        "www.win-now.biz/claim",
        "http://tinyurl.com/pay-fee",
    ),
    "num": ("123", "456", "789", "202", "311"),
    "place_zh": ("公园", "海边", "博物馆", "动物园"),
    "food_zh": ("火锅", "饺子", "烤鸭", "小笼包"),
    "name_zh": ("小明", "王老师", "李华", "妈妈"),
}

TYPES: Final = ("post", "comment", "message", "profile")
SOURCES: Final = ("web", "ios", "android", "api")
MALFORMED_KINDS: Final = (
    "bad_json",
    "wrong_type",
    "missing_field",
    "invalid_utf8",
    "oversized",
    "not_object",
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One generated message: the bytes to send and what they are (for reconciliation)."""

    value: bytes
    key: bytes
    kind: str  # benign, spam, scam, toxic, hate, or malformed:<what>
    lang: str


class Firehose:
    """Deterministic generator of events; ``harmful`` and ``malformed`` are fractions of all events."""

    def __init__(
        self,
        *,
        seed: int = 7,
        harmful: float = 0.2,
        malformed: float = 0.0,
        oversized_bytes: int = 70_000,
        padding: tuple[int, int] = (0, 0),
    ) -> None:
        if not 0 <= harmful <= 1 or not 0 <= malformed <= 1 or harmful + malformed > 1:
            raise ValueError(
                "harmful and malformed must be fractions in 0..1 that add up to at most 1"
            )
        self._rng = random.Random(seed)
        self._harmful = harmful
        self._malformed = malformed
        self._oversized = oversized_bytes
        self._padding = padding
        self._benign = [t for t in TEMPLATES if t[1] == "benign"]
        self._bad = [t for t in TEMPLATES if t[1] != "benign"]
        self._seq = 0

    def _slots(self, template: str) -> str:
        rng = self._rng
        out = template
        for slot, values in SLOTS.items():
            token = "{" + slot + "}"
            while token in out:
                out = out.replace(token, rng.choice(values), 1)
        return out

    def _fill(self, template: str) -> str:
        out = self._slots(template)
        lo, hi = self._padding
        if hi > 0:  # lengthen with benign sentences to reach realistic post lengths
            target = self._rng.randint(lo, hi)
            while len(out) < target:
                out = f"{out}. {self._slots(self._rng.choice(self._benign)[2])}"
        return out

    def event(
        self, lang: str, kind: str, text: str, created_at: float | None = None
    ) -> dict[str, object]:
        self._seq += 1
        ts = time.time() if created_at is None else created_at
        return {
            "event_id": f"evt-{self._seq:09d}-{self._rng.getrandbits(32):08x}",
            "type": self._rng.choice(TYPES),
            "created_at": datetime.fromtimestamp(ts, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "source": self._rng.choice(SOURCES),
            "author": {"id": f"u{self._rng.randint(1, 50_000)}"},
            "text": text,
            "lang": lang,
        }

    def sample(self) -> Sample:
        r = self._rng.random()
        if r < self._malformed:
            return self._malformed_sample(self._rng.choice(MALFORMED_KINDS))
        lang, kind, template = self._rng.choice(
            self._bad if r < self._malformed + self._harmful else self._benign
        )
        body = self.event(lang, kind, self._fill(template))
        return Sample(orjson.dumps(body), str(body["event_id"]).encode(), kind, lang)

    def _malformed_sample(self, what: str) -> Sample:
        body = self.event("en", "malformed", self._fill(self._rng.choice(self._benign)[2]))
        key = str(body["event_id"]).encode()
        if what == "bad_json":
            value = orjson.dumps(body)[:-7]
        elif what == "wrong_type":
            body["author"] = {"id": 12345}
            value = orjson.dumps(body)
        elif what == "missing_field":
            del body["created_at"]
            value = orjson.dumps(body)
        elif what == "invalid_utf8":
            value = orjson.dumps(body).replace(b'"text":"', b'"text":"\xff\xfe\xc3(', 1)
        elif what == "oversized":
            body["text"] = "spam " * (self._oversized // 5 + 1)
            value = orjson.dumps(body)
        elif what == "not_object":
            value = orjson.dumps([body])
        else:
            raise ValueError(f"unknown malformed kind {what!r}; use one of {MALFORMED_KINDS}")
        return Sample(value, key, f"malformed:{what}", "en")

    def __iter__(self) -> Iterator[Sample]:
        while True:
            yield self.sample()
