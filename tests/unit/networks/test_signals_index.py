"""The signal index: exact and near-duplicate matching, tombstones, the cap, the pipeline hook."""

from __future__ import annotations

import jsonschema
import orjson
import pytest

from streams.events import load_schema
from streams.networks.signals import Signal, parse_signal
from streams.networks.signals_index import SignalCapError, SignalIndex
from streams.pipeline import Pipeline
from streams.policy import BLOCK, REVIEW, SignalRules
from streams.publish import InMessage
from streams.settings import load_settings

EN = "Congratulations! You have won a $1000 Walmart gift card. Click the link below to claim your prize before it expires today"
EN_VARIANT = "congratulations!! you've won a $500 walmart gift card 🎁 click the link below to claim your prize before it expires today"
ZH = "恭喜您获得本月幸运大奖，奖金一万元，请立即添加客服领取，名额有限先到先得"
ZH_VARIANT = "恭喜你获得本月幸运大奖，奖金两万元！请立即添加客服领取，名额有限，先到先得🎉"
BENIGN = [
    "see you at the meeting tomorrow, I will bring the slides",
    "happy new year to everyone in the group, have a great 2027",
    "明天下午三点在会议室开会，请大家准时参加",
]


def signal(kind: str, label: str = "scam", name: str = "acme", **fields: str) -> Signal:
    return parse_signal({"list": name, "kind": kind, "label": label, **fields})


@pytest.fixture
def index() -> SignalIndex:
    idx = SignalIndex(similarity=0.7)
    idx.put(signal("indicator", indicator_type="wechat", value="lucky2026"))
    idx.put(signal("indicator", indicator_type="phone", value="+8613800138000", name="cn-police"))
    idx.put(signal("text_exact", label="spam", text="Buy cheap followers now at the best price!!!"))
    idx.put(signal("text_near", text=EN))
    idx.put(signal("text_near", text=ZH, name="cn-police"))
    return idx


def test_indicators_match_however_the_text_writes_them(index: SignalIndex) -> None:
    texts = ["加我薇：lucky2026 有好货", "电话 138 0013 8000 快来", "call +86 138-0013-8001 now"]
    found = index.match(texts)
    assert found[0].signal.key == "acme|indicator|wechat:lucky2026"
    assert found[1].signal.list == "cn-police"
    assert found[1].matched == "phone:+8613800138000"
    assert 2 not in found


def test_exact_texts_match_after_normalisation_only(index: SignalIndex) -> None:
    found = index.match(
        ["BUY cheap followers NOW at the best price", "Buy cheap followers now at a fair price"]
    )
    assert found[0].signal.kind == "text_exact"
    assert found[0].signal.label == "spam"
    assert 1 not in found


def test_light_variants_match_near_signals_in_english_and_chinese(index: SignalIndex) -> None:
    found = index.match([EN_VARIANT, ZH_VARIANT, *BENIGN])
    assert found[0].signal.kind == "text_near"
    assert found[0].signal.list == "acme"
    assert found[1].signal.list == "cn-police"
    assert found[0].similarity is not None
    assert found[0].similarity >= 0.7
    assert set(found) == {0, 1}  # the benign texts match nothing
    assert index.matched_snapshot()[("acme", "text_near")] == 1


def test_a_tombstone_removes_exactly_its_signal(index: SignalIndex) -> None:
    near = signal("text_near", text=EN)
    assert index.remove(near.key)
    assert not index.remove(near.key)
    found = index.match([EN_VARIANT, ZH_VARIANT, "加我薇：lucky2026"])
    assert set(found) == {1, 2}
    index.put(near)  # re-imported: matches again
    assert 0 in index.match([EN_VARIANT])
    assert index.counts()[("acme", "text_near")] == 1


def test_a_replaced_signal_is_not_counted_twice(index: SignalIndex) -> None:
    before = len(index)
    index.put(signal("indicator", label="spam", indicator_type="wechat", value="LUCKY2026"))
    assert len(index) == before
    assert index.match(["wx: lucky2026"])[0].signal.label == "spam"


def test_the_cap_refuses_new_signals_and_keeps_the_index() -> None:
    index = SignalIndex(max_signals=2)
    index.put(signal("indicator", indicator_type="qq", value="123456"))
    index.put(signal("indicator", indicator_type="qq", value="234567"))
    with pytest.raises(SignalCapError, match="FLAGSTREAM_SIGNALS_MAX"):
        index.put(signal("indicator", indicator_type="qq", value="345678"))
    index.put(signal("indicator", label="spam", indicator_type="qq", value="123456"))  # a replace
    assert len(index) == 2
    assert index.rejected == 1


def test_policy_rules_pick_the_action() -> None:
    rules = SignalRules(REVIEW, {"trusted": BLOCK})
    assert rules.action_for("trusted", "review") == BLOCK
    assert rules.action_for("other", "block") == BLOCK
    assert rules.action_for("other", None) == REVIEW


@pytest.mark.parametrize("campaigns", [False, True], ids=["alone", "with-campaign-features"])
def test_the_pipeline_flags_a_match_and_names_the_list(campaigns: bool) -> None:
    pipeline = Pipeline.from_settings(load_settings(campaigns_enabled=campaigns))
    assert pipeline.signals is not None
    pipeline.signals.put(signal("indicator", indicator_type="wechat", value="lucky2026"))
    pipeline.signals.put(signal("text_near", text=EN))
    texts = ["加我薇：lucky2026 有好货", BENIGN[0], EN_VARIANT]
    messages = [
        InMessage(
            "events",
            0,
            i,
            orjson.dumps(
                {
                    "event_id": f"e{i}",
                    "type": "post",
                    "created_at": "2026-12-01T10:00:00Z",
                    "source": "test",
                    "author": {"id": f"a{i}"},
                    "text": text,
                }
            ),
        )
        for i, text in enumerate(texts)
    ]
    result = pipeline.process(messages)
    flagged = [orjson.loads(o.value or b"") for o in result.outputs if o.topic == "events.flagged"]
    by_id = {p["event_id"]: p for p in flagged}
    assert "e1" not in by_id or not by_id["e1"]["decided_by"].startswith("signal-list")
    assert by_id["e2"]["decided_by"] == "signal-list:acme"
    assert by_id["e2"]["signal"]["kind"] == "text_near"
    assert by_id["e2"]["signal"]["similarity"] >= 0.7
    payload = by_id["e0"]
    assert payload["decided_by"] == "signal-list:acme"
    assert payload["action"] == "block"
    assert payload["labels"][0] == "scam"
    assert payload["scores"]["scam"] == 1.0
    assert payload["signal"] == {
        "list": "acme",
        "kind": "indicator",
        "value": "wechat:lucky2026",
        "label": "scam",
    }
    validator = jsonschema.Draft7Validator(load_schema("flagged.v1.json"))
    assert not list(validator.iter_errors(payload))
    assert result.actions[0] == BLOCK
    assert result.over[0, pipeline.labels.index("scam")]
