"""Decide: per-label scores → labels over threshold and an action (allow, review, block).

What to do about each harm is the operator's policy file (TOML), not code. It is validated at
start-up against the model's labels; every error names the file, the key and the fix.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from streams.errors import PolicyError

ALLOW: Final = 0
REVIEW: Final = 1
BLOCK: Final = 2
ACTION_NAMES: Final = ("allow", "review", "block")
_LABEL_KEYS: Final = frozenset({"review", "block", "enabled"})


@dataclass(frozen=True, slots=True)
class LabelRule:
    review: float  # math.inf: never
    block: float  # math.inf: never
    enabled: bool


@dataclass(frozen=True, slots=True)
class Decisions:
    """Vectorised decisions for one batch."""

    actions: npt.NDArray[np.int8]  # [N] ALLOW / REVIEW / BLOCK
    over: npt.NDArray[np.bool_]  # [N, L] label score >= its review threshold


@dataclass(frozen=True, slots=True)
class Escalation:
    """``[escalation]``: what turns a review into a block because of who posted it.

    ``repeat_flags``: an author flagged at least this many times (decayed over a 24 h half-life,
    streams/networks/actors.py) — None: never. ``campaign_labels``: a member of an active
    campaign whose members were flagged for one of these labels.
    """

    repeat_flags: float | None = None
    campaign_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SignalRules:
    """``[signals]``: what a signal-list match does (docs/networks.md, "Signal lists").

    The action of a match: ``lists[<list>]`` if the policy names the list, else the signal's
    own ``action`` hint, else ``action``. The stronger of it and the classifier's action stands.
    """

    action: int = BLOCK
    lists: Mapping[str, int] = field(default_factory=dict)

    def action_for(self, list_name: str, hint: str | None) -> int:
        if list_name in self.lists:
            return self.lists[list_name]
        if hint is not None:
            return ACTION_NAMES.index(hint)
        return self.action


class Policy:
    """Per-label review/block thresholds in the model's label order."""

    __slots__ = (
        "_block",
        "_review",
        "escalation",
        "labels",
        "path",
        "rules",
        "signals",
        "version",
    )

    def __init__(
        self,
        version: str,
        labels: Sequence[str],
        rules: Mapping[str, LabelRule],
        path: Path | None = None,
        escalation: Escalation | None = None,
        signals: SignalRules | None = None,
    ) -> None:
        self.escalation = escalation or Escalation()
        self.signals = signals or SignalRules()
        self.version = version
        self.labels = tuple(labels)
        self.rules = dict(rules)
        self.path = path
        inf = np.float32(np.inf)
        self._review = np.array(
            [rules[lb].review if rules[lb].enabled else inf for lb in self.labels], dtype=np.float32
        )
        self._block = np.array(
            [rules[lb].block if rules[lb].enabled else inf for lb in self.labels], dtype=np.float32
        )

    def decide(self, scores: npt.NDArray[np.float32]) -> Decisions:
        """Actions for a [N, L] score matrix: the strongest action over the labels."""
        over = scores >= self._review
        blocked = (scores >= self._block).any(axis=1)
        actions = np.where(blocked, BLOCK, np.where(over.any(axis=1), REVIEW, ALLOW)).astype(
            np.int8
        )
        return Decisions(actions, over)

    def watched(self, scores: npt.NDArray[np.float32], share: float) -> npt.NDArray[np.bool_]:
        """Rows whose score for some enabled label reaches ``share`` of its review point
        (the campaign stage's watch list, ``campaign_watch``); ``share`` 1 is "flagged"."""
        with np.errstate(invalid="ignore"):  # a disabled label: inf * 0 is nan, never reached
            points = self._review * np.float32(share)
        return np.asarray((scores >= points).any(axis=1), np.bool_)

    def thresholds(self, label: str) -> dict[str, float | None]:
        """The thresholds applied to a label, for the flagged event (None: never)."""
        rule = self.rules[label]
        return {
            "review": rule.review if math.isfinite(rule.review) and rule.enabled else None,
            "block": rule.block if math.isfinite(rule.block) and rule.enabled else None,
        }


def load_policy(
    path: Path,
    model_labels: Sequence[str],
    model_thresholds: Mapping[str, float],
    model_block: Mapping[str, float] | None = None,
) -> Policy:
    """Read and validate a policy file against the model's labels and calibrated thresholds."""
    where = str(path)
    if not path.is_file():
        raise PolicyError(
            f"{where}: policy file not found; set FLAGSTREAM_POLICY_PATH to an existing TOML file "
            "(start from streams/policy.default.toml)"
        )
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{where}: not valid TOML ({exc}); fix the syntax") from None
    return parse_policy(
        doc, model_labels, model_thresholds, where=where, path=path, model_block=model_block
    )


def parse_policy(
    doc: Mapping[str, Any],
    model_labels: Sequence[str],
    model_thresholds: Mapping[str, float],
    *,
    where: str = "policy",
    path: Path | None = None,
    model_block: Mapping[str, float] | None = None,
) -> Policy:
    """Validate a parsed policy. ``"model"`` names the model's calibrated point: its review
    threshold for ``review``, its block threshold (``model_block``) for ``block``."""
    unknown_top = set(doc) - {"version", "labels", "escalation", "signals"}
    if unknown_top:
        raise PolicyError(
            f"{where}: unknown key(s) {sorted(unknown_top)}; allowed: 'version', "
            "'[labels.<label>]', '[escalation]' and '[signals]'"
        )
    version = doc.get("version")
    if not isinstance(version, str) or not version.strip():
        raise PolicyError(
            f"{where}: 'version' must be a non-empty string, e.g. version = \"2026-11-24.1\""
        )
    tables = doc.get("labels", {})
    if not isinstance(tables, dict):
        raise PolicyError(f"{where}: 'labels' must be tables like [labels.spam]")
    for label in tables:
        if label not in model_labels:
            raise PolicyError(
                f"{where}: label '{label}' is not one the model produces; "
                f"use one of {', '.join(model_labels)}"
            )
    rules: dict[str, LabelRule] = {}
    for label in model_labels:
        table = tables.get(label, {})
        key = f"labels.{label}"
        if not isinstance(table, dict):
            raise PolicyError(f"{where}: '{key}' must be a table with review/block/enabled keys")
        extra = set(table) - _LABEL_KEYS
        if extra:
            raise PolicyError(
                f"{where}: '{key}' has unknown key(s) {sorted(extra)}; allowed: review, block, enabled"
            )
        if label not in model_thresholds:
            raise PolicyError(
                f"{where}: the model has no calibrated threshold for '{label}'; rebuild the model"
            )
        review = _threshold(
            table.get("review", "model"), model_thresholds[label], where, f"{key}.review"
        )
        block_value = table.get("block")
        if block_value == "model" and label not in (model_block or {}):
            raise PolicyError(
                f"{where}: '{key}.block' is \"model\" but the model has no calibrated block "
                f"point for '{label}'; give a number in 0..1 or rebuild the model"
            )
        block = _threshold(block_value, (model_block or {}).get(label, 1.0), where, f"{key}.block")
        if block < review:
            raise PolicyError(
                f"{where}: label '{label}' block threshold {block} is below its review threshold "
                f"{review}; make block >= review or remove it"
            )
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            raise PolicyError(f"{where}: '{key}.enabled' must be true or false, not {enabled!r}")
        rules[label] = LabelRule(review, block, enabled)
    escalation = _escalation(doc.get("escalation", {}), model_labels, where)
    signals = _signal_rules(doc.get("signals", {}), where)
    return Policy(version.strip(), model_labels, rules, path, escalation, signals)


def _signal_action(value: Any, where: str, key: str) -> int:
    if value not in ("review", "block"):
        raise PolicyError(f'{where}: \'{key}\' must be "review" or "block", not {value!r}')
    return ACTION_NAMES.index(value)


def _check_table(table: Any, name: str, allowed: Sequence[str], where: str) -> dict[str, Any]:
    """``table`` if it is a TOML table ``[name]`` with only ``allowed`` keys."""
    if not isinstance(table, dict):
        raise PolicyError(f"{where}: '{name}' must be a table: [{name}]")
    extra = set(table) - set(allowed)
    if extra:
        raise PolicyError(
            f"{where}: '[{name}]' has unknown key(s) {sorted(extra)}; allowed: {', '.join(allowed)}"
        )
    return table


def _signal_rules(table: Any, where: str) -> SignalRules:
    table = _check_table(table, "signals", ("action", "lists"), where)
    action = _signal_action(table.get("action", "block"), where, "signals.action")
    lists = table.get("lists", {})
    if not isinstance(lists, dict):
        raise PolicyError(
            f'{where}: \'signals.lists\' must be a table of list name = "review" | "block"'
        )
    return SignalRules(
        action,
        {name: _signal_action(v, where, f"signals.lists.{name}") for name, v in lists.items()},
    )


def _escalation(table: Any, model_labels: Sequence[str], where: str) -> Escalation:
    table = _check_table(table, "escalation", ("repeat_flags", "campaign_labels"), where)
    repeat = table.get("repeat_flags")
    if repeat is not None and (
        isinstance(repeat, bool) or not isinstance(repeat, int | float) or repeat <= 0
    ):
        raise PolicyError(
            f"{where}: 'escalation.repeat_flags' must be a number above 0 (flags in 24 h), "
            f"not {repeat!r}"
        )
    labels = table.get("campaign_labels", [])
    if not isinstance(labels, list) or any(lb not in model_labels for lb in labels):
        raise PolicyError(
            f"{where}: 'escalation.campaign_labels' must be a list of model labels "
            f"({', '.join(model_labels)}), not {labels!r}"
        )
    return Escalation(None if repeat is None else float(repeat), tuple(labels))


def _threshold(value: Any, model_value: float, where: str, key: str) -> float:
    if value is None:
        return math.inf
    if value == "model":
        return float(model_value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"{where}: '{key}' must be a number in 0..1 or \"model\", not {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise PolicyError(f"{where}: '{key}' threshold {value} is outside 0..1")
    return float(value)
