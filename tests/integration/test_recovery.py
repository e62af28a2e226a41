"""Bounded recovery, on real brokers: an outage, a missing input topic, kill -9 and restart.

The outage runs on a private broker of its own (other tests share the session's broker), started
and stopped with deploy/local/kafka on free ports. Durations are printed for
docs/operations.md, never asserted: the asserted bounds are several times the design's, so a
noisy machine cannot fail them, while a hang still does.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.settings import Settings
from tests.integration.conftest import run_kafka_script
from tests.support import WorkerProcess, metric_sum, start_worker, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

HANG_S = 60.0  # any wait here that takes this long is a hang, whatever the machine


def _event(i: int) -> bytes:
    return orjson.dumps(
        {
            "event_id": f"evt-{i}",
            "type": "post",
            "created_at": "2026-11-24T15:38:45.123Z",
            "source": "tests",
            "author": {"id": "u1"},
            "text": "see you tomorrow" if i % 3 else "verify your account at http://x.co now",
        }
    )


def _produce(bootstrap: str, topic: str, start: int, count: int) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    try:
        for i in range(start, start + count):
            producer.send(topic, key=f"k{i}".encode(), value=_event(i))
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)


def _consumed(worker: WorkerProcess) -> float:
    return metric_sum(worker.metrics(), "flagstream_events_consumed_total")


def _env(bootstrap: str, prefix: str, **extra: str) -> dict[str, str]:
    return {
        "FLAGSTREAM_BOOTSTRAP": bootstrap,
        "FLAGSTREAM_GROUP_ID": f"{prefix}-group",
        "FLAGSTREAM_INPUT_TOPIC": f"{prefix}.events",
        "FLAGSTREAM_FLAGGED_TOPIC": f"{prefix}.flagged",
        "FLAGSTREAM_DLQ_TOPIC": f"{prefix}.dlq",
        **extra,
    }


def test_broker_outage_backs_off_reports_not_ready_resumes_and_sigterm_is_bounded(
    private_broker: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    bootstrap, broker_env = private_broker
    prefix = f"outage-{uuid.uuid4().hex[:8]}"
    # the give-up bound (broker_retry_timeout_s) is the runner unit tests': here the outage,
    # restart included, may take minutes on a loaded machine
    env = _env(bootstrap, prefix, FLAGSTREAM_BATCH_MAX="8", FLAGSTREAM_BROKER_RETRY_TIMEOUT_S="900")
    worker = start_worker(env, tmp_path)
    try:
        wait_until(lambda: worker.probe("/readyz") == 200, HANG_S, "/readyz 200 (topics created)")
        _produce(bootstrap, env["FLAGSTREAM_INPUT_TOPIC"], 0, 3_000)
        wait_until(lambda: _consumed(worker) > 0, HANG_S, "the first batches")

        down = run_kafka_script("down", timeout=90, env=broker_env)  # the outage, mid-stream
        assert down.returncode == 0, down.stderr
        outage_started = time.monotonic()
        wait_until(lambda: worker.probe("/readyz") == 503, HANG_S, "/readyz 503 in the outage")
        not_ready_s = time.monotonic() - outage_started
        log_before = len(worker.log().splitlines())
        cpu_before = _cpu_seconds(worker)
        time.sleep(10)  # what a busy worker does during ten seconds of outage
        lines_per_s = (len(worker.log().splitlines()) - log_before) / 10
        cpu_share = (_cpu_seconds(worker) - cpu_before) / 10
        assert worker.alive(), worker.log()[-3000:]
        assert worker.probe("/healthz") == 200  # alive: not a reason to restart it

        up = run_kafka_script("up", timeout=300, env=broker_env)
        assert up.returncode == 0, up.stderr
        resumed_at = time.monotonic()
        wait_until(lambda: worker.probe("/readyz") == 200, 120, "/readyz 200 after the outage")
        ready_again_s = time.monotonic() - resumed_at
        wait_until(lambda: _consumed(worker) >= 3_000, 300, "every event consumed")

        run_kafka_script("down", timeout=90, env=broker_env)  # gone for good, then SIGTERM
        wait_until(lambda: worker.probe("/readyz") == 503, HANG_S, "/readyz 503")
        stop_started = time.monotonic()
        code = worker.stop(timeout=HANG_S)
        sigterm_s = time.monotonic() - stop_started
    finally:
        if worker.alive():
            worker.process.kill()
    assert code == 0, worker.log()[-3000:]
    assert lines_per_s < 50, worker.log()[-3000:]  # it was ~8,300/s before the fix
    print(
        f"\noutage: /readyz 503 after {not_ready_s:.1f} s; {lines_per_s:.1f} log lines/s and "
        f"{cpu_share:.0%} of a core during the outage; /readyz 200 {ready_again_s:.1f} s after "
        f"the broker was back; SIGTERM with the broker gone: exit {code} in {sigterm_s:.1f} s"
    )


def _cpu_seconds(worker: WorkerProcess) -> float:
    fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_missing_input_topic_is_picked_up_once_it_exists(
    kafka_bootstrap: str, kafka_admin: KafkaAdminClient, tmp_path: Path
) -> None:
    """The worker starts before its input topic exists (and may not create it): it consumes the
    topic's events within seconds of the topic appearing, not after Faust's five-minute
    metadata refresh. (The local broker auto-creates topics a client asks for, so /readyz is
    not asserted here: tests/unit/test_agents_probe.py covers it.)"""
    prefix = f"missing-{uuid.uuid4().hex[:8]}"
    env = _env(kafka_bootstrap, prefix, FLAGSTREAM_CREATE_MISSING_TOPICS="0")
    kafka_admin.create_topics([NewTopic(f"{prefix}.{t}", 1, 1) for t in ("flagged", "dlq")])
    worker = start_worker(env, tmp_path)
    try:
        wait_until(lambda: worker.probe("/healthz") == 200, HANG_S, "/healthz")
        source = env["FLAGSTREAM_INPUT_TOPIC"]
        with contextlib.suppress(TopicAlreadyExistsError):  # auto-created by a metadata request
            kafka_admin.create_topics([NewTopic(source, 2, 1)])
        created = time.monotonic()
        _produce(kafka_bootstrap, source, 0, 100)
        wait_until(lambda: _consumed(worker) >= 100, 120, "the new topic's events consumed")
        picked_up_s = time.monotonic() - created
        wait_until(lambda: worker.probe("/readyz") == 200, HANG_S, "/readyz 200")
    finally:
        assert worker.stop() == 0, worker.log()[-3000:]
    print(f"\nmissing input topic: consumed {picked_up_s:.1f} s after it was created")


@pytest.mark.parametrize("static", [True, False], ids=["static-membership", "session-timeout"])
def test_a_killed_worker_restarted_gets_its_partitions_back(
    kafka_bootstrap: str, tmp_path: Path, static: bool
) -> None:
    prefix = f"kill-{uuid.uuid4().hex[:8]}"
    extra = {"FLAGSTREAM_GROUP_INSTANCE_ID": f"{prefix}-w0"} if static else {}
    env = _env(kafka_bootstrap, prefix, **extra)
    first = start_worker(env, tmp_path, "first")
    try:
        wait_until(lambda: first.probe("/readyz") == 200, HANG_S, "/readyz 200")
        _produce(kafka_bootstrap, env["FLAGSTREAM_INPUT_TOPIC"], 0, 200)
        wait_until(lambda: _consumed(first) >= 200, HANG_S, "the first worker's events")
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(30)
    killed = time.monotonic()
    second = start_worker(env, tmp_path, "second")  # as a supervisor would, at once
    try:
        serving_s = time.monotonic() - killed  # the restarted process serves: model loaded
        _produce(kafka_bootstrap, env["FLAGSTREAM_INPUT_TOPIC"], 200, 200)
        wait_until(lambda: _consumed(second) > 0, 120, "the restarted worker consuming")
        resumed_s = time.monotonic() - killed
    finally:
        assert second.stop() == 0, second.log()[-3000:]
    session_s = Settings.model_fields["session_timeout_s"].default
    how = "static membership" if static else f"dynamic membership, session timeout {session_s:g} s"
    print(
        f"\nkill -9 and restart ({how}): restarted process serving {serving_s:.1f} s after the "
        f"kill, consuming again {resumed_s:.1f} s after the kill"
    )
