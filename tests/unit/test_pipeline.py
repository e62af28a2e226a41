"""The batch pipeline with the shipped model, no broker: outputs, contracts and metrics."""

from __future__ import annotations

import jsonschema
import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from streams.events import load_schema
from streams.firehose import MALFORMED_KINDS, Firehose
from streams.metrics import WorkerMetrics
from streams.pipeline import Pipeline, record_batch
from streams.policy import ALLOW
from streams.publish import InMessage
from streams.settings import DEFAULT_ENCODER_PATH, load_settings


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline.from_settings(load_settings())


@pytest.fixture(scope="module")
def flagged_validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(
        load_schema("flagged.v1.json"), format_checker=jsonschema.FormatChecker()
    )


def _messages(count: int, seed: int) -> tuple[list[InMessage], Firehose]:
    hose = Firehose(seed=seed, harmful=0.3, malformed=0.0)
    samples = [hose.sample() for _ in range(count)]
    samples += [hose._malformed_sample(kind) for kind in MALFORMED_KINDS]
    messages = [
        InMessage("events", i % 3, 100 + i, s.value, s.key, (("trace", f"t{i}".encode()),))
        for i, s in enumerate(samples)
    ]
    return messages, hose


def test_batch_outputs_follow_the_contracts(
    pipeline: Pipeline, flagged_validator: jsonschema.Draft7Validator
) -> None:
    messages, _ = _messages(300, seed=3)
    result = pipeline.process(messages)
    flagged = [o for o in result.outputs if o.topic == "events.flagged"]
    dead = [o for o in result.outputs if o.topic == "events.dlq"]

    assert len(dead) == len(MALFORMED_KINDS)
    assert result.decided + len(dead) == len(messages)
    assert len(flagged) == result.flagged > 0
    by_offset = {m.offset: m for m in messages}
    for out in dead:
        headers = dict(out.headers)
        source = by_offset[int(headers["flagstream_source_offset"])]
        assert out.value == source.value  # byte for byte
        assert out.key == source.key
        assert headers["trace"] == dict(source.headers)["trace"]  # original headers kept
        assert headers["flagstream_dlq_reason"] in {
            b"invalid_utf8",
            b"invalid_json",
            b"schema",
            b"oversized",
        }
    for out in flagged:
        payload = orjson.loads(out.value or b"")
        assert not list(flagged_validator.iter_errors(payload))
        source = by_offset[payload["source"]["offset"]]
        assert payload["event"] == orjson.loads(source.value or b"")
        assert out.key == payload["event_id"].encode()
        headers = dict(out.headers)
        assert headers["ce_id"] == f"events-{source.partition}-{source.offset}".encode()
        scores = payload["scores"]
        assert payload["labels"] == sorted(payload["labels"], key=lambda lb: -scores[lb])
        for label in payload["labels"]:
            assert scores[label] >= payload["thresholds"][label]["review"] - 1e-5


def test_allowed_events_are_not_published(pipeline: Pipeline) -> None:
    messages, _ = _messages(200, seed=5)
    result = pipeline.process(messages)
    published = {
        dict(o.headers)["ce_subject"] for o in result.outputs if o.topic == "events.flagged"
    }
    allowed = int(np.count_nonzero(result.actions == ALLOW))
    assert allowed + len(published) == result.decided


def test_include_fields_limits_the_copied_event(pipeline: Pipeline) -> None:
    settings = load_settings(include_fields=("event_id", "text"))
    narrow = Pipeline(settings, pipeline.classifier, pipeline.policy)
    messages, _ = _messages(200, seed=9)
    flagged = [o for o in narrow.process(messages).outputs if o.topic == settings.flagged_topic]
    assert flagged
    for out in flagged:
        assert set(orjson.loads(out.value or b"")["event"]) == {"event_id", "text"}


def test_record_batch_counts_what_was_decided(pipeline: Pipeline) -> None:
    registry = CollectorRegistry()
    metrics = WorkerMetrics(registry, pipeline.labels)
    messages, _ = _messages(256, seed=13)
    result = pipeline.process(messages)
    record_batch(metrics, result, acked_at=result.created_at.max() + 0.5, batch_size=len(messages))

    def value(name: str, **labels: str) -> float:
        got = registry.get_sample_value(name, labels)
        return 0.0 if got is None else got

    decided = sum(
        value("flagstream_decisions_total", action=a) for a in ("allow", "review", "block")
    )
    dead = sum(
        value("flagstream_dead_letters_total", reason=r)
        for r in ("invalid_utf8", "invalid_json", "schema", "oversized")
    )
    assert decided == result.decided
    assert dead == len(MALFORMED_KINDS)
    assert value("flagstream_batch_size_events_count") == 1
    assert value("flagstream_end_to_end_latency_seconds_count") == result.decided
    over = result.over.sum(axis=0)
    for j, label in enumerate(pipeline.labels):
        flagged = value("flagstream_label_flags_total", label=label, action="review") + value(
            "flagstream_label_flags_total", label=label, action="block"
        )
        assert (
            flagged + value("flagstream_label_flags_total", label=label, action="allow") == over[j]
        )
        assert value("flagstream_score_count", label=label) == result.decided


def test_empty_and_all_malformed_batches(pipeline: Pipeline) -> None:
    assert pipeline.process([]).outputs == []
    result = pipeline.process([InMessage("events", 0, 1, b"{", None)])
    assert result.decided == 0
    assert [o.value for o in result.outputs] == [b"{"]


def test_cascade_decisions_name_the_accurate_model(
    flagged_validator: jsonschema.Draft7Validator,
) -> None:
    settings = load_settings(accurate_model_path=DEFAULT_ENCODER_PATH)
    cascade = Pipeline.from_settings(settings)
    assert cascade.classifier.accurate is not None
    messages, _ = _messages(400, seed=21)
    result = cascade.process(messages)
    assert int(np.count_nonzero(result.decided_by)) > 0  # the grey zone went to the accurate model
    deciders = set()
    for out in result.outputs:
        if out.topic != settings.flagged_topic:
            continue
        payload = orjson.loads(out.value or b"")
        assert not list(flagged_validator.iter_errors(payload))
        assert payload["decided_by"] in ("fast", "accurate")  # never degraded at this load
        model = (
            cascade.classifier.accurate
            if payload["decided_by"] == "accurate"
            else cascade.classifier.fast
        )
        assert payload["model"]["sha256"] == model.sha256
        deciders.add(payload["decided_by"])
    assert deciders == {"fast", "accurate"}
