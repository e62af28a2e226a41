"""Campaigns of kind ``signal_list``: K authors whose events matched one signal of a list, from
the pipeline's matches through the tap's routing to the tracker (no broker)."""

from __future__ import annotations

import jsonschema
import orjson

from streams.events import load_schema
from streams.networks.campaigns import (
    SIGNAL_LIST,
    CampaignConfig,
    CampaignTracker,
    Observation,
    campaign_id,
)
from streams.networks.signals import parse_signal
from streams.networks.stage import CampaignStage, publishable
from streams.networks.tap import ActiveCampaigns, decode_bundle, partition_of
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import load_settings
from tests.support import event_body

KEY = "partner-zh|indicator|wechat:lucky2026"
ZH = "恭喜您获得本月幸运大奖，奖金一万元，请立即添加客服领取，名额有限先到先得"
ZH_VARIANTS = (
    "恭喜你获得本月幸运大奖，奖金两万元！请立即添加客服领取，名额有限，先到先得🎉",
    "恭喜您获得本月幸运大奖，奖金8888元，请立即添加客服领取，名额有限先到先得!!",
    "恭喜您获得本月幸运大奖，奖金66666元，请立即添加客服领取，名额有限先到先得🎁🎁",
)


def _tracker(store: dict[str, bytes] | None = None) -> CampaignTracker:
    return CampaignTracker(CampaignConfig(min_authors=5), {} if store is None else store)


def _listed(i: int, author: str, key: str = KEY) -> Observation:
    return Observation(f"e{i}", author, 1_000.0 + i, ("scam",), f"text {i}", signal=key)


def test_k_authors_matching_one_signal_are_a_signal_list_campaign() -> None:
    t = _tracker()
    assert t.observe([_listed(i, f"a{i}") for i in range(4)]) == []  # four authors: not yet
    (record,) = t.observe([_listed(4, "a4")])
    assert record["kind"] == SIGNAL_LIST
    assert record["campaign_id"] == campaign_id(SIGNAL_LIST, KEY)
    assert record["campaign_id"].startswith("sl-")
    assert record["indicators"] == [
        {"type": "signal", "value": KEY, "list": "partner-zh", "kind": "indicator"}
    ]
    assert record["event_ids"] == [f"e{i}" for i in range(5)]
    assert record["labels"] == {"scam": 5}
    schema = load_schema("campaign.v1.json")
    jsonschema.validate(publishable(record), schema, format_checker=jsonschema.FormatChecker())
    # another signal of the same list is another campaign
    other = "partner-zh|text_exact|" + "0" * 32
    assert t.observe([_listed(10 + i, f"b{i}", other) for i in range(4)]) == []


def test_a_signal_list_campaign_is_re_emitted_as_it_grows_and_recovered() -> None:
    store: dict[str, bytes] = {}
    t = _tracker(store)
    first = t.observe([_listed(i, f"a{i}") for i in range(5)])
    assert f"s:{KEY}" in store
    after = _tracker(dict(store))  # a new process: what the changelog restores
    after.rebuild()
    grown = after.observe([_listed(i, f"a{i}") for i in range(5, 12)])
    assert [r["campaign_id"] for r in grown] == [first[0]["campaign_id"]]
    assert grown[0]["author_count"] == 12
    assert after.observe([_listed(11, "a11")]) == []  # redelivered: counted once


def _event(i: int, text: str) -> InMessage:
    body = event_body(f"e{i}", f"a{i}", text, "2026-12-01T10:00:00Z", source="test")
    return InMessage("events", 0, i, orjson.dumps(body))


def test_the_pipeline_hands_its_matches_to_the_tap() -> None:
    pipeline = Pipeline.from_settings(load_settings(campaigns_enabled=True))
    assert pipeline.signals is not None
    assert pipeline.networks is not None
    listed = parse_signal({"list": "partner-zh", "kind": "text_near", "text": ZH, "label": "scam"})
    phone = parse_signal(
        {"list": "police", "kind": "indicator", "indicator_type": "phone", "value": "+14155550134"}
        | {"label": "spam"}
    )
    pipeline.signals.put(listed)
    pipeline.signals.put(phone)
    texts = [*ZH_VARIANTS, "cheap bags, original, WeChat lucky2026 or call +1 415 555 0134"]
    texts += [ZH_VARIANTS[0], ZH_VARIANTS[1]]
    messages = [_event(i, t) for i, t in enumerate(texts)]
    result = pipeline.process(messages)
    tap = pipeline.networks
    observed = [
        (out.key, o)
        for out in result.outputs
        if out.topic == tap.topic
        for o in decode_bundle(out.value or b"")
    ]
    signal_key = {o.event_id: o.signal for _, o in observed if o.signal}
    assert signal_key == {
        "e0": listed.key,
        "e1": listed.key,
        "e2": listed.key,
        "e3": phone.key,
        "e4": listed.key,
        "e5": listed.key,
    }
    for key, o in observed:
        if o.signal:  # on its signal's stage partition
            assert key == tap._keys[partition_of(f"s:{o.signal}", tap.partitions)]
    # what a signal matched is grouped by the signal only: no near-duplicate signature for a
    # listed text, no shared-indicator group for a listed phone (its other indicator stays)
    listed_ids = {e for e, k in signal_key.items() if k == listed.key}
    assert not [o for _, o in observed if o.event_id in listed_ids and o.signature is not None]
    phone_obs = [o for _, o in observed if o.event_id == "e3"]
    assert {i for o in phone_obs for i in o.indicators} == {("wechat", "lucky2026")}

    # the stage's campaign, once active, is what the next listed events carry
    tracker = _tracker()
    records = tracker.observe(o for _, o in observed)
    (record,) = [r for r in records if r["kind"] == SIGNAL_LIST]
    assert record["author_count"] == 5
    assert record["indicators"][0]["list"] == "partner-zh"
    tap.active.by_signal[listed.key] = record["campaign_id"]  # what CampaignStage._learn does
    tap.active.kinds[record["campaign_id"]] = SIGNAL_LIST
    later = pipeline.process([_event(9, ZH_VARIANTS[2]), _event(10, texts[3])])
    flagged = {
        p["event_id"]: p
        for p in (orjson.loads(o.value or b"") for o in later.outputs)
        if "decided_by" in p
    }
    assert flagged["e9"]["campaign_id"] == record["campaign_id"]
    assert flagged["e9"]["decided_by"] == "signal-list:partner-zh"
    assert "campaign_id" not in flagged["e10"]  # its signal has no active campaign


def test_the_stage_learns_an_active_signal_campaign_for_the_pipeline() -> None:
    t = _tracker()
    (record,) = t.observe([_listed(i, f"a{i}") for i in range(5)])
    stage = CampaignStage.__new__(CampaignStage)  # no Faust app: only what _learn uses
    stage.active, stage.tracker, stage._learned = ActiveCampaigns(), t, {}
    data = t.group(record["_key"])
    assert data is not None
    stage._learn(record["_key"], data)
    assert stage.active.by_signal == {KEY: record["campaign_id"]}
    assert stage.active.kinds == {record["campaign_id"]: SIGNAL_LIST}
    assert stage.active.labels[record["campaign_id"]] == {"scam": 5}
    assert not stage.active.by_indicator  # not mistaken for a shared indicator
