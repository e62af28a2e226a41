"""Bulk histogram observation gives exactly what per-value observation gives."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram

from streams.events import load_schema
from streams.metrics import CAMPAIGN_KINDS, LATENCY_BUCKETS, SCORE_BUCKETS, observe_many
from streams.networks.campaigns import KINDS


def _samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    return {
        (s.name, s.labels.get("le", "")): s.value
        for metric in registry.collect()
        for s in metric.samples
        if not s.name.endswith("_created")
    }


@pytest.mark.parametrize(
    ("buckets", "values"),
    [
        (SCORE_BUCKETS, np.random.default_rng(7).random(1000, dtype=np.float32)),
        # on the bounds exactly, below the first, beyond the last (the +Inf bucket)
        (SCORE_BUCKETS, np.array([0.0, 0.01, 0.05, 0.99, 1.0, 0.5, 0.5], np.float32)),
        (LATENCY_BUCKETS, np.random.default_rng(8).exponential(0.2, 5000)),
        (LATENCY_BUCKETS, np.array([], np.float64)),
        (LATENCY_BUCKETS, np.array([0.0005, 31.0, 1e9])),
    ],
)
def test_observe_many_matches_observe(buckets: tuple[float, ...], values: np.ndarray) -> None:
    one_by_one, bulk = CollectorRegistry(), CollectorRegistry()
    h1 = Histogram("h", "test", buckets=buckets, registry=one_by_one)
    h2 = Histogram("h", "test", buckets=buckets, registry=bulk)
    for v in values.tolist():
        h1.observe(v)
    observe_many(h2, values)
    expected, got = _samples(one_by_one), _samples(bulk)
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-6), key


def test_observe_many_on_a_labelled_child() -> None:
    registry = CollectorRegistry()
    h = Histogram("h", "test", ["label"], buckets=SCORE_BUCKETS, registry=registry)
    observe_many(h.labels("spam"), np.array([0.2, 0.97]))
    samples = _samples(registry)
    assert samples[("h_count", "")] == 2
    assert samples[("h_bucket", "0.2")] == 1
    assert samples[("h_bucket", "0.95")] == 1
    assert samples[("h_bucket", "0.99")] == 2


def test_campaign_kinds_of_the_metrics_are_the_campaign_records_kinds() -> None:
    assert tuple(CAMPAIGN_KINDS) == tuple(KINDS)
    schema = load_schema("campaign.v1.json")
    assert set(schema["properties"]["kind"]["enum"]) == set(KINDS)
