"""When a growing campaign is published again: at K, then at a factor more authors, after an
interval (event time) with new authors, or when a label first appears; its row written at most
once a batch."""

from __future__ import annotations

from streams.networks.campaigns import CampaignConfig, CampaignTracker, Observation

PHONE = (("phone", "+14155552671"),)


def _tracker(store: dict[str, bytes] | None = None, **config: float) -> CampaignTracker:
    cfg = CampaignConfig(**{"min_authors": 5, **config})  # type: ignore[arg-type]
    return CampaignTracker(cfg, {} if store is None else store)


def _post(i: int, author: str, ts: float, labels: tuple[str, ...] = ()) -> Observation:
    return Observation(f"e{i}", author, ts, labels, "call me", None, PHONE)


def _counts(t: CampaignTracker, authors: int, step: float = 1.0) -> list[int]:
    """Authors of each record when ``authors`` authors post one a batch, ``step`` s apart."""
    return [
        r["author_count"]
        for i in range(authors)
        for r in t.observe([_post(i, f"a{i}", 1_000.0 + i * step)])
    ]


def test_a_growing_campaign_is_published_again_at_each_quarter_more_authors() -> None:
    t = _tracker(republish_growth=0.25, republish_interval_s=1e6)
    assert _counts(t, 40) == [5, 7, 9, 12, 15, 19, 24, 30, 38]


def test_growth_zero_publishes_every_growth_as_before() -> None:
    t = _tracker(republish_growth=0.0, republish_interval_s=1e6)
    assert _counts(t, 12) == list(range(5, 13))


def test_new_authors_an_interval_after_the_last_record_are_published() -> None:
    t = _tracker(republish_growth=100.0, republish_interval_s=10.0)
    # K at 1,004 s; then a record at the first new author 10 s (event time) later, and so on
    assert _counts(t, 40) == [5, 15, 25, 35]


def test_a_label_first_appearing_is_published_at_once() -> None:
    t = _tracker(republish_growth=100.0, republish_interval_s=1e6)
    assert _counts(t, 6) == [5]
    # an author already counted posts again, flagged: no new author, but a harmful label
    (record,) = t.observe([_post(100, "a2", 1_010.0, ("scam",))])
    assert record["labels"] == {"scam": 1}
    assert record["author_count"] == 6
    assert t.observe([_post(101, "a3", 1_011.0, ("scam",))]) == []  # scam was reported
    (spam,) = t.observe([_post(102, "a3", 1_012.0, ("scam", "spam"))])
    assert spam["labels"] == {"scam": 3, "spam": 1}


def test_members_of_active_campaigns_are_counted_whether_published_or_held() -> None:
    t = _tracker(republish_growth=1.0, republish_interval_s=1e6)
    assert _counts(t, 8) == [5]  # 6, 7 and 8 held back: fewer than twice 5
    assert t.take_added() == {"shared_indicator": 4}  # the K-th member and three held ones
    assert t.take_added() == {}


class _CountingStore(dict[str, bytes]):
    writes = 0

    def __setitem__(self, key: str, value: bytes) -> None:
        self.writes += 1
        super().__setitem__(key, value)


def test_a_group_is_written_once_a_batch_however_many_members_it_gains() -> None:
    store = _CountingStore()
    t = _tracker(store)
    (record,) = t.observe([_post(i, f"a{i}", 1_000.0 + i) for i in range(30)])
    assert record["author_count"] == 30
    assert store.writes == 1


def test_the_republish_state_survives_a_recovery() -> None:
    store: dict[str, bytes] = {}
    before = _tracker(store, republish_growth=0.25, republish_interval_s=1e6)
    assert _counts(before, 8) == [5, 7]
    after = _tracker(dict(store), republish_growth=0.25, republish_interval_s=1e6)
    after.rebuild()
    # 8 authors were held back before the restart: the next record is still at 9 (7 x 1.25)
    assert [r["author_count"] for r in after.observe([_post(8, "a8", 1_008.0)])] == [9]


def test_held_growth_of_a_campaign_that_stopped_growing_is_flushed() -> None:
    t = _tracker(republish_growth=1.0, republish_interval_s=1e6)
    assert _counts(t, 8) == [5]  # 6, 7 and 8 held back
    assert t.flush() == []  # it grew since the last flush: not yet
    (record,) = t.flush()  # no growth for a whole flush period: published as it ended
    assert record["author_count"] == 8
    assert t.flush() == []  # nothing held any more
    # the flushed record counts as the last one: the next is at twice 8
    assert [
        r["author_count"] for r in t.observe([_post(i, f"a{i}", 1_000.0 + i) for i in range(8, 16)])
    ] == [16]
    assert t.flush() == []
