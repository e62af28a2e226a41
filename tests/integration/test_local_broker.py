"""deploy/local/kafka and the broker it runs: idempotent start, status, a real round trip."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.support import free_port

KafkaScript = Callable[..., subprocess.CompletedProcess[str]]

# the version deploy/local/kafka starts: its default, or the one CI's second run asks for
KAFKA_VERSION = os.environ.get("FLAGSTREAM_KAFKA_VERSION", "3.9.1")


def test_up_again_reuses_the_running_broker(
    kafka_bootstrap: str, kafka_script: KafkaScript
) -> None:
    for _ in range(2):
        up = kafka_script("up", timeout=60)
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == kafka_bootstrap
        assert "already running" in up.stderr


def test_status_reports_the_running_broker(kafka_bootstrap: str, kafka_script: KafkaScript) -> None:
    status = kafka_script("status", timeout=30)
    assert status.returncode == 0, status.stdout + status.stderr
    assert status.stdout.startswith("running: pid ")
    assert f"Apache Kafka {KAFKA_VERSION}" in status.stdout
    assert f"bootstrap {kafka_bootstrap}" in status.stdout


def test_status_and_down_see_through_a_stale_pid_file(
    tmp_path: Path, kafka_script: KafkaScript
) -> None:
    # the pid of a live process that is not a broker: this test's own
    pid_file = tmp_path / "kafka.pid"
    pid_file.write_text(f"{os.getpid()}\n")
    env = {**os.environ, "FLAGSTREAM_KAFKA_DIR": str(tmp_path)}

    status = kafka_script("status", timeout=30, env=env)
    assert status.returncode == 3
    assert status.stdout.startswith("not running (stale pid file")

    down = kafka_script("down", timeout=30, env=env)
    assert down.returncode == 0, down.stderr
    assert not pid_file.exists()
    assert kafka_script("status", timeout=30, env=env).stdout == "not running\n"


def test_produce_and_consume_round_trip(
    kafka_bootstrap: str, new_topics: Callable[..., list[str]]
) -> None:
    (topic,) = new_topics(partitions=2)
    sent = {p: [f"event-{p}-{i}".encode() for i in range(25)] for p in (0, 1)}

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    try:
        for partition, values in sent.items():
            for value in values:
                producer.send(topic, value=value, partition=partition)
        producer.flush(timeout=15)
    finally:
        producer.close(timeout=5)

    received: dict[int, list[bytes]] = {p: [] for p in sent}
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        consumer.assign([TopicPartition(topic, p) for p in sent])
        deadline = time.monotonic() + 20
        while sum(map(len, received.values())) < 50 and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                received[tp.partition].extend(r.value for r in records)
    finally:
        consumer.close()

    # order within a partition is what Kafka guarantees; check it, not just the set
    assert received == sent


def _script_env(tmp_path: Path, version: str) -> dict[str, str]:
    return {
        **os.environ,
        "FLAGSTREAM_KAFKA_DIR": str(tmp_path),
        "FLAGSTREAM_KAFKA_VERSION": version,
        "FLAGSTREAM_KAFKA_PORT": str(free_port()),
        "FLAGSTREAM_KAFKA_CONTROLLER_PORT": str(free_port()),
    }


def test_up_refuses_a_version_outside_the_supported_lines(
    tmp_path: Path, kafka_script: KafkaScript
) -> None:
    up = kafka_script("up", timeout=30, env=_script_env(tmp_path, "3.8.1"))
    assert up.returncode == 1
    assert (
        "FLAGSTREAM_KAFKA_VERSION=3.8.1 is not supported: use a 3.9.x or 4.x release" in up.stderr
    )
    assert not (tmp_path / "kafka.pid").exists()


def test_up_refuses_data_formatted_by_another_version(
    tmp_path: Path, kafka_script: KafkaScript
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "meta.properties").write_text("node.id=1\n")
    (data / ".flagstream-kafka-version").write_text("4.4.0\n")
    up = kafka_script("up", timeout=30, env=_script_env(tmp_path, "3.9.1"))
    assert up.returncode == 1
    assert "holds Kafka 4.4.0 data, not 3.9.1: set FLAGSTREAM_KAFKA_DIR" in up.stderr
    assert not (tmp_path / "kafka.pid").exists()
