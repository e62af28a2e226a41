"""Issue 10 end to end: three campaigns hidden in a firehose of 50,000 benign events from 6,000
authors, on the real broker, one worker with the shipped models.

- ``scam``: one lottery scam posted by 30 authors, reworded (names, amounts, emoji, spacing,
  the order of its sentences);
- ``phone``: 25 authors posting *different* texts that share one phone number;
- ``listed``: a Chinese prize scam a partner listed (imported with ``flagstream signals import``),
  posted by 20 authors in variants: a ``signal_list`` campaign, which ``flagstream tail
  --campaigns`` prints.

Each must be reported on the campaigns topic within 30 s of its K-th member being *produced*
(acknowledged by the broker), with >= 90 % of its members attributed and >= 95 % of the
attributed events truly its own; benign viral phrases ("happy new year", "新年快乐", a benign
"congratulations") may be campaigns, with no scam label, and never share one with a harmful
campaign. A fourth, ``late`` (a parcel scam from 10 authors in the firehose's last 1,000
events), measures what a campaign meets when the stage is furthest behind: attributed like the
others, its delay printed but not held to the bound. ``pytest -s`` prints the measured figures (docs/networks.md, "Live detection on the
real broker").
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.support import (
    FLAGSTREAM,
    event_body,
    metric_sum,
    read_topic,
    start_worker,
    wait_until,
    worker_env,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HANG_S = 120.0  # a wait this long is a hang, whatever the machine
DRAIN_S = 300.0  # the whole firehose consumed: bounded too
K = 5
DETECT_S = 30.0  # the bound, from the K-th member's production
BENIGN_EVENTS = 50_000
AUTHORS = 6_000
SEED = 10

# --- the firehose: everyday text from word banks ---------------------------------------------
EN_WHO = (
    "my sister", "our neighbour", "the new intern", "my grandad", "a friend from school",
    "the guy at the bakery", "my landlord", "our team lead", "my cousin", "the dog walker",
    "my flatmate", "the bus driver", "our coach", "my daughter", "the librarian",
)  # fmt: skip
EN_DID = (
    "finally fixed the leaking tap", "baked a lemon cake", "painted the fence green",
    "found a wallet and handed it in", "started learning the violin", "ran ten kilometres",
    "adopted a grey kitten", "planted tomatoes on the balcony", "got lost on the way home",
    "repaired an old radio", "cooked dumplings for everyone", "lost the car keys again",
    "booked tickets for the concert", "moved into a flat by the river", "knitted a scarf",
    "read three novels this week", "watched the football late", "cleaned out the garage",
)  # fmt: skip
EN_WHEN = (
    "this morning", "last night", "on Sunday", "after lunch", "before the storm", "yesterday",
    "during the holidays", "at dawn", "after work", "on the weekend", "over the summer",
)  # fmt: skip
EN_FEEL = (
    "and I could not stop laughing", "which made my day", "so we celebrated with pizza",
    "and the whole street noticed", "but it rained the whole time", "and nobody believed it",
    "so I am exhausted now", "which was a nice surprise", "and the kids loved it",
    "but the traffic was terrible", "and now I need a nap", "so the coffee is on me",
)  # fmt: skip
EN_ASK = (
    "does anyone know a good {thing} near {place}?", "where can I buy a cheap {thing} in {place}?",
    "recommend me a {thing} that is open late around {place}", "is the {thing} by {place} any good?",
)  # fmt: skip
EN_THING = (
    "dentist", "bike shop", "noodle bar", "yoga class", "plumber", "bookshop", "barber",
    "swimming pool", "vet", "bakery", "tailor", "climbing gym", "farmers market", "cinema",
)  # fmt: skip
EN_PLACE = (
    "the station", "the old harbour", "the university", "Market Street", "the park gates",
    "the north end", "the town hall", "the shopping centre", "the canal", "the airport",
)  # fmt: skip
ZH_WHO = (
    "我妈妈",
    "同事小王",
    "楼下的邻居",
    "我的室友",
    "表哥",
    "班主任",
    "隔壁老李",
    "我女儿",
    "房东",
    "老同学",
)
ZH_WHEN = (
    "今天早上",
    "昨天晚上",
    "周末",
    "下班以后",
    "中午",
    "国庆节期间",
    "刚才",
    "上个月",
    "春天的时候",
)
ZH_DID = (
    "做了一锅红烧肉", "去公园跑了五公里", "学会了包饺子", "把阳台收拾干净了", "买了一辆新自行车",
    "在图书馆看了一下午书", "带孩子去动物园", "修好了厨房的水管", "种了几盆花", "第一次坐高铁去上海",
    "去医院体检", "参加了一个摄影比赛", "搬到了河边的新家", "看了一场篮球比赛",
)  # fmt: skip
ZH_FEEL = (
    "心情特别好", "累得不想动", "大家都很开心", "结果下了一天雨", "感觉收获很大", "笑得肚子疼",
    "真是太幸运了", "有点想家了", "明天还要早起",
)  # fmt: skip
# benign viral phrases: the same few words from many authors
VIRAL = (
    "happy new year", "Happy New Year!! 🎉", "happy new year everyone", "HAPPY NEW YEAR 2027",
    "新年快乐", "新年快乐！万事如意", "祝大家新年快乐，身体健康", "happy birthday mum, love you",
    "Congratulations Anna! So proud of you for finishing your degree 🎓",
    "Congratulations Tom! So proud of you for finishing your degree",
)  # fmt: skip


def everyday(rng: random.Random) -> str:
    """One benign post: a varied English or Chinese sentence, now and then a viral phrase."""
    roll = rng.random()
    if roll < 0.03:
        return rng.choice(VIRAL)
    if roll < 0.40:
        return (
            f"{rng.choice(ZH_WHEN)}{rng.choice(ZH_WHO)}{rng.choice(ZH_DID)}，{rng.choice(ZH_FEEL)}"
        )
    if roll < 0.60:
        ask = rng.choice(EN_ASK).format(thing=rng.choice(EN_THING), place=rng.choice(EN_PLACE))
        return ask if rng.random() < 0.5 else ask.capitalize()
    text = f"{rng.choice(EN_WHO)} {rng.choice(EN_DID)} {rng.choice(EN_WHEN)} {rng.choice(EN_FEEL)}"
    return text if rng.random() < 0.6 else text.capitalize() + rng.choice(("", "!", " :)", " 😂"))


# --- the three campaigns ---------------------------------------------------------------------
SCAM_NAMES = ("John", "Mary", "Wei", "Ahmed", "Sofia", "Ken", "Olga", "Ravi", "Lucia", "Tom")


def scam(rng: random.Random) -> str:
    """The lottery scam, reworded: name, amount, emoji, spacing and sentence order vary."""
    won = rng.choice(
        (
            "Congratulations {name}! You have won ${amount} in the {brand} lottery.",
            "{name}, congratulations!! You have won ${amount} in the {brand} lottery.",
            "Congratulations {name}, you have WON ${amount} in the {brand} lottery!",
        )
    ).format(
        name=rng.choice(SCAM_NAMES),
        amount=f"{rng.randint(100, 99_999):,}" if rng.random() < 0.5 else rng.randint(100, 99_999),
        brand=rng.choice(("Global", "Mega", "Lucky", "National")),
    )
    claim = rng.choice(
        (
            "Message our agent on WhatsApp today to claim your prize",
            "To claim your prize message our agent on WhatsApp today",
            "Message our agent on WhatsApp to claim your prize today",
        )
    ) + rng.choice((" 🎉", " 💰💰", "", "!!", " 🎁"))
    hurry = rng.choice(("Offer ends at midnight.", "The offer ends at midnight!", ""))
    parts = [won, claim, hurry] if rng.random() < 0.6 else [claim, won, hurry]
    text = " ".join(p for p in parts if p)
    return text.replace(" ", "  ", rng.randint(0, 2)) if rng.random() < 0.3 else text


PHONE = "+14155550134"
PHONE_FORMS = (
    "+1 415 555 0134", "415-555-0134", "(415) 555 0134", "+1 (415) 555-0134", "+14155550134",
    "415.555.0134", "+1-415-555-0134",
)  # fmt: skip
PHONE_PITCHES = (
    "cheap designer bags, all original, call me {p}",
    "need a loan today? no credit check, approval in one hour: {p}",
    "生意兴隆，货到付款，电话 {p}",
    "hot singles in your area want to meet, text {p}",
    "work from home and earn 500 dollars a day, ring {p}",
    "your parcel is held at customs, pay the release fee by calling {p}",
    "selling concert tickets for tonight, front row, {p}",
    "代办各种证件，快速出证，联系 {p}",
    "lose ten kilos in a week with our herbal tea, order at {p}",
    "unlock any phone in five minutes, reliable service {p}",
    "高薪兼职，日结工资，打字员在家也能做 {p}",
    "bitcoin doubling programme, guaranteed returns, advisor on {p}",
    "cheap flights to anywhere, agent available 24/7 at {p}",
    "visa guaranteed for every country, consultation {p}",
    "二手名表回收，高价上门，{p}",
    "massage at your hotel, discreet and fast, {p}",
    "we buy houses for cash, any condition, {p}",
    "全网最低价的手机，正品保证，致电 {p}",
    "car insurance from 9 dollars a month, quote on {p}",
    "private tutor for maths and physics, first lesson free {p}",
    "网络贷款，无抵押，当天放款 {p}",
    "fresh lobster delivered to your door this weekend {p}",
    "repair your credit score fast, legal and safe, {p}",
    "刷单返利，每单佣金十元，详询 {p}",
    "wedding photographer with a last minute opening, {p}",
)  # fmt: skip
LISTED = "恭喜您获得本月幸运大奖，奖金10000元，请立即添加客服领取，名额有限先到先得"


def listed_variant(rng: random.Random) -> str:
    """A variant of the partner-listed Chinese prize scam: another amount, punctuation and
    emoji, and at most one changed word (what a list's near match is for: the script reposted,
    not rewritten)."""
    text = LISTED.replace("10000", str(rng.choice((10000, 20000, 8888, 5000, 66666))))
    swap = rng.choice(
        (("", ""), ("您", "你"), ("添加客服", "添加在线客服"), ("名额有限", "名额有限，"))
    )
    text = text.replace(*swap) if swap[0] else text
    if rng.random() < 0.5:
        text = text.replace("大奖，", "大奖！")
    return text + rng.choice(("", "🎉", "🎁🎁", "!!"))


@dataclass
class Campaign:
    """One hidden campaign: its members in production order, and when each was acknowledged."""

    name: str
    members: list[tuple[str, str]] = field(default_factory=list)  # (event id, author)
    acked: dict[str, float] = field(default_factory=dict)  # event id -> unix time of the ack

    @property
    def ids(self) -> set[str]:
        return {e for e, _ in self.members}

    def kth_event(self, k: int) -> str:
        """The member that brings the K-th distinct author (in production order)."""
        seen: set[str] = set()
        for event_id, author in self.members:
            seen.add(author)
            if len(seen) == k:
                return event_id
        raise AssertionError(f"{self.name} has fewer than {k} authors")


def firehose(rng: random.Random) -> tuple[list[tuple[str, str, str]], dict[str, Campaign]]:
    """(event id, author, text) in production order, and the campaigns hidden in it."""
    events = [(f"b{i}", f"u{rng.randrange(AUTHORS)}", everyday(rng)) for i in range(BENIGN_EVENTS)]
    campaigns = {name: Campaign(name) for name in ("scam", "phone", "listed")}
    hidden = [(f"s{i}", f"lottery{i}", scam(rng)) for i in range(30)]
    pitches = list(PHONE_PITCHES)
    rng.shuffle(pitches)
    international = [f for f in PHONE_FORMS if f.startswith("+")]
    for i, pitch in enumerate(pitches):
        # Chinese text reads a number without "+" as Chinese (docs/networks.md): a spammer
        # writing to Chinese readers from abroad writes the country code
        forms = international if any("\u4e00" <= ch <= "\u9fff" for ch in pitch) else PHONE_FORMS
        hidden.append((f"p{i}", f"seller{i}", pitch.format(p=rng.choice(forms))))
    hidden.extend((f"l{i}", f"prize{i}", listed_variant(rng)) for i in range(20))
    # spread over the whole firehose, in random places
    positions = sorted(rng.sample(range(BENIGN_EVENTS), len(hidden)))
    rng.shuffle(hidden)
    for offset, (pos, member) in enumerate(zip(positions, hidden, strict=True)):
        events.insert(pos + offset, member)
    # a probe at the very end (its own generator: the firehose above stays the same): what a
    # campaign meets when the stage is furthest behind; measured, not held to the bound
    late = random.Random(SEED + 1)
    spots = sorted(late.sample(range(len(events) - 1_000, len(events)), 10))
    for offset, pos in enumerate(spots):
        events.insert(pos + offset, (f"z{offset}", f"courier{offset}", parcel(late)))
    campaigns["late"] = Campaign("late")
    for event_id, author, _ in events:
        kind = {"s": "scam", "p": "phone", "l": "listed", "z": "late"}.get(event_id[0])
        if kind is not None:
            campaigns[kind].members.append((event_id, author))
    return events, campaigns


def parcel(rng: random.Random) -> str:
    """The late probe: a parcel redelivery scam, reworded like the lottery one."""
    return (
        f"Your parcel {rng.choice(('GB', 'RM', 'DX'))}{rng.randint(10**8, 10**9)} could not be "
        f"delivered{rng.choice(('.', '!', ' today.'))} Pay the {rng.choice(('£1.99', '£2.49', '£0.99'))}"
        f" redelivery fee{rng.choice((' now', '', ' within 24 hours'))} to avoid it being "
        f"returned to the sender{rng.choice(('', ' 📦', '!!'))}"
    )


# --- the broker side -------------------------------------------------------------------------
def _produce(
    bootstrap: str, topic: str, events: list[tuple[str, str, str]], campaigns: dict[str, Campaign]
) -> float:
    """Produce the firehose as fast as kafka-python goes; returns the seconds it took."""
    by_id = {e: c for c in campaigns.values() for e, _ in c.members}
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, batch_size=512 * 1024, acks=1
    )

    def acked(campaign: Campaign, event_id: str) -> Callable[[Any], None]:
        def done(_metadata: Any) -> None:
            campaign.acked[event_id] = time.time()

        return done

    started = time.monotonic()
    try:
        for event_id, author, text in events:
            value = orjson.dumps(event_body(event_id, author, text, source="firehose"))
            # keyed by event id: a campaign's members land on every input partition
            future = producer.send(topic, key=event_id.encode(), value=value)
            campaign = by_id.get(event_id)
            if campaign is not None:
                future.add_callback(acked(campaign, event_id))
        producer.flush(timeout=HANG_S)
    finally:
        producer.close(timeout=10)
    return time.monotonic() - started


class CampaignTail:
    """Reads the campaigns topic in a thread, keeping each record with the time it was seen."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.records: list[tuple[float, dict[str, Any]]] = []  # (record timestamp s, value)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
        )
        partitions = self._consumer.partitions_for_topic(topic)
        assert partitions, f"{topic} does not exist"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(tps)
        self._consumer.seek_to_beginning(*tps)
        self._thread = threading.Thread(target=self._run, name="campaign-tail", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for batch in self._consumer.poll(timeout_ms=200).values():
                with self._lock:
                    self.records.extend((r.timestamp / 1000, orjson.loads(r.value)) for r in batch)

    def snapshot(self) -> list[tuple[float, dict[str, Any]]]:
        with self._lock:
            return list(self.records)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._consumer.close()


@dataclass(frozen=True)
class Found:
    """The campaign that best matches a hidden one, as last published."""

    campaign_id: str
    kind: str
    first_reported: float  # record timestamp of its first record with >= K authors
    attributed: float  # share of the hidden campaign's members it names
    precision: float  # share of the events it names that are the hidden campaign's
    record: dict[str, Any]


def best_match(records: list[tuple[float, dict[str, Any]]], truth: set[str]) -> Found | None:
    latest: dict[str, dict[str, Any]] = {}
    first: dict[str, float] = {}
    for ts, rec in records:
        cid = rec["campaign_id"]
        latest[cid] = rec  # records of one campaign share a key: in order
        if rec["author_count"] >= K:
            first.setdefault(cid, ts)
    best: Found | None = None
    for cid, rec in latest.items():
        named = set(rec["event_ids"])
        hits = len(named & truth)
        if not hits:
            continue
        found = Found(cid, rec["kind"], first[cid], hits / len(truth), hits / len(named), rec)
        if best is None or found.attributed > best.attributed:
            best = found
    return best


def _changelog_writes(bootstrap: str, group_id: str) -> int:
    """Records written to the campaign table's changelog (every table write is one)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        topic = f"{group_id}-networks-campaigns-changelog"
        parts = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return int(sum(ends.values()))
    finally:
        consumer.close()


def _import_signal(env: dict[str, str], tmp_path: Path) -> None:
    jsonl = tmp_path / "partner.jsonl"
    row = {"kind": "text_near", "text": LISTED, "label": "scam", "notes": "partner report"}
    jsonl.write_text(orjson.dumps(row).decode() + "\n", encoding="utf-8")
    done = subprocess.run(
        [*FLAGSTREAM, "signals", "import", str(jsonl), "--list", "partner-zh"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=HANG_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_three_campaigns_are_found_live_in_a_50k_firehose(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    events, campaigns = firehose(rng)
    benign_authors = {a for e, a, _ in events if e.startswith("b")}
    assert len(events) - sum(len(c.members) for c in campaigns.values()) >= 50_000
    assert len(benign_authors) >= 5_000
    prefix = f"fh-{uuid.uuid4().hex[:8]}"
    env = {
        **worker_env(kafka_bootstrap, prefix),
        "FLAGSTREAM_CAMPAIGN_TOPIC": f"{prefix}.campaigns",
        "FLAGSTREAM_SIGNALS_TOPIC": f"{prefix}.signals",
        "FLAGSTREAM_CAMPAIGNS_ENABLED": "1",
        "FLAGSTREAM_CAMPAIGN_MIN_AUTHORS": str(K),
        # the worker as shipped: tests/conftest.py pins the governor at 1.0 for tests that
        # compare scores; this one measures the live path, so the default share applies
        "FLAGSTREAM_CASCADE_MAX_BUSY": os.environ.get("FIREHOSE_CASCADE_MAX_BUSY", "0.6"),
    }
    _import_signal(
        {
            "FLAGSTREAM_BOOTSTRAP": kafka_bootstrap,
            "FLAGSTREAM_SIGNALS_TOPIC": env["FLAGSTREAM_SIGNALS_TOPIC"],
        },
        tmp_path,
    )
    worker = start_worker(env, tmp_path, "firehose")
    tail: CampaignTail | None = None
    try:
        wait_until(lambda: worker.probe("/readyz") == 200, HANG_S, "/readyz 200")
        tail = CampaignTail(kafka_bootstrap, env["FLAGSTREAM_CAMPAIGN_TOPIC"])
        started, produced_at = time.monotonic(), time.time()
        produce_s = _produce(kafka_bootstrap, env["FLAGSTREAM_INPUT_TOPIC"], events, campaigns)
        print(f"\nproduced {len(events):,} events in {produce_s:.1f} s")

        pending_max = [
            0.0
        ]  # the changelog's backlog (flagstream_campaign_changelog_pending_writes)

        def drained() -> bool:
            samples = worker.metrics()
            pending = metric_sum(samples, "flagstream_campaign_changelog_pending_writes")
            pending_max[0] = max(pending_max[0], pending)
            return metric_sum(samples, "flagstream_events_consumed_total") >= len(events)

        wait_until(drained, DRAIN_S, f"the worker to consume {len(events):,} events", 1.0)
        drain_s = time.monotonic() - started
        print(f"consumed all in {drain_s:.1f} s ({len(events) / drain_s:,.0f} events/s)")
        # the stage runs behind the pipeline: wait for each campaign to be fully reported
        tail_ = tail

        def reported() -> bool:
            snap = tail_.snapshot()
            return all(
                (f := best_match(snap, c.ids)) is not None and f.attributed >= 0.9
                for c in campaigns.values()
            )

        with contextlib.suppress(AssertionError):  # the figures below say which one is missing
            wait_until(reported, HANG_S, "the three campaigns on the campaigns topic", 1.0)
            # then until the stage has caught up: no new campaign record for 12 s (over two
            # periods of the stage's flush, which publishes held-back growth; docs/networks.md)
            last = [-1, time.monotonic()]

            def settled() -> bool:
                pending = metric_sum(
                    worker.metrics(), "flagstream_campaign_changelog_pending_writes"
                )
                pending_max[0] = max(pending_max[0], pending)
                count = len(tail_.snapshot())
                if count != last[0]:
                    last[:] = [count, time.monotonic()]
                return time.monotonic() - last[1] >= 12.0

            wait_until(settled, HANG_S, "the campaign stage to catch up", 0.5)
        records = tail.snapshot()
        print(
            f"{len(records):,} campaign records; the last one "
            f"{records[-1][0] - produced_at - produce_s:.1f} s after the last event was produced;"
            f" changelog writes pending: up to {pending_max[0]:,.0f}; "
            f"{_changelog_writes(kafka_bootstrap, env['FLAGSTREAM_GROUP_ID']):,} written"
        )
        found: dict[str, Found] = {}
        for name, campaign in campaigns.items():
            best = best_match(records, campaign.ids)
            assert best is not None, f"campaign {name} was never reported"
            kth = campaign.kth_event(K)
            delay = best.first_reported - campaign.acked[kth]
            at = next(i for i, e in enumerate(events) if e[0] == kth) / len(events)
            print(
                f"{name}: {best.kind} {best.campaign_id}: reported {delay:.1f} s after its "
                f"K-th member ({at:.0%} into the firehose) was produced; "
                f"{best.attributed:.0%} of {len(campaign.ids)} "
                f"members attributed, {best.precision:.0%} of its {len(best.record['event_ids'])}"
                f" events truly in it, labels {best.record['labels']}"
            )
            found[name] = best
        flagged = {
            orjson.loads(r.value)["event_id"]: orjson.loads(r.value)
            for r in read_topic(kafka_bootstrap, env["FLAGSTREAM_FLAGGED_TOPIC"], timeout=HANG_S)
        }
        by_list = [
            e
            for e in campaigns["listed"].ids
            if flagged.get(e, {}).get("decided_by") == "signal-list:partner-zh"
        ]
        print(f"listed: {len(by_list)} of 20 members flagged by the signal list")
        viral = [
            rec
            for rec in {r["campaign_id"]: r for _, r in records}.values()
            if all(e.startswith("b") for e in rec["event_ids"])
        ]
        print(
            f"{len(viral)} benign campaigns, labels "
            f"{sorted({lb for r in viral for lb in r['labels']})}; "
            f"{len(flagged):,} events flagged"
        )

        for name, best in found.items():
            kth = campaigns[name].kth_event(K)
            if name != "late":  # the probe's delay is measured (docs/networks.md), not bound
                assert best.first_reported - campaigns[name].acked[kth] <= DETECT_S, name
            assert best.attributed >= 0.9, (name, best)
            assert best.precision >= 0.95, (name, best)
        assert found["scam"].kind == "near_duplicate"
        assert found["listed"].kind == "signal_list", found["listed"].record
        (listed_signal,) = found["listed"].record["indicators"]
        assert listed_signal["type"] == "signal"
        assert (listed_signal["list"], listed_signal["kind"]) == ("partner-zh", "text_near")
        shown = subprocess.run(
            [*FLAGSTREAM, "tail", "--campaigns", "--from-beginning", "--timeout", "5"],
            env={
                **os.environ,
                "FLAGSTREAM_BOOTSTRAP": kafka_bootstrap,
                "FLAGSTREAM_CAMPAIGN_TOPIC": env["FLAGSTREAM_CAMPAIGN_TOPIC"],
            },
            capture_output=True,
            text=True,
            timeout=HANG_S,
            check=True,
        ).stdout
        lines = [ln for ln in shown.splitlines() if found["listed"].campaign_id in ln]
        assert lines, shown[-2000:]
        assert "SIGNAL_LIST" in lines[-1]
        assert "signal=partner-zh|text_near|" in lines[-1]
        print(f"tail --campaigns: {lines[-1][:160]}")
        assert found["phone"].kind == "shared_indicator"
        assert found["phone"].record["indicators"] == [{"type": "phone", "value": PHONE}]
        assert found["scam"].record["labels"].get("scam"), found["scam"].record
        assert len(by_list) >= 18  # >= 90 % of the listed scam's posts caught by the list
        harmful = {e for c in campaigns.values() for e in c.ids}
        for _, rec in records:
            named = set(rec["event_ids"])
            # never merged: a campaign is all hidden members or all benign events
            assert not (named & harmful) or named <= harmful, rec["campaign_id"]
            if not named & harmful:
                assert not rec["labels"].get("scam"), rec
    finally:
        if tail is not None:
            tail.close()
        assert worker.stop() == 0, worker.log()[-3000:]
