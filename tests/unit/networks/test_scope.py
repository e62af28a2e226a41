"""``campaign_scope``: which events the near-duplicate stage compares (no broker).

"suspect" (the default) signs and routes the flagged, the watched (some label at
``campaign_watch`` of its review point), the listed and the indicator-carrying events; "all"
every event with a signature. Shared-indicator groups see every event either way.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import orjson

from streams.networks.campaigns import NEAR_DUPLICATE, CampaignConfig, CampaignTracker
from streams.networks.tap import decode_bundle, mentions_money
from streams.pipeline import Pipeline
from streams.policy import LabelRule, Policy
from streams.publish import InMessage
from streams.settings import load_settings
from tests.support import event_body, scam_text

BENIGN = "does anyone know a good noodle bar near the station, open late on a sunday evening"
PHONE = "private tutor for maths and physics, first lesson free, call +1 415 555 2671"


def _messages(texts: list[str]) -> list[InMessage]:
    return [
        InMessage(
            "events",
            0,
            i,
            orjson.dumps(event_body(f"e{i}", f"author{i}", text, source="test")),
            f"e{i}".encode(),
        )
        for i, text in enumerate(texts)
    ]


def _observed(pipeline: Pipeline, texts: list[str]) -> dict[str, list[object]]:
    """event id -> the observations routed for it (signature or not)."""
    result = pipeline.process(_messages(texts))
    assert pipeline.networks is not None
    out: dict[str, list[object]] = {}
    for msg in result.outputs:
        if msg.topic == pipeline.networks.topic:
            for o in decode_bundle(msg.value or b""):
                out.setdefault(o.event_id, []).append(o)
    return out


def _signed(observed: dict[str, list[object]]) -> set[str]:
    return {e for e, obs in observed.items() if any(o.signature is not None for o in obs)}  # type: ignore[attr-defined]


def _pipeline(**overrides: Any) -> Pipeline:
    settings = load_settings(campaigns_enabled=True, accurate_model_path="none", **overrides)
    return Pipeline.from_settings(settings)


def test_suspect_scope_signs_the_flagged_and_indicator_carrying_events_only() -> None:
    pipeline = _pipeline()
    scam = scam_text(random.Random(3))
    texts = [BENIGN, scam, PHONE]
    scores = pipeline.classifier.classify(texts).scores
    assert not pipeline.policy.watched(scores[:1], 0.5).any(), "the benign text is not watched"
    observed = _observed(pipeline, texts)
    assert _signed(observed) == {"e1", "e2"}
    # the phone still goes to its shared-indicator group
    assert any(o.indicators for o in observed["e2"])  # type: ignore[attr-defined]
    assert "e0" not in observed, "a benign text without indicators is not routed at all"
    tap = pipeline.networks
    assert tap is not None
    assert (tap.seen_events, tap.watched_events) == (3, 2)


def test_all_scope_signs_every_event() -> None:
    observed = _observed(_pipeline(campaign_scope="all"), [BENIGN, PHONE])
    assert _signed(observed) == {"e0", "e1"}


def test_watch_share_one_is_flagged_only_and_zero_is_every_event() -> None:
    texts = [BENIGN, PHONE]
    # PHONE carries an indicator: always watched; BENIGN only when every event is
    assert _signed(_observed(_pipeline(campaign_watch=0.0), texts)) == {"e0", "e1"}
    assert _signed(_observed(_pipeline(campaign_watch=1.0), texts)) == {"e1"}


def test_policy_watched_is_a_share_of_each_enabled_review_point() -> None:
    rules = {
        "spam": LabelRule(review=0.4, block=0.9, enabled=True),
        "toxic": LabelRule(review=0.8, block=0.95, enabled=True),
        "hate": LabelRule(review=0.5, block=0.9, enabled=False),
    }
    policy = Policy("test", ("spam", "toxic", "hate"), rules)
    scores = np.array(
        [
            [0.19, 0.39, 0.99],  # under half of spam's and toxic's; hate is disabled
            [0.20, 0.00, 0.00],  # half of spam's review point
            [0.00, 0.40, 0.00],  # half of toxic's
        ],
        np.float32,
    )
    assert policy.watched(scores, 0.5).tolist() == [False, True, True]
    assert policy.watched(scores, 1.0).tolist() == [False, False, False]
    assert policy.watched(scores, 0.0).tolist() == [True, True, True]


def test_a_flagged_member_names_its_active_campaign_in_suspect_scope() -> None:
    pipeline = _pipeline()
    tap = pipeline.networks
    assert tap is not None
    rng = random.Random(11)
    texts = [scam_text(rng) for _ in range(6)]
    observed = _observed(pipeline, texts)
    tracker = CampaignTracker(CampaignConfig(min_authors=5), {})
    records = tracker.observe(o for obs in observed.values() for o in obs)  # type: ignore[misc]
    (record,) = [r for r in records if r["kind"] == NEAR_DUPLICATE]
    # what CampaignStage._learn does with the record's exemplars
    key = record["_key"]
    data = tracker.group(key)
    assert data is not None
    for exemplar in data["exemplars"]:
        sig = np.frombuffer(exemplar, "<u4")
        if sig.max() >= 1 << 16:
            for band in tap.hasher.band_keys(sig[None, :].astype(np.uint32)).ravel().tolist():
                tap.active.by_band[band] = record["campaign_id"]
    tap.active.kinds[record["campaign_id"]] = NEAR_DUPLICATE
    later = pipeline.process(_messages([scam_text(rng), BENIGN]))
    flagged = [orjson.loads(o.value or b"") for o in later.outputs if o.topic == "events.flagged"]
    assert [p["event_id"] for p in flagged] == ["e0"]
    assert flagged[0]["campaign_id"] == record["campaign_id"]


def test_a_sum_of_money_puts_an_unflagged_text_on_the_watch_list() -> None:
    parcel = "Your parcel GB197356745 could not be delivered. Pay the £1.99 redelivery fee now"
    observed = _observed(_pipeline(), [BENIGN, parcel])
    assert _signed(observed) == {"e1"}


def test_mentions_money_reads_signs_codes_and_words_beside_numbers() -> None:
    yes = (
        "pay $5",
        "£ 1.99",
        "奖金10000元",
        "earn 500 dollars",
        "100 USD",
        "2,500.50 euros",
        "¥88",
    )
    no = ("the 1990s", "5 dollarsigns", "call 4155550134", "won the game 3-1", "我有三个苹果")
    assert [t for t in yes if not mentions_money(t)] == []
    assert [t for t in no if mentions_money(t)] == []
