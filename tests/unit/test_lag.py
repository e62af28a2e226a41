"""Lag arithmetic and its export, without a broker."""

from __future__ import annotations

import socket

import pytest
from kafka.structs import TopicPartition
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from streams.errors import BrokerError
from streams.lag import BrokerOffsets, LagGauges, PartitionLag, admin_config, compute_lag
from streams.metrics import LagExporterMetrics
from streams.settings import Settings

# kafka-python 3.0 loads some protocol schemas lazily with importlib.resources' legacy API,
# which warns on Python 3.11 (tests/conftest.py covers the import-time ones)
pytestmark = pytest.mark.filterwarnings("ignore:.* is deprecated. Use files:DeprecationWarning")

T0, T1 = TopicPartition("events", 0), TopicPartition("events", 1)


def test_lag_is_end_minus_committed() -> None:
    rows = compute_lag("g", {T1: 50, T0: 100}, {T0: 40, T1: 50}, {}, "earliest")
    assert rows == [
        PartitionLag("g", "events", 0, 40, 100, 60),
        PartitionLag("g", "events", 1, 50, 50, 0),
    ]


def test_uncommitted_partition_counts_from_log_start_with_earliest() -> None:
    (row,) = compute_lag("g", {T0: 100}, {}, {T0: 30}, "earliest")
    assert (row.committed, row.lag) == (None, 70)


def test_uncommitted_partition_has_no_lag_with_latest() -> None:
    (row,) = compute_lag("g", {T0: 100}, {}, {T0: 30}, "latest")
    assert row.lag == 0


def test_lag_is_never_negative() -> None:
    # the topic was recreated: the old committed offset is past the new end
    (row,) = compute_lag("g", {T0: 5}, {T0: 900}, {T0: 0}, "earliest")
    assert row.lag == 0


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_gauges_export_each_partition_and_drop_vanished_ones() -> None:
    registry = CollectorRegistry()
    gauges = LagGauges(LagExporterMetrics(registry))
    gauges.update(
        [
            PartitionLag("g", "events", 0, 40, 100, 60),
            PartitionLag("g", "events", 1, None, 8, 8),
        ],
        now=1234.0,
    )
    p0 = {"group": "g", "topic": "events", "partition": "0"}
    p1 = {"group": "g", "topic": "events", "partition": "1"}
    assert _value(registry, "flagstream_group_lag_messages", **p0) == 60
    assert _value(registry, "flagstream_group_committed_offset", **p0) == 40
    assert _value(registry, "flagstream_topic_end_offset", topic="events", partition="0") == 100
    assert _value(registry, "flagstream_group_lag_messages", **p1) == 8
    # never committed: no committed-offset series rather than a made-up value
    assert _value(registry, "flagstream_group_committed_offset", **p1) is None
    assert _value(registry, "flagstream_lag_exporter_last_success_timestamp_seconds") == 1234.0

    gauges.update([PartitionLag("g", "events", 0, 100, 100, 0)], now=1240.0)
    assert _value(registry, "flagstream_group_lag_messages", **p0) == 0
    assert _value(registry, "flagstream_group_lag_messages", **p1) is None
    assert _value(registry, "flagstream_topic_end_offset", topic="events", partition="1") is None


def test_admin_config_passes_sasl_password_unwrapped_only_to_the_client() -> None:
    settings = Settings(
        bootstrap="10.0.0.1:9093, 10.0.0.2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="flagstream",
        sasl_password=SecretStr("s3cret"),
    )
    config = admin_config(settings)
    assert config["bootstrap_servers"] == ["10.0.0.1:9093", "10.0.0.2:9093"]
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert config["sasl_plain_username"] == "flagstream"
    assert config["sasl_plain_password"] == "s3cret"


def test_admin_config_plaintext_has_no_sasl_keys() -> None:
    config = admin_config(Settings())
    assert not any(k.startswith("sasl") for k in config)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_poll_of_unreachable_brokers_raises_broker_error_naming_the_setting(
    closed_port: int,
) -> None:
    offsets = BrokerOffsets(
        {
            "bootstrap_servers": [f"127.0.0.1:{closed_port}"],
            "request_timeout_ms": 2000,
            "api_version_auto_timeout_ms": 2000,
        }
    )
    with pytest.raises(BrokerError, match="FLAGSTREAM_BOOTSTRAP"):
        offsets.poll(["g"], ["events"], "earliest")
    offsets.close()
