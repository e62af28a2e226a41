"""An active campaign that expires (idle for longer than W) leaves the stage's ActiveCampaigns:
the pipeline stops naming it, and the maps do not grow with every campaign ever seen."""

from __future__ import annotations

import random

from streams.networks.campaigns import (
    NEAR_DUPLICATE,
    SHARED_INDICATOR,
    SIGNAL_LIST,
    CampaignConfig,
    CampaignTracker,
    Observation,
)
from streams.networks.minhash import MinHasher
from streams.networks.stage import CampaignStage
from streams.networks.tap import ActiveCampaigns
from tests.unit.networks.test_campaigns import observations, scam_text

HASHER = MinHasher()
W = 600.0
START = 1_000_000.0


def _stage(t: CampaignTracker) -> CampaignStage:
    stage = CampaignStage.__new__(CampaignStage)  # no Faust app: only what _learn/_forget use
    stage.active, stage.tracker, stage._learned, stage._bands = ActiveCampaigns(), t, {}, {}
    return stage


def _campaigns(t: CampaignTracker, start: float) -> list[Observation]:
    rng = random.Random(7)
    texts = [scam_text(rng) for _ in range(8)]
    dup = observations(texts, [f"s{i}" for i in range(8)], start=start)
    phone = [
        Observation(f"p{i}", f"p{i}", start + i, (), "", indicators=(("phone", "+447700900123"),))
        for i in range(6)
    ]
    listed = [
        Observation(f"l{i}", f"l{i}", start + i, ("scam",), "", signal="x|y|z") for i in range(6)
    ]
    return [*dup, *phone, *listed]


def test_expired_active_campaigns_are_handed_over_once_and_forgotten() -> None:
    t = CampaignTracker(CampaignConfig(min_authors=5, window_s=W), {}, HASHER)
    stage = _stage(t)
    records = t.observe(_campaigns(t, START))
    kinds = {r["kind"] for r in records}
    assert kinds == {NEAR_DUPLICATE, SHARED_INDICATOR, SIGNAL_LIST}
    for r in records:
        data = t.group(r["_key"])
        assert data is not None
        stage._learn(r["_key"], data)
    active = stage.active
    assert len(active.kinds) == 3
    assert active.by_band
    assert active.by_indicator
    assert active.by_signal
    assert t.take_expired() == []  # nothing idle yet

    # later traffic moves the watermark past W: the three go idle and are deleted
    t.observe([Observation("late", "someone", START + 2 * W, (), "")])
    expired = t.take_expired()
    assert sorted(d["kind"] for _, d in expired) == sorted(kinds)
    assert t.take_expired() == []  # handed over once
    for key, data in expired:
        stage._forget(key, data)
    assert active.kinds == {}
    assert active.labels == {}
    assert active.by_band == {}
    assert active.by_indicator == {}
    assert active.by_signal == {}
    assert stage._bands == {}
    assert stage._learned == {}


def test_a_band_taken_by_a_newer_campaign_is_kept() -> None:
    t = CampaignTracker(CampaignConfig(min_authors=5, window_s=W), {}, HASHER)
    stage = _stage(t)
    (record,) = [r for r in t.observe(_campaigns(t, START)) if r["kind"] == NEAR_DUPLICATE][:1]
    data = t.group(record["_key"])
    assert data is not None
    stage._learn(record["_key"], data)
    band = next(iter(stage.active.by_band))
    stage.active.by_band[band] = "nd-newer"  # another campaign since claimed this band key
    stage._forget(record["_key"], data)
    assert stage.active.by_band == {band: "nd-newer"}
