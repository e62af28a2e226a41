"""The synchronous heart of the worker: a batch of records → the records to publish.

decode (``events``) → classify (``classify``) → decide (``policy``) → build outputs (``publish``).
It does no I/O, so the worker runs it in a thread and the benchmark's contenders reuse it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import orjson

from streams.classify import DECIDERS, Classifier
from streams.events import Decoder, EmbeddedEvent, Event, Pseudonyms, Rejected
from streams.metrics import WorkerMetrics
from streams.model import TextModel
from streams.networks.signals_index import BatchTexts, SignalIndex, SignalMatch
from streams.networks.tap import BatchFeatures, NetworkTap
from streams.policy import ACTION_NAMES, BLOCK, REVIEW, Policy, load_policy
from streams.publish import (
    TOO_LARGE,
    DeadLetters,
    InMessage,
    OutMessage,
    dead_letter_message,
    dlq_reason,
    flagged_message,
    too_large_message,
    utc_now_iso,
)
from streams.settings import Settings


@dataclass(slots=True)
class BatchResult:
    """What one batch produced; the worker publishes ``outputs`` and then records the rest."""

    outputs: list[OutMessage]
    dead_letter_reasons: list[str]
    actions: npt.NDArray[np.int8]  # [E] per decided event
    over: npt.NDArray[np.bool_]  # [E, L]
    scores: npt.NDArray[np.float32]  # [E, L]
    decided_by: npt.NDArray[np.uint8]  # [E]
    created_at: npt.NDArray[np.float64]  # [E] unix seconds
    classify_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def decided(self) -> int:
        return len(self.actions)

    @property
    def flagged(self) -> int:
        return int(np.count_nonzero(self.actions))


class Pipeline:
    """Decode, classify, decide and build the output records for one batch."""

    def __init__(self, settings: Settings, classifier: Classifier, policy: Policy) -> None:
        if tuple(policy.labels) != tuple(classifier.labels):
            raise ValueError(
                f"policy labels {policy.labels} differ from model labels {classifier.labels}"
            )
        self.settings = settings
        self.classifier = classifier
        self.policy = policy
        self.labels = classifier.labels
        self._decoder = Decoder(settings.max_event_bytes, settings.max_event_depth)
        #: the largest record that may be published (producer and output topics' limits):
        #: a larger output becomes a too_large dead letter of its event
        self.publish_limit = settings.producer_max_request_bytes
        self._flagged_topic = settings.flagged_topic
        self._dlq_topic = settings.dlq_topic
        self._ce_source = f"urn:flagstream:{settings.group_id}".encode()
        key = settings.pseudonym_key
        pseudonyms = None if key is None else Pseudonyms(key.get_secret_value().encode())
        self._embed = EmbeddedEvent(settings.include_fields, pseudonyms)
        self._thresholds = {lb: policy.thresholds(lb) for lb in self.labels}
        self._models = {
            0: _model_ref(classifier.fast),
            1: _model_ref(classifier.accurate) if classifier.accurate is not None else None,
            2: _model_ref(classifier.fast),  # routed, encoder skipped: the fast scores stand
        }
        self._policy_ref = {"version": policy.version}
        self._label_index = {lb: j for j, lb in enumerate(self.labels)}
        #: indicators, signatures and campaign observations (streams.networks); None: off
        self.networks = (
            NetworkTap(settings, escalation=policy.escalation, author_key=pseudonyms)
            if settings.campaigns_enabled
            else None
        )
        #: the signal lists (streams.networks.signals_follow fills it); None: off
        self.signals = (
            SignalIndex(
                settings.signals_max,
                settings.signals_similarity,
                settings.indicator_default_region,
            )
            if settings.signals_enabled
            else None
        )

    def _match_signals(
        self,
        good: Sequence[tuple[InMessage, Event]],
        features: BatchFeatures | None,
        actions: npt.NDArray[np.int8],
        over: npt.NDArray[np.bool_],
    ) -> dict[int, SignalMatch]:
        """Signal-list matches of the batch; each raises its event's action and sets its label."""
        signals = self.signals
        if signals is None or not len(signals):
            return {}
        matches = signals.match([ev.text for _, ev in good], _signal_texts(features))
        rules = self.policy.signals
        for i, match in list(matches.items()):
            signal = match.signal
            if signal.label not in self._label_index:  # a label this model does not produce
                del matches[i]
                continue
            action = rules.action_for(signal.list, signal.action)
            actions[i] = max(actions[i], action)  # the stronger of the list and the model
            over[i, self._label_index[signal.label]] = True
        return matches

    def dead_letters(self) -> DeadLetters:
        """The builder of the dead letters the batch runner decides on (same topic and limit)."""
        return DeadLetters(self._dlq_topic, self.publish_limit)

    def canary(self) -> list[InMessage]:
        """A valid, benign event: if processing it fails, the pipeline is broken, not the input."""
        body = {
            "event_id": "flagstream-canary",
            "type": "post",
            "created_at": "2026-01-01T00:00:00Z",
            "source": "flagstream",
            "author": {"id": "flagstream"},
            "text": "see you at the meeting tomorrow",
        }
        return [InMessage(self.settings.input_topic, 0, 0, orjson.dumps(body))]

    @classmethod
    def from_settings(cls, settings: Settings) -> Pipeline:
        """Load the model(s) and the policy; raises ModelError/PolicyError with the fix."""
        classifier = Classifier.from_settings(settings)
        policy = load_policy(
            settings.policy_path,
            classifier.labels,
            classifier.thresholds,
            classifier.block_thresholds,
        )
        return cls(settings, classifier, policy)

    def process(self, messages: Sequence[InMessage]) -> BatchResult:
        decode = self._decoder.decode
        limit = self.publish_limit
        outputs: list[OutMessage] = []
        reasons: list[str] = []
        good: list[tuple[InMessage, Event]] = []
        now_iso = utc_now_iso(time.time())
        for msg in messages:
            result = decode(msg.value)
            if isinstance(result, Rejected):
                out = dead_letter_message(
                    self._dlq_topic, msg, result.reason, result.detail, now_iso, limit
                )
                outputs.append(out)
                reasons.append(result.reason if out.value is msg.value else dlq_reason(out))
            else:
                good.append((msg, result))
        n_labels = len(self.labels)
        if not good:
            return BatchResult(
                outputs,
                reasons,
                np.zeros(0, np.int8),
                np.zeros((0, n_labels), np.bool_),
                np.zeros((0, n_labels), np.float32),
                np.zeros(0, np.uint8),
                np.zeros(0, np.float64),
            )
        scored = self.classifier.classify([ev.text for _, ev in good])
        decisions = self.policy.decide(scored.scores)
        created = np.fromiter((ev.created_at for _, ev in good), np.float64, len(good))
        classify_s = scored.fast_seconds + scored.accurate_seconds
        networks = self.networks
        features = None
        if networks is not None:
            signals = self.signals
            # near-duplicate text signals sign every text anyway: sign them once, here
            sign_all = signals is not None and signals.needs_signatures
            features = networks.features([ev.text for _, ev in good], sign_all)
        matches = self._match_signals(good, features, decisions.actions, decisions.over)
        flagged = np.flatnonzero(decisions.actions)
        if networks is not None and features is not None:
            watched = None
            if not networks.scope_all:
                near = self.policy.watched(scored.scores, networks.watch_share)
                watched = networks.watched(features, decisions.actions > 0, near, matches)
            networks.watch(features, watched, flagged.tolist())
        flag_labels: dict[int, list[str]] = {}
        if len(flagged):
            decided_ts = time.time()
            processed_at = utc_now_iso(decided_ts)
            timing_common = {"classify_ms": round(classify_s * 1e3, 3), "batch_size": len(messages)}
            labels, embed = self.labels, self._embed
            for i in flagged.tolist():
                msg, ev = good[i]
                row = scored.scores[i].tolist()
                over = decisions.over[i]
                hit = [
                    labels[j]
                    for j in sorted(
                        np.flatnonzero(over).tolist(), key=row.__getitem__, reverse=True
                    )
                ]
                by = int(scored.decided_by[i])
                match = matches.get(i) if matches else None
                if match is not None:  # the list's label first, at 1.0 (docs/networks.md)
                    row[self._label_index[match.signal.label]] = 1.0
                    hit.remove(match.signal.label)
                    hit.insert(0, match.signal.label)
                payload = {
                    "schema_version": 1,
                    "event_id": ev.event_id,
                    "action": ACTION_NAMES[decisions.actions[i]],
                    "labels": hit,
                    "scores": {lb: round(s, 5) for lb, s in zip(labels, row, strict=True)},
                    "thresholds": {lb: self._thresholds[lb] for lb in hit},
                    "decided_by": DECIDERS[by]
                    if match is None
                    else f"signal-list:{match.signal.list}",
                    "model": self._models[by],
                    "policy": self._policy_ref,
                    "event": embed(ev.body),
                    "source": {
                        "topic": msg.topic,
                        "partition": msg.partition,
                        "offset": msg.offset,
                    },
                    "processed_at": processed_at,
                    "timings": {
                        "created_to_decided_ms": round((decided_ts - ev.created_at) * 1e3, 3),
                        **timing_common,
                    },
                }
                if match is not None:
                    payload["signal"] = match.as_json()
                if networks is not None and features is not None:
                    flag_labels[i] = hit
                    # a listed event's campaign is its signal's, once that is active
                    campaign = networks.active.for_signal(match, features.campaign_ids[i])
                    if campaign is not None:
                        payload["campaign_id"] = campaign
                        networks.flagged_in_campaign += 1
                    author = networks.author_key(str(ev.body["author"]["id"]))
                    payload["actor"], why = networks.judge(author, campaign, decided_ts)
                    if why is not None and decisions.actions[i] == REVIEW:
                        decisions.actions[i] = BLOCK  # the metrics count what was published
                        payload["action"] = "block"
                        payload["escalated_by"] = why
                out = flagged_message(
                    self._flagged_topic, self._ce_source, msg, payload, processed_at
                )
                if out.size() > limit:  # only with max_event_bytes near the limit
                    out = too_large_message(
                        self._dlq_topic,
                        msg,
                        f"its flagged record would be {out.size()} bytes, over {limit}",
                        processed_at,
                        limit,
                    )
                    reasons.append(TOO_LARGE)
                outputs.append(out)
        if features is not None:
            assert networks is not None
            outputs.extend(networks.outputs(good, features, flag_labels, matches))
        return BatchResult(
            outputs,
            reasons,
            decisions.actions,
            decisions.over,
            scored.scores,
            scored.decided_by,
            created,
            {"fast": scored.fast_seconds, "accurate": scored.accurate_seconds},
        )


def _signal_texts(features: BatchFeatures | None) -> BatchTexts | None:
    if features is None:
        return None
    if not features.signed_all:  # only the watched rows will be signed: the index signs all
        return BatchTexts(features.indicators)
    return BatchTexts(features.indicators, features.signatures, features.has_signature)


def _model_ref(model: TextModel) -> dict[str, str]:
    return {"name": model.name, "version": model.version, "sha256": model.sha256}


def record_batch(
    metrics: WorkerMetrics, result: BatchResult, acked_at: float, batch_size: int
) -> None:
    """Count a batch once its outputs are acknowledged. Per-batch numpy, no per-event Python where avoidable."""
    metrics.batch_size.observe(batch_size)
    record_result(metrics, result, acked_at)


def record_result(metrics: WorkerMetrics, result: BatchResult, acked_at: float) -> None:
    """Count one processing result (a batch, or a part of a split one) once acknowledged."""
    for reason, count in Counter(result.dead_letter_reasons).items():
        metrics.dead_letter(reason, count)
    if result.decided == 0:
        return
    counts = np.bincount(result.actions, minlength=len(ACTION_NAMES))
    for code, name in enumerate(ACTION_NAMES):
        if not counts[code]:
            continue
        metrics.decision(name, int(counts[code]))
        per_label = result.over[result.actions == code].sum(axis=0)
        for j, label in enumerate(metrics.labels):
            if per_label[j]:
                metrics.label_flag(label, name, int(per_label[j]))
    by = np.bincount(result.decided_by, minlength=len(DECIDERS))
    for code, name in enumerate(DECIDERS):
        if by[code]:
            metrics.decided_by.labels(name).inc(int(by[code]))
    for name, seconds in result.classify_seconds.items():
        if seconds > 0:
            metrics.classify_seconds.labels(name).observe(seconds)
    metrics.observe_end_to_end(np.maximum(acked_at - result.created_at, 0.0))
    for j in range(result.scores.shape[1]):
        metrics.observe_scores(j, result.scores[:, j])
