"""The benchmark's events: realistic shape, deterministic, cheap to produce at 10k events/s.

Shape (issue 5): text of 20–500 characters, a mix of English and Chinese, about 5 % harmful
(spam, scam, toxic, hate) and about 0.5 % malformed (not UTF-8, not JSON, wrong schema). Texts
are drawn from a pool built once from phrase banks, so the producer only stamps ``event_id`` and
``created_at`` per event. The kind of every event is known here, so the harness can reconcile what
each contender dead-lettered.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import orjson

BENIGN: Final = "benign"
HARMFUL: Final = "harmful"
MALFORMED: Final = "malformed"

EN_BENIGN = (
    "Had a great time at the farmers market this morning, the strawberries were perfect.",
    "Does anyone know a good tutorial for learning watercolor painting?",
    "Our team finally shipped the new release after three weeks of testing.",
    "The train was late again but at least I finished my book on the way.",
    "Happy birthday to my little sister, can't believe she is already twelve!",
    "Just tried the new ramen place downtown and honestly it lived up to the hype.",
    "Reminder: the community cleanup starts at 9am near the river bridge.",
    "I think the second half of the season was much better than the first.",
    "Looking for recommendations for a lightweight tent for summer hiking.",
    "Thanks everyone for the kind messages, the surgery went well and I'm resting.",
    "The sunset over the bay tonight was unreal, photos don't do it justice.",
    "Can someone explain how compound interest works in simple terms?",
    "Our cat knocked the plant off the shelf for the third time this week.",
    "Great talk at the conference today about accessibility in web design.",
    "Weekend plans: finish the garden fence and bake some bread.",
    "What time does the library close on public holidays?",
    "I love how this city comes alive during the autumn festival.",
    "New blog post about migrating our database with zero downtime is up.",
    "Who else is watching the match tonight? Should be a close one.",
    "Tried a new recipe for lentil soup and the kids actually liked it.",
)
ZH_BENIGN = (
    "今天早上去菜市场买了新鲜的草莓，特别甜。",
    "有人知道学习水彩画的好教程吗？",
    "我们团队经过三周的测试终于发布了新版本。",
    "火车又晚点了，不过我在路上看完了一本书。",
    "祝我妹妹生日快乐，真不敢相信她已经十二岁了！",
    "刚去市中心那家新开的拉面店，味道确实不错。",
    "提醒一下，社区清洁活动上午九点在河边桥头开始。",
    "我觉得这个赛季的下半段比上半段精彩多了。",
    "求推荐一款适合夏天徒步的轻便帐篷。",
    "谢谢大家的关心，手术很顺利，我正在休息。",
    "今晚海湾的日落太美了，照片根本拍不出来。",
    "周末计划：修好花园的篱笆，再烤一些面包。",
    "图书馆节假日几点关门？",
    "我很喜欢这座城市在秋季庆典时的热闹气氛。",
    "今天尝试了新的扁豆汤做法，孩子们居然很喜欢。",
)
EN_HARMFUL = (
    "CONGRATULATIONS! You have WON a free iPhone. Click http://win-prize.example to claim now!!!",
    "URGENT: your bank account has been suspended. Verify your password at http://secure-login.example",
    "Earn $5000 a week from home, no experience needed, text WIN to 80085 now",
    "FREE entry to win cash prizes! Reply YES to claim your reward before midnight",
    "Your parcel is on hold, pay the customs fee here to release it: http://pkg-fee.example",
    "You are a pathetic worthless idiot and everyone hates you, shut up",
    "Shut up you stupid moron, nobody wants to hear your garbage opinions",
    "What a disgusting loser, go crawl back under your rock you dumb piece of trash",
    "Those people are vermin and should be thrown out of this country",
    "I hate all of them, they are animals and do not deserve to live here",
)
ZH_HARMFUL = (
    "恭喜您中奖了！点击链接领取免费手机，名额有限，马上行动！",
    "您的银行账户已被冻结，请立即点击链接验证密码，否则将被注销。",
    "你就是个废物，蠢得要死，滚出去吧。",
    "这些人都是垃圾，根本不配待在这里，全都滚回去。",
    "日赚五千元，在家就能做，加微信了解详情，免费领取红包！",
)
SOURCES = ("web", "ios", "android", "api")
TYPES = ("post", "comment", "message", "profile")


@dataclass(frozen=True, slots=True)
class Mix:
    """Shares of the workload: harmful and malformed are fractions of all events."""

    harmful: float = 0.05
    malformed: float = 0.005
    chinese: float = 0.3
    min_chars: int = 20
    max_chars: int = 500


def _text(rng: random.Random, bank: tuple[str, ...], filler: tuple[str, ...], length: int) -> str:
    parts: list[str] = [rng.choice(bank)]
    total = len(parts[0])
    while total < length:  # bounded: every phrase adds at least 10 characters
        nxt = rng.choice(filler)
        parts.append(nxt)
        total += len(nxt) + 1
    return " ".join(parts)[:length]


def _length(rng: random.Random, mix: Mix) -> int:
    # social text is mostly short with a long tail: log-normal, clipped to the 20–500 range
    return max(mix.min_chars, min(mix.max_chars, int(rng.lognormvariate(4.6, 0.8))))


@dataclass(frozen=True, slots=True)
class PoolItem:
    """One event body without its id and time, or one malformed message."""

    kind: str
    text: str
    lang: str
    raw: bytes = b""  # malformed only: the exact bytes sent


def _malformed(rng: random.Random, i: int) -> bytes:
    which = i % 4
    if which == 0:  # not UTF-8
        return b'{"event_id": "bad-\xff\xfe", "text": "\xc3\x28"}'
    if which == 1:  # truncated JSON
        return b'{"event_id": "trunc", "type": "post", "text": "hello'
    if which == 2:  # valid JSON, wrong schema: no text, author not an object
        return orjson.dumps({"event_id": f"schema-{i}", "type": "post", "author": "someone"})
    return orjson.dumps([rng.random(), "not an object"])  # JSON but not an object


class Workload:
    """A deterministic pool of event bodies; :meth:`event` stamps id and time in ~3 µs."""

    def __init__(self, seed: int = 5, mix: Mix | None = None, pool_size: int = 20_000) -> None:
        self.mix = mix or Mix()
        rng = random.Random(seed)
        pool: list[PoolItem] = []
        for i in range(pool_size):
            roll = rng.random()
            if roll < self.mix.malformed:
                pool.append(PoolItem(MALFORMED, "", "", _malformed(rng, i)))
                continue
            harmful = roll < self.mix.malformed + self.mix.harmful
            zh = rng.random() < self.mix.chinese
            filler = ZH_BENIGN if zh else EN_BENIGN
            bank = (ZH_HARMFUL if zh else EN_HARMFUL) if harmful else filler
            length = _length(rng, self.mix)
            # harmful posts repeat their message rather than hide it in small talk
            text = _text(rng, bank, bank if harmful else filler, length)
            pool.append(PoolItem(HARMFUL if harmful else BENIGN, text, "zh" if zh else "en"))
        self.pool = pool
        self._rng = rng

    def event(self, index: int, prefix: str, created_ts: float) -> tuple[bytes, bytes, str]:
        """(key, value, kind) of event number ``index``; ``created_at`` is ``created_ts``."""
        item = self.pool[index % len(self.pool)]
        event_id = f"{prefix}-{index:09d}"
        if item.kind == MALFORMED:
            return event_id.encode(), item.raw, MALFORMED
        body = {
            "event_id": event_id,
            "type": TYPES[index % 4],
            "created_at": rfc3339_ms(created_ts),
            "source": SOURCES[(index // 4) % 4],
            "author": {"id": f"u{(index * 7919) % 100_003}"},
            "text": item.text,
            "lang": item.lang,
        }
        return event_id.encode(), orjson.dumps(body), item.kind

    def events(self, n: int, prefix: str, created_ts: float) -> Iterator[tuple[bytes, bytes, str]]:
        for i in range(n):
            yield self.event(i, prefix, created_ts)

    def count(self, n: int, kind: str) -> int:
        """How many of the first ``n`` events are of ``kind`` (events cycle through the pool)."""
        size = len(self.pool)
        full, rest = divmod(n, size)
        per_pool = sum(1 for it in self.pool if it.kind == kind)
        return full * per_pool + sum(1 for it in self.pool[:rest] if it.kind == kind)


def rfc3339_ms(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def transport_selects(key: bytes) -> bool:
    """raw-transport's model-free stand-in for a decision: ~5 % of event ids, deterministically."""
    return zlib.crc32(key) % 20 == 0
