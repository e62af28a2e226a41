"""The policy's [signals] table: what a signal-list match does."""

from __future__ import annotations

import pytest

from streams.errors import PolicyError
from streams.policy import BLOCK, REVIEW, load_policy, parse_policy
from streams.settings import DEFAULT_POLICY_PATH

LABELS = ("spam", "scam", "toxic", "hate")
THRESHOLDS = {"spam": 0.5, "scam": 0.4, "toxic": 0.6, "hate": 0.7}
BLOCKS = {"spam": 0.97, "scam": 0.9, "toxic": 0.95, "hate": 0.96}


def test_the_default_policy_blocks_a_match() -> None:
    rules = load_policy(DEFAULT_POLICY_PATH, LABELS, THRESHOLDS, BLOCKS).signals
    assert rules.action_for("any-list", None) == BLOCK
    assert rules.action_for("any-list", "review") == REVIEW  # the signal's hint


def test_a_list_rule_overrides_the_hint_and_the_default() -> None:
    doc = {"version": "v", "signals": {"action": "review", "lists": {"partner": "block"}}}
    rules = parse_policy(doc, LABELS, THRESHOLDS).signals
    assert rules.action_for("partner", "review") == BLOCK
    assert rules.action_for("other", None) == REVIEW


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"action": "ban"}, '\'signals.action\' must be "review" or "block"'),
        ({"lists": {"p": "allow"}}, "'signals.lists.p' must be"),
        ({"lists": ["p"]}, "must be a table of list name"),
        ({"mode": "x"}, "unknown key"),
    ],
)
def test_bad_signal_rules_name_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy({"version": "v", "signals": table}, LABELS, THRESHOLDS)
