"""The follower's application of topic records to the index and the metrics (no broker)."""

from __future__ import annotations

import time

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streams.errors import BrokerError
from streams.health import Readiness
from streams.metrics import SignalMetrics
from streams.networks.signals import parse_signal
from streams.networks.signals_follow import SignalFollower, start_signals
from streams.networks.signals_index import SignalIndex
from streams.settings import load_settings


def _follower(max_signals: int = 100) -> tuple[SignalFollower, CollectorRegistry]:
    registry = CollectorRegistry()
    index = SignalIndex(max_signals=max_signals)
    return SignalFollower(load_settings(), index, SignalMetrics(registry)), registry


def _record(value: str, name: str = "acme") -> tuple[str, bytes]:
    signal = parse_signal(
        {"list": name, "kind": "indicator", "indicator_type": "qq", "value": value, "label": "scam"}
    )
    return signal.key, signal.to_json()


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


def test_upserts_and_tombstones_apply_in_topic_order() -> None:
    follower, registry = _follower()
    a, b = _record("123456"), _record("234567")
    follower.apply([a, b, (a[0], None), _record("345678", "other")])
    follower.export_counts()
    assert len(follower.index) == 2
    assert not follower.index.match(["qq: 123456"])
    assert follower.index.match(["qq: 234567"])[0].signal.key == b[0]
    assert _sample(registry, "flagstream_signals_loaded", list="acme", kind="indicator") == 1
    assert _sample(registry, "flagstream_signal_updates_total", outcome="upsert") == 3
    assert _sample(registry, "flagstream_signal_updates_total", outcome="tombstone") == 1
    follower.apply([(b[0], None)])
    follower.export_counts()  # an emptied list reads 0, not its last value
    assert _sample(registry, "flagstream_signals_loaded", list="acme", kind="indicator") == 0


def test_bad_records_are_skipped_and_counted() -> None:
    follower, registry = _follower()
    key, value = _record("123456")
    wrong_key = ("acme|indicator|qq:999999", value)
    bad_label = (key, orjson.dumps({**orjson.loads(value), "label": "fraud"}))
    follower.apply([(key, b"{not json"), wrong_key, bad_label, _record("234567")])
    assert len(follower.index) == 1
    assert _sample(registry, "flagstream_signal_updates_total", outcome="invalid") == 3


def test_signals_over_the_cap_are_counted_not_loaded() -> None:
    follower, registry = _follower(max_signals=2)
    follower.apply([_record(str(100000 + i)) for i in range(5)])
    assert len(follower.index) == 2
    assert _sample(registry, "flagstream_signal_updates_total", outcome="over_cap") == 3


def test_matches_are_exported_once() -> None:
    follower, registry = _follower()
    follower.apply([_record("123456")])
    follower.index.match(["qq: 123456", "QQ 123456 again"])
    follower.export_counts()
    follower.export_counts()
    assert _sample(registry, "flagstream_signal_matches_total", list="acme", kind="indicator") == 2


def test_start_retries_an_unreachable_broker_then_gives_up_with_the_cause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def load(self: SignalFollower) -> int:
        calls.append(1)
        if len(calls) < 3:
            raise BrokerError("cannot use Kafka at 127.0.0.1:1: check that the brokers run")
        return 0

    monkeypatch.setattr(SignalFollower, "load", load)
    monkeypatch.setattr(SignalFollower, "start", lambda self: None)
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    readiness = Readiness()
    index = SignalIndex()
    settings = load_settings(broker_retry_timeout_s=30)
    start_signals(settings, index, SignalMetrics(CollectorRegistry()), readiness)
    assert len(calls) == 3
    assert "signals" not in readiness.reasons()

    calls.clear()
    monkeypatch.setattr(SignalFollower, "load", lambda self: _fail())
    with pytest.raises(BrokerError, match="check that the brokers run"):
        start_signals(
            load_settings(broker_retry_timeout_s=0.1), index, SignalMetrics(CollectorRegistry()),
            readiness,
        )  # fmt: skip
    assert "signals" in readiness.reasons()


def _fail() -> int:
    raise BrokerError("cannot use Kafka at 127.0.0.1:1: check that the brokers run")
