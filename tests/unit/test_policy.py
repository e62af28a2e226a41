"""The policy: thresholds → actions, and start-up errors that name the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streams.errors import PolicyError
from streams.policy import ALLOW, BLOCK, REVIEW, load_policy, parse_policy
from streams.settings import DEFAULT_POLICY_PATH

LABELS = ("spam", "scam", "toxic", "hate")
MODEL_THRESHOLDS = {"spam": 0.5, "scam": 0.4, "toxic": 0.6, "hate": 0.7}
MODEL_BLOCK = {"spam": 0.97, "scam": 0.9, "toxic": 0.95, "hate": 0.96}


def test_actions_take_the_strongest_label() -> None:
    policy = parse_policy(
        {
            "version": "t1",
            "labels": {"spam": {"block": 0.9}, "hate": {"review": 0.3, "block": 0.8}},
        },
        LABELS,
        MODEL_THRESHOLDS,
    )
    scores = np.array(
        [
            [0.1, 0.1, 0.1, 0.1],  # nothing over
            [0.55, 0.1, 0.1, 0.1],  # spam over model threshold → review
            [0.95, 0.1, 0.1, 0.1],  # spam over block
            [0.1, 0.1, 0.65, 0.35],  # toxic + hate review
            [0.1, 0.1, 0.99, 0.85],  # toxic has no block; hate blocks
            [0.1, 0.4, 0.1, 0.1],  # exactly at threshold counts
        ],
        dtype=np.float32,
    )
    decisions = policy.decide(scores)
    assert decisions.actions.tolist() == [ALLOW, REVIEW, BLOCK, REVIEW, BLOCK, REVIEW]
    assert decisions.over[3].tolist() == [False, False, True, True]
    assert policy.thresholds("toxic") == {"review": 0.6, "block": None}
    assert policy.version == "t1"


def test_disabled_label_never_flags() -> None:
    policy = parse_policy(
        {"version": "t", "labels": {"toxic": {"enabled": False}}}, LABELS, MODEL_THRESHOLDS
    )
    decisions = policy.decide(np.array([[0, 0, 1.0, 0]], dtype=np.float32))
    assert decisions.actions.tolist() == [ALLOW]
    assert policy.thresholds("toxic") == {"review": None, "block": None}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"labels": {}}, "'version' must be a non-empty string"),
        (
            {"version": "v", "labels": {"hate": {"review": 1.7}}},
            "'labels.hate.review' threshold 1.7 is outside 0..1",
        ),
        (
            {"version": "v", "labels": {"violence": {"review": 0.5}}},
            "label 'violence' is not one the model produces",
        ),
        ({"version": "v", "labels": {"spam": {"reveiw": 0.5}}}, "unknown key(s) ['reveiw']"),
        (
            {"version": "v", "labels": {"spam": {"review": 0.9, "block": 0.5}}},
            "block threshold 0.5 is below its review threshold 0.9",
        ),
        (
            {"version": "v", "labels": {"spam": {"review": "high"}}},
            'must be a number in 0..1 or "model"',
        ),
        ({"version": "v", "labels": {"spam": {"enabled": "yes"}}}, "must be true or false"),
        ({"version": "v", "actions": {}}, "unknown key(s) ['actions']"),
    ],
)
def test_invalid_policies_name_the_key_and_fix(doc: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=r"^policy\.toml: ") as info:
        parse_policy(doc, LABELS, MODEL_THRESHOLDS, where="policy.toml")
    assert message in str(info.value)


def test_policy_file_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(
        PolicyError, match=f"{missing}: policy file not found; set FLAGSTREAM_POLICY_PATH"
    ):
        load_policy(missing, LABELS, MODEL_THRESHOLDS)
    broken = tmp_path / "broken.toml"
    broken.write_text("version = \n", encoding="utf-8")
    with pytest.raises(PolicyError, match=f"{broken}: not valid TOML"):
        load_policy(broken, LABELS, MODEL_THRESHOLDS)


def test_default_policy_file_is_valid() -> None:
    policy = load_policy(DEFAULT_POLICY_PATH, LABELS, MODEL_THRESHOLDS, MODEL_BLOCK)
    assert policy.thresholds("spam") == {"review": 0.5, "block": 0.97}
    assert policy.thresholds("scam") == {"review": 0.4, "block": 0.9}
    assert policy.thresholds("hate")["block"] is None


def test_block_model_needs_a_calibrated_block_point() -> None:
    doc = {"version": "t", "labels": {"spam": {"block": "model"}}}
    with pytest.raises(PolicyError, match="no calibrated block point for 'spam'"):
        parse_policy(doc, LABELS, MODEL_THRESHOLDS, where="policy.toml")
    policy = parse_policy(doc, LABELS, MODEL_THRESHOLDS, model_block=MODEL_BLOCK)
    assert policy.thresholds("spam")["block"] == 0.97
