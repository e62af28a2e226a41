"""Campaign detection as a pure function of the observations (no broker)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import orjson
import pytest

from streams.networks.campaigns import (
    NEAR_DUPLICATE,
    SHARED_INDICATOR,
    CampaignConfig,
    CampaignTracker,
    Observation,
    campaign_id,
    decode_group,
    encode_group,
)
from streams.networks.minhash import MinHasher, encode_signature
from streams.networks.singletons import SingletonStore

HASHER = MinHasher()
SCAM = (
    "Congratulations {name}! You have won ${amount} in the {brand} lottery. Message our agent "
    "on WhatsApp today to claim your prize {emoji}"
)
NAMES = ("John", "Mary", "Wei", "Ahmed", "Sofia", "Ken", "Olga", "Ravi")
BRANDS = ("Global", "Mega", "Lucky")
EMOJI = ("🎉", "💰", "", "!!")
BENIGN = (
    "the train was late again this morning, I missed my first meeting",
    "does anyone know a good place for dumplings near the station",
    "just finished the marathon, my legs are done but I am so happy",
    "our team won the match yesterday, what a game that was",
    "reading a great book about the history of the silk road",
    "新版本更新以后手机耗电少了很多，终于满意了",
    "明天早上九点开会，请大家准时参加，谢谢",
)


def scam_text(rng: random.Random) -> str:
    words = SCAM.format(
        name=rng.choice(NAMES),
        amount=rng.randint(100, 99_999),
        brand=rng.choice(BRANDS),
        emoji=rng.choice(EMOJI),
    )
    if rng.random() < 0.3:  # word order: the call to action first
        head, _, tail = words.partition(". ")
        words = f"{tail}. {head}"
    return words


def observations(
    texts: list[str],
    authors: list[str],
    start: float = 1_000_000.0,
    step: float = 1.0,
    tag: str = "e",
) -> list[Observation]:
    sigs, has = HASHER.signatures(texts)
    return [
        Observation(
            f"{tag}{i}", authors[i], start + i * step, (), texts[i], sigs[i] if has[i] else None
        )
        for i in range(len(texts))
    ]


def tracker(**overrides: float) -> CampaignTracker:
    config = CampaignConfig(**{"min_authors": 5, "window_s": 3600.0, **overrides})  # type: ignore[arg-type]
    return CampaignTracker(config, {}, HASHER)


def test_varied_copies_from_k_authors_become_one_campaign_with_a_stable_id() -> None:
    rng = random.Random(1)
    texts = [scam_text(rng) for _ in range(30)]
    obs = observations(texts, [f"scammer{i}" for i in range(30)])
    t = tracker()
    emitted = [rec for o in obs for rec in t.observe([o])]
    assert emitted, "30 authors posting the script must make a campaign"
    ids = {rec["campaign_id"] for rec in emitted}
    assert len(ids) == 1
    first = emitted[0]
    assert first["kind"] == NEAR_DUPLICATE
    assert first["author_count"] == 5  # emitted when it crosses K...
    assert emitted[-1]["author_count"] >= 27  # ...and re-emitted with the same id as it grows
    assert [rec["author_count"] for rec in emitted] == sorted(
        rec["author_count"] for rec in emitted
    )
    assert emitted[-1]["event_count"] == len(emitted[-1]["event_ids"])


def test_fewer_than_k_authors_is_no_campaign() -> None:
    rng = random.Random(2)
    texts = [scam_text(rng) for _ in range(12)]
    # twelve posts, four authors
    obs = observations(texts, [f"a{i % 4}" for i in range(12)])
    assert tracker().observe(obs) == []


def test_authors_spread_over_more_than_the_window_are_no_campaign() -> None:
    rng = random.Random(3)
    texts = [scam_text(rng) for _ in range(10)]
    obs = observations(texts, [f"a{i}" for i in range(10)], step=1_000.0)
    assert tracker(window_s=2_500.0).observe(obs) == []  # never 5 authors within 2,500 s
    assert tracker(window_s=5_000.0).observe(obs) != []


def test_benign_viral_phrase_never_merges_with_the_scam() -> None:
    rng = random.Random(4)
    viral = [
        f"Happy new year everyone{'!' * rng.randint(0, 3)} wishing you all the best"
        for _ in range(20)
    ]
    scams = [scam_text(rng) for _ in range(20)]
    texts = [t for pair in zip(viral, scams, strict=True) for t in pair]
    authors = [f"u{i}" for i in range(40)]
    obs = observations(texts, authors)
    records = tracker().observe(obs)
    by_id: dict[str, dict[str, Any]] = {r["campaign_id"]: r for r in records}
    assert len(by_id) == 2
    for record in by_id.values():
        members = set(record["event_ids"])
        kinds = {("viral" if int(e[1:]) % 2 == 0 else "scam") for e in members}
        assert len(kinds) == 1, "a campaign mixes the viral phrase and the scam"


def test_shared_indicator_across_different_texts() -> None:
    texts = [BENIGN[i % len(BENIGN)] + f" call +1 415 555 2671 ({i})" for i in range(25)]
    obs = [
        Observation(
            f"p{i}", f"a{i}", 1_000.0 + i, ("scam",), texts[i], None, (("phone", "+14155552671"),)
        )
        for i in range(25)
    ]
    records = tracker().observe(obs)
    assert len(records) == 1  # one batch: one record, however many authors it added
    record = records[0]
    assert record["kind"] == SHARED_INDICATOR
    assert record["author_count"] == 25
    assert record["indicators"] == [{"type": "phone", "value": "+14155552671"}]
    assert record["labels"] == {"scam": 25}
    assert record["campaign_id"] == tracker().observe(obs)[0]["campaign_id"]  # stable


def test_redelivered_events_are_counted_once() -> None:
    obs = [
        Observation(f"p{i}", f"a{i}", 1_000.0 + i, (), "x", None, (("qq", "12345678"),))
        for i in range(6)
    ]
    t = tracker()
    first = t.observe(obs)
    again = t.observe(obs)
    assert first[0]["event_count"] == 6
    assert again == []  # nothing new: no re-emission


def test_recovered_state_keeps_the_id_and_the_members() -> None:
    rng = random.Random(5)
    texts = [scam_text(rng) for _ in range(20)]
    obs = observations(texts, [f"s{i}" for i in range(20)])
    store: dict[str, bytes] = {}
    before = CampaignTracker(CampaignConfig(min_authors=5), store, HASHER)
    early = before.observe(obs[:8])
    assert early
    # a new process: the store is what the changelog restores; the index is rebuilt from it
    after = CampaignTracker(CampaignConfig(min_authors=5), dict(store), HASHER)
    after.rebuild()
    late = after.observe(obs[8:])
    assert {r["campaign_id"] for r in late} == {early[0]["campaign_id"]}
    assert set(late[-1]["event_ids"]) >= {o.event_id for o in obs[:8]}


def test_idle_groups_expire_and_state_is_bounded() -> None:
    t = tracker(window_s=100.0, max_members=100)
    obs = [
        Observation(f"p{i}", f"a{i}", float(i), (), "", None, (("qq", "99999999"),))
        for i in range(300)
    ]
    records = t.observe(obs)
    assert len(records[-1]["event_ids"]) == 100  # the 100 most recent
    assert records[-1]["event_ids"][-1] == "p299"
    assert records[-1]["event_count"] == 300
    t.observe([Observation("late", "z", 10_000.0, (), "", None, (("qq", "11111111"),))])
    assert t.groups == 1  # the busy group went idle for longer than the window


def test_unrelated_sentences_are_far_apart() -> None:
    sigs, has = HASHER.signatures(list(BENIGN))
    assert has.all()
    sims = [
        float(np.mean(sigs[i] == sigs[j]))
        for i in range(len(BENIGN))
        for j in range(i + 1, len(BENIGN))
    ]
    assert max(sims) < 0.3 < CampaignConfig().similarity
    t = tracker(min_authors=2)
    assert t.observe(observations(list(BENIGN), [f"a{i}" for i in range(len(BENIGN))])) == []


def test_stored_values_are_exact_size_json() -> None:
    import tracemalloc  # noqa: PLC0415

    from streams.networks.campaigns import stored_json  # noqa: PLC0415

    value = {"exemplars": ["x" * 600], "authors": {"a": 1.0}}
    assert stored_json(value) == orjson.dumps(value)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [stored_json(value) for _ in range(200)]
        per_value = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    # the state holds millions of these: each must cost about its length, not orjson's buffer
    assert per_value < 2 * len(kept[0]), per_value


# --- the singleton path: texts one author has posted live in arrays, not in the store --------


def test_a_singleton_is_not_stored_until_a_second_author_founds_the_cluster() -> None:
    rng = random.Random(6)
    texts = [scam_text(rng) for _ in range(2)]
    obs = observations(texts, ["first", "second"])
    t = tracker()
    assert t.observe(obs[:1]) == []
    assert not any(k.startswith("n:") for k in t.store)  # no table row for one author
    assert len(t.singletons) == 1
    assert t.groups == 1
    t.observe(obs[1:])
    (key,) = [k for k in t.store if k.startswith("n:")]
    data = t.decode(t.store[key])
    # the founder's event is a member, and the id is the founder's, as before the redesign
    assert [m[0] for m in data["members"]] == ["e0", "e1"]
    assert data["id"] == campaign_id(NEAR_DUPLICATE, "e0")
    assert data["first_seen"] == obs[0].ts
    assert set(data["authors"]) == {"first", "second"}
    assert len(t.singletons) == 0


def test_campaign_through_the_singleton_path_keeps_the_founders_id_and_events() -> None:
    rng = random.Random(7)
    texts = [scam_text(rng) for _ in range(5)]
    obs = observations(texts, [f"s{i}" for i in range(5)])
    t = tracker()
    records = [r for o in obs for r in t.observe([o])]
    assert [r["author_count"] for r in records] == [5]
    assert records[0]["campaign_id"] == campaign_id(NEAR_DUPLICATE, "e0")
    assert records[0]["event_ids"] == [f"e{i}" for i in range(5)]


def test_the_same_author_again_stays_a_singleton_and_its_events_join_the_cluster() -> None:
    rng = random.Random(8)
    texts = [scam_text(rng) for _ in range(4)]
    obs = observations(texts, ["solo", "solo", "solo", "other"], step=10.0)
    t = tracker()
    t.observe(obs[:3])
    t.observe(obs[:3])  # redelivered: no new member
    assert not any(k.startswith("n:") for k in t.store)
    assert len(t.singletons) == 1
    t.observe(obs[3:])
    (key,) = [k for k in t.store if k.startswith("n:")]
    data = t.decode(t.store[key])
    assert [m[0] for m in data["members"]] == ["e0", "e1", "e2", "e3"]
    assert data["event_count"] == 4
    assert data["authors"] == {"solo": obs[2].ts, "other": obs[3].ts}  # the author's newest


def test_singletons_idle_for_longer_than_the_window_are_forgotten() -> None:
    rng = random.Random(9)
    texts = [scam_text(rng) for _ in range(2)]
    t = tracker(window_s=100.0)
    t.observe(observations(texts[:1], ["early"], start=0.0))
    # another text moves the watermark past the window, then a copy of the first arrives
    t.observe(observations([BENIGN[0]], ["z"], start=500.0, tag="x"))
    t.observe(observations(texts[1:], ["late"], start=450.0, tag="y"))
    assert not any(k.startswith("n:") for k in t.store)  # the founder was gone: no cluster


def test_singleton_segments_are_dropped_when_every_row_is_past_the_window() -> None:
    t = tracker(window_s=100.0)
    t.singletons = SingletonStore(HASHER.num_perm, HASHER.bands, segment_size=4)
    words = [
        "train",
        "late",
        "meeting",
        "dumplings",
        "station",
        "marathon",
        "legs",
        "team",
        "match",
        "book",
        "silk",
        "road",
    ]
    rng = random.Random(13)
    texts = [" ".join(rng.choices(words, k=12)) for _ in range(10)]
    t.observe(observations(texts, [f"a{i}" for i in range(10)], start=0.0))
    held = t.singletons.nbytes()
    assert held > 0
    assert len(t.singletons) >= 8
    t.observe(observations([BENIGN[6]], ["z"], start=1_000.0, tag="x"))
    assert len(t.singletons) <= 4  # sealed segments gone; the open one holds the newest
    assert t.singletons.nbytes() < held


def test_founding_from_a_repeated_singleton_keeps_the_member_cap() -> None:
    rng = random.Random(10)
    texts = [scam_text(rng) for _ in range(12)]
    t = tracker(max_members=5)
    t.observe(observations(texts[:11], ["solo"] * 11))
    t.observe(observations(texts[11:], ["other"], start=2_000_000.0, tag="o"))
    (key,) = [k for k in t.store if k.startswith("n:")]
    data = t.decode(t.store[key])
    assert len(data["members"]) == 5
    assert data["members"][-1][0] == "o0"
    assert data["event_count"] == 12
    assert data["id"] == campaign_id(NEAR_DUPLICATE, "e0")


def test_candidates_compared_per_text_are_capped_across_clusters_and_singletons() -> None:
    rng = random.Random(11)
    base = scam_text(rng)
    t = tracker(max_candidates=1, similarity=0.99)  # nothing is similar enough: all singletons
    variants = [f"{base} {chr(97 + i) * 3}" for i in range(6)]
    t.observe(observations(variants, [f"v{i}" for i in range(6)]))
    assert len(t.singletons) == 6
    compared = []
    original = t.singletons.candidates

    def counting(*args: Any) -> Any:
        for hit in original(*args):
            compared.append(hit)
            yield hit

    t.singletons.candidates = counting  # type: ignore[method-assign,assignment]
    t.observe(observations([base], ["w"], tag="w"))
    assert len(compared) == 1


def test_singletons_are_not_recovered_but_stored_clusters_are() -> None:
    rng = random.Random(12)
    texts = [scam_text(rng) for _ in range(8)]
    obs = observations(texts, [f"r{i}" for i in range(8)])
    store: dict[str, bytes] = {}
    before = CampaignTracker(CampaignConfig(min_authors=5), store, HASHER)
    before.observe(obs[:3])  # a stored cluster of three authors
    lone = observations([BENIGN[0]], ["lone"], tag="l")
    before.observe(lone)
    assert len(before.singletons) == 1
    after = CampaignTracker(CampaignConfig(min_authors=5), dict(store), HASHER)
    after.rebuild()
    assert len(after.singletons) == 0  # in memory only (docs/networks.md)
    records = after.observe(obs[3:])
    assert records
    assert records[0]["event_ids"][:3] == ["e0", "e1", "e2"]
    # the lost singleton: a copy by another author is a singleton again, not a cluster
    after.observe(observations([BENIGN[0]], ["copy"], tag="c"))
    assert len(after.singletons) == 1


def test_state_size_counts_the_singletons() -> None:
    t = tracker()
    assert t.state_bytes() == 0
    t.observe(observations([BENIGN[0]], ["a"]))
    assert t.state_bytes() == t.singletons.nbytes() > 0


def test_groups_store_raw_signatures_and_read_the_earlier_base64_json() -> None:
    sig = HASHER.signatures([SCAM])[0][0]
    raw = sig.astype("<u4").tobytes()
    data = {"id": "nd-x", "last_seen": 1.0, "sample": "a\nb", "exemplars": [raw, raw]}
    stored = encode_group(data)
    assert len(stored) < len(orjson.dumps({**data, "exemplars": []})) + 2 * len(raw) + 2
    assert decode_group(stored, len(raw)) == data
    legacy = orjson.dumps({**data, "exemplars": [encode_signature(sig)]})
    assert decode_group(legacy, len(raw))["exemplars"] == [raw]


def test_groups_are_stored_with_short_field_names_and_full_ones_are_still_read() -> None:
    raw = HASHER.signatures([SCAM])[0][0].astype("<u4").tobytes()
    t = CampaignTracker(CampaignConfig(min_authors=2), {})
    t.observe(observations([SCAM, SCAM], ["a", "b"]))
    ((key, stored),) = [(k, v) for k, v in t.store.items() if k.startswith("n:")]
    data = t.decode(stored)
    assert {"members", "last_seen", "founder_bands", "exemplars"} <= data.keys()
    head = stored.partition(b"\n")[0]
    assert b"last_seen" not in head
    assert b'"t":' in head
    # as the changelog held it before: full names, then the raw exemplars
    earlier = orjson.dumps({k: v for k, v in data.items() if k != "exemplars"})
    earlier += b"\n" + b"".join(data["exemplars"])
    assert len(stored) <= len(earlier) - 100
    assert decode_group(earlier, len(raw)) == data
    recovered = CampaignTracker(CampaignConfig(min_authors=2), {key: earlier})
    recovered.rebuild()
    (record,) = recovered.observe(observations([SCAM], ["c"], 1_000_002.0, tag="later"))
    assert record["author_count"] == 3
    assert record["campaign_id"] == data["id"]


# --- decoded groups kept between batches: a cache of what the tracker wrote itself ----------


def _mixed_batches(seed: int) -> list[list[Observation]]:
    rng = random.Random(seed)
    texts = [scam_text(rng) if i % 3 else rng.choice(BENIGN) for i in range(240)]
    authors = [f"a{rng.randrange(60)}" for _ in texts]
    obs = observations(texts, authors)
    phone = [("phone", "+14155550134")] if seed else []
    obs = [
        Observation(o.event_id, o.author_id, o.ts, o.labels, o.text, o.signature, tuple(phone))
        if i % 7 == 0
        else o
        for i, o in enumerate(obs)
    ]
    return [obs[i : i + 16] for i in range(0, len(obs), 16)]


def _strip(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]


def test_kept_decoded_groups_decide_as_a_store_read_every_batch() -> None:
    batches = _mixed_batches(3)
    cached, uncached = tracker(), tracker(decoded_groups=0)
    for batch in batches:
        assert _strip(cached.observe(batch)) == _strip(uncached.observe(batch))
    assert cached.store == uncached.store
    assert 0 < len(cached._decoded) <= 4_096
    assert not uncached._decoded  # a bound of 0 keeps none: every batch reads the store


class _FailingStore(dict[str, bytes]):
    """A store whose writes fail while ``failing`` is set (a changelog write that raised)."""

    failing = False

    def __setitem__(self, key: str, value: bytes) -> None:
        if self.failing:
            raise OSError("changelog write failed")
        super().__setitem__(key, value)


def test_a_failed_batch_drops_the_kept_groups_so_its_redelivery_is_counted() -> None:
    batches = _mixed_batches(4)
    store = _FailingStore()
    t = CampaignTracker(CampaignConfig(min_authors=5), store, HASHER)
    for batch in batches[:-1]:
        t.observe(batch)
    last = batches[-1]
    store.failing = True
    with pytest.raises(OSError, match="changelog write failed"):
        t.observe(last)  # the groups were changed in memory, the store got none of it
    assert not t._decoded  # what the failed batch changed in memory is forgotten
    store.failing = False
    t.observe(last)  # redelivered (at least once): counted now, not dropped as seen
    members = {m[0] for m in t.decode(store["i:phone:+14155550134"])["members"]}
    assert {o.event_id for o in last if o.indicators} <= members


def test_rebuild_drops_the_kept_groups() -> None:
    t = tracker()
    for batch in _mixed_batches(5):
        t.observe(batch)
    assert t._decoded
    t.rebuild()
    assert not t._decoded


def test_kept_decoded_groups_are_bounded_by_their_stored_bytes() -> None:
    batches = _mixed_batches(6)
    small, reference = tracker(decoded_bytes=2_000), tracker(decoded_groups=0)
    for batch in batches:
        assert _strip(small.observe(batch)) == _strip(reference.observe(batch))
        assert small._decoded_size == sum(k.size for k in small._decoded.values()) <= 2_000


# --- 16-bit singletons (b-bit MinHash): half the bytes, the same decisions --------------------


def test_singletons_keep_16_bits_a_position_and_decide_as_before() -> None:
    rng = random.Random(21)
    texts = [scam_text(rng) for _ in range(12)] + list(BENIGN)
    obs = observations(texts, [f"w{i}" for i in range(len(texts))])
    t = tracker()
    t.observe(obs[:1] + obs[12:])  # the founder and the benign texts: singletons
    (segment,) = t.singletons._segments.values()
    assert segment.sigs.dtype == np.uint16
    assert segment.sigs.nbytes == segment.capacity * HASHER.num_perm * 2
    records = t.observe(obs[1:12])
    (record,) = [r for r in records if r["kind"] == NEAR_DUPLICATE]
    assert set(record["event_ids"]) == {f"e{i}" for i in range(12)}  # the founder included
    assert record["campaign_id"] == campaign_id(NEAR_DUPLICATE, "e0")


def test_a_cluster_founded_from_a_16_bit_singleton_is_found_again_after_a_recovery() -> None:
    rng = random.Random(22)
    texts = [scam_text(rng) for _ in range(8)]
    obs = observations(texts, [f"v{i}" for i in range(8)])
    store: dict[str, bytes] = {}
    before = CampaignTracker(CampaignConfig(min_authors=5), store, HASHER)
    before.observe(obs[:1])
    before.observe(obs[1:2])  # the second author founds the stored cluster
    (key,) = [k for k in store if k.startswith("n:")]
    founder, second = before.decode(store[key])["exemplars"][:2]
    assert np.frombuffer(founder, "<u4").max() < 1 << 16  # the founder's 16 bits, stored so
    assert np.frombuffer(second, "<u4").max() >= 1 << 16  # the second text in full: indexed
    after = CampaignTracker(CampaignConfig(min_authors=5), dict(store), HASHER)
    after.rebuild()
    records = after.observe(obs[2:])
    assert records
    assert records[0]["_key"] == key
    assert set(records[0]["event_ids"]) == {f"e{i}" for i in range(8)}


def test_the_founders_band_keys_are_stored_with_its_cluster_and_indexed_again() -> None:
    rng = random.Random(23)
    obs = observations([scam_text(rng) for _ in range(2)], ["x0", "x1"])
    founder_keys = sorted(int(b) & 0xFFFF_FFFF for b in HASHER.bands_of(obs[0].signature))  # type: ignore[arg-type]
    t = tracker()
    t.observe(obs[:1])
    t.observe(obs[1:])
    (key,) = [k for k in t.store if k.startswith("n:")]
    assert sorted(t.decode(t.store[key])["founder_bands"]) == founder_keys
    after = CampaignTracker(t.config, dict(t.store), HASHER)
    after.rebuild()
    assert all(after._index.get(b) == key for b in founder_keys)
    after.watermark = obs[1].ts + 2 * t.config.window_s
    after.expire()  # the cluster expires: none of its keys is left behind in the index
    assert key not in after.store
    assert key not in after._index.values()
