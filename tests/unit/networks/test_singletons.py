"""The singleton store alone: times to the millisecond, records, growth, moved rows."""

from __future__ import annotations

import platform
import random

import numpy as np
import numpy.typing as npt

from streams.networks.minhash import MinHasher
from streams.networks.singletons import SingletonStore, set_mmap_threshold

HASHER = MinHasher()
T0 = 1_800_000_000.0
DAY = 86_400.0


def _signed(texts: list[str]) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.int64]]:
    sigs, has = HASHER.signatures(texts)
    assert has.all()
    return sigs, HASHER.band_keys(sigs)


def _store(**kwargs: int) -> SingletonStore:
    return SingletonStore(HASHER.num_perm, HASHER.bands, **kwargs)


def _found(store: SingletonStore, bands: npt.NDArray[np.int64], horizon: float) -> list[str]:
    return [store.get(s, r).author_id for s, r in store.candidates(bands, horizon)]


def test_a_row_keeps_its_time_to_the_millisecond_and_the_horizon_is_exact_to_it() -> None:
    sigs, bands = _signed(["a text long enough to be hashed, number one"])
    store = _store()
    ts = T0 + 1234.5678
    store.add("e1", "u1", ts, ("toxic",), sigs[0], bands[0])
    store.index()
    ((segment, row),) = store.candidates(bands[0], float("-inf"))
    single = store.get(segment, row)
    assert abs(single.ts - ts) < 0.0005
    assert single.members == [["e1", "u1", single.ts, ["toxic"]]]
    assert np.array_equal(single.signature, (sigs[0] & 0xFFFF).astype(np.uint16))
    assert _found(store, bands[0], ts - 0.001) == ["u1"]
    assert _found(store, bands[0], ts + 0.001) == []  # older than the horizon: never returned


def test_records_round_trip_whatever_the_ids_hold() -> None:
    texts = [
        "the bakery on the corner sells lemon cakes",
        "our team lead ran ten kilometres at dawn",
        "恭喜您获得本月幸运大奖请立即添加客服领取",
    ]
    sigs, bands = _signed(texts)
    store = _store()
    odd = [("u\x1f1", "e\x1e1", ("a,b",)), ("u\x1e2", "e2", ()), ("用户3", "e3", ("x", "y"))]
    for (author, event, labels), sig, band in zip(odd, sigs, bands, strict=True):
        store.add(event, author, T0, labels, sig, band)
    store.index()
    for (author, event, labels), band in zip(odd, bands, strict=True):
        (hit,) = [store.get(s, r) for s, r in store.candidates(band, T0)]
        assert hit.author_id == author
        assert hit.members == [[event, author, T0, list(labels)]]


def test_repeats_keep_every_event_and_drop_redeliveries() -> None:
    sigs, bands = _signed(["the same author posting the same text again and again"])
    store = _store()
    store.add("e1", "u1", T0, (), sigs[0], bands[0])
    ((segment, row),) = store.candidates(bands[0], T0)
    assert store.repeat(segment, row, "e2", T0 + 5.0, ("spam",))
    assert not store.repeat(segment, row, "e2", T0 + 5.0, ("spam",))  # redelivered
    single = store.get(segment, row)
    assert [m[0] for m in single.members] == ["e1", "e2"]
    assert single.ts == T0 + 5.0
    assert _found(store, bands[0], T0 + 4.0) == ["u1"]  # alive by its newest event


def test_the_open_segment_doubles_from_1024_rows_and_is_trimmed_when_sealed() -> None:
    rng = random.Random(4)
    words = [
        "coffee",
        "train",
        "rain",
        "sun",
        "music",
        "photo",
        "video",
        "news",
        "school",
        "friends",
        "family",
        "weekend",
    ]
    texts = [" ".join(rng.choices(words, k=12)) for _ in range(1_500)]
    sigs, bands = _signed(texts)
    store = _store(segment_size=2_000)
    for i in range(1_025):
        store.add(f"e{i}", f"u{i}", T0 + i, (), sigs[i], bands[i])
    (segment,) = store._segments.values()
    assert segment.capacity == 2_000  # 1,024 doubled, capped at segment_size
    for i in range(1_025, 1_500):
        store.add(f"e{i}", f"u{i}", T0 + i, (), sigs[i], bands[i])
    store.index()
    assert all(f"u{i}" in _found(store, bands[i], T0) for i in range(0, 1_500, 97))
    segment.seal()
    assert segment.capacity == segment.size == 1_500
    assert store.get(segment, 1_499).author_id == "u1499"


def test_a_time_beyond_the_segments_range_opens_a_new_one_and_a_late_repeat_moves_its_row() -> None:
    sigs, bands = _signed(
        [
            "first singleton text that is long enough here",
            "second singleton text, posted four weeks later",
        ]
    )
    store = _store()
    store.add("e1", "u1", T0, (), sigs[0], bands[0])
    store.add("e2", "u2", T0 + 28 * DAY, (), sigs[1], bands[1])  # > 24.8 days of int32 ms
    assert len(store._segments) == 2
    ((segment, row),) = store.candidates(bands[0], T0)
    assert store.repeat(segment, row, "e3", T0 + 30 * DAY, ())
    store.index()
    assert len(store) == 2
    ((moved, at),) = store.candidates(bands[0], T0 + 29 * DAY)
    assert moved is not segment
    single = store.get(moved, at)
    assert [m[0] for m in single.members] == ["e1", "e3"]
    assert sorted(store.keys_of(moved, at)) == sorted(int(b) & 0xFFFF_FFFF for b in bands[0])
    assert store.expire(T0 + 29 * DAY) == 0  # the old segment held only the dead row
    assert len(store._segments) == 1


def test_the_mmap_threshold_is_set_on_glibc_only() -> None:
    assert set_mmap_threshold(131_072) is (platform.libc_ver()[0] == "glibc")


def test_a_sealed_segment_bucketed_finds_the_same_rows_in_the_same_order() -> None:
    rng = np.random.default_rng(9)
    n = 14_000  # 140,000 keys: a sealed segment's index is bucketed from 131,074
    sigs = rng.integers(0, 2**32, (n, HASHER.num_perm), dtype=np.uint64).astype(np.uint32)
    bands = rng.integers(0, 2**63, (n, HASHER.bands), dtype=np.int64)
    bands[1::7] = bands[::7][: len(bands[1::7])]  # keys shared by several rows
    bands[:, 3] &= 0xFFFF_0000_FFFF  # many keys in one bucket (their high 16 bits are zero)
    store = _store()
    expected: dict[int, list[int]] = {}
    for i in range(n):
        store.add(f"e{i}", f"u{i}", T0 + i * 0.01, (), sigs[i], bands[i])
        for key in dict.fromkeys(int(b) & 0xFFFF_FFFF for b in bands[i]):
            expected.setdefault(key, []).append(i)
        if i % 256 == 255:
            store.index()
    store.add("late", "u-late", T0 + 28 * DAY, (), sigs[0], bands[0])  # seals the first
    store.index()
    segment = store._segments[0]
    assert segment.lows is not None
    assert segment.keys.size == 0
    # 4 bytes a key (low half, row) and 65,537 offsets, not 6 bytes a key
    per_row = HASHER.num_perm * 2 + 4 + 1 + 4  # signature, time, alive, record start
    assert segment.indexed() == n * HASHER.bands
    assert segment.nbytes() == n * per_row + len(segment.arena) + 4 * n * HASHER.bands + 4 * 65_537
    queries = [bands[i] for i in rng.integers(0, n, 300).tolist()]
    queries += [rng.integers(0, 2**63, HASHER.bands, dtype=np.int64) for _ in range(100)]
    for query in queries:
        rows = [r for s, r in store.candidates(query, T0 - 1) if s is segment]
        want = list(
            dict.fromkeys(r for b in query.tolist() for r in expected.get(b & 0xFFFF_FFFF, ()))
        )
        assert rows == want
    for row in rng.integers(0, n, 50).tolist():
        assert store.keys_of(segment, row) == sorted(int(b) & 0xFFFF_FFFF for b in bands[row])
    assert store.get(segment, 13_999).author_id == "u13999"
