"""Repeat actors: decayed flag counts per author, and the policy's escalation on them."""

from __future__ import annotations

import pytest

from streams.errors import PolicyError
from streams.networks.actors import DAY_S, ActorTracker
from streams.networks.campaigns import Observation
from streams.networks.tap import ActiveCampaigns, NetworkTap
from streams.policy import Escalation, parse_policy
from streams.settings import load_settings

LABELS = ("spam", "scam", "toxic", "hate")
POINTS = dict.fromkeys(LABELS, 0.5)


def flag(event_id: str, author: str, ts: float, *labels: str) -> Observation:
    return Observation(event_id, author, ts, labels, actor=True)


def test_flags_are_counted_per_label_and_decay_with_a_day_half_life() -> None:
    tracker = ActorTracker({})
    tracker.observe([flag("e1", "a", 0.0, "scam"), flag("e2", "a", 10.0, "scam", "spam")])
    (standing,) = tracker.observe([flag("e3", "a", 20.0, "scam")])
    assert standing.by_label["scam"] == pytest.approx(3.0, abs=1e-3)
    assert standing.by_label["spam"] == pytest.approx(1.0, abs=1e-3)
    assert standing.flags == pytest.approx(3.0, abs=1e-3)  # an event counts once
    (later,) = tracker.observe([flag("e4", "a", 20.0 + DAY_S, "toxic")])
    assert later.by_label["scam"] == pytest.approx(1.5, abs=1e-3)  # halved a day later
    assert later.by_label["toxic"] == pytest.approx(1.0)


def test_redelivered_flags_count_once_and_state_recovers() -> None:
    store: dict[str, bytes] = {}
    tracker = ActorTracker(store)
    batch = [flag("e1", "a", 0.0, "scam"), flag("e2", "a", 1.0, "scam")]
    tracker.observe(batch)
    again = tracker.observe(batch)
    assert again[0].by_label["scam"] == pytest.approx(2.0, abs=1e-3)
    recovered = ActorTracker(dict(store)).rebuild()
    assert [s.author_id for s in recovered] == ["a"]
    assert recovered[0].flags == pytest.approx(2.0, abs=1e-3)


def test_authors_are_forgotten_after_seven_half_lives() -> None:
    tracker = ActorTracker({})
    tracker.observe([flag("e1", "old", 0.0, "spam")])
    tracker.observe([flag("e2", "new", 8 * DAY_S, "spam")])
    assert tracker.expire() == ["old"]
    assert set(tracker.store) == {"a:new"}


def test_policy_escalation_is_validated() -> None:
    doc = {"version": "t", "escalation": {"repeat_flags": 3, "campaign_labels": ["scam"]}}
    policy = parse_policy(doc, LABELS, POINTS)
    assert policy.escalation == Escalation(3.0, ("scam",))
    assert parse_policy({"version": "t"}, LABELS, POINTS).escalation == Escalation()
    with pytest.raises(PolicyError, match="campaign_labels"):
        parse_policy({"version": "t", "escalation": {"campaign_labels": ["fraud"]}}, LABELS, POINTS)
    with pytest.raises(PolicyError, match="repeat_flags"):
        parse_policy({"version": "t", "escalation": {"repeat_flags": 0}}, LABELS, POINTS)
    with pytest.raises(PolicyError, match="unknown key"):
        parse_policy({"version": "t", "escalation": {"block_all": True}}, LABELS, POINTS)


def test_judge_escalates_repeat_actors_and_scam_campaign_members() -> None:
    active = ActiveCampaigns()
    tap = NetworkTap(load_settings(), active, Escalation(3.0, ("scam",)))
    tracker = ActorTracker({})
    for standing in tracker.observe([flag(f"e{i}", "bad", 100.0 + i, "spam") for i in range(3)]):
        active.actors[standing.author_id] = standing
    context, why = tap.judge("bad", None, 110.0)
    assert why == "repeat_actor"
    assert context["flags_24h"] == pytest.approx(3.0, abs=1e-2)
    assert tap.judge("bad", None, 110.0 + 2 * DAY_S)[1] is None  # a quarter, two days on
    assert tap.judge("newcomer", None, 110.0) == ({"flags_24h": 0.0}, None)
    active.labels["si-x"] = {"scam": 4}
    active.labels["nd-y"] = {}
    assert tap.judge("newcomer", "si-x", 110.0)[1] == "campaign"
    assert tap.judge("newcomer", "nd-y", 110.0)[1] is None  # a benign campaign
