"""A flood of idle connections on the metrics port, against a real worker on the real broker.

The worker runs under a 1,024 open-file limit, as a container often does. Thousands of idle
connections must leave its thread and file-descriptor counts bounded, ``/healthz`` answering and
consumption going. Counts are printed for docs/runbook.md.
"""

from __future__ import annotations

import os
import resource
import socket
import time
import uuid
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from tests.support import WorkerProcess, metric_sum, start_worker, wait_until, worker_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

IDLE = 3_000
EVENTS = 2_000
# events before the thread count is taken: the worker's thread pools (the encoder tier's rows
# on encoder_workers cores, the tokenizer's) start with the first routed batch, not at start-up
WARMUP = 200
CAP = 64  # the default metrics_max_connections
HANG_S = 120.0


def _counts(pid: int) -> tuple[int, int]:
    """(threads, open file descriptors) of a process."""
    return len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd"))


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


def _produce(bootstrap: str, topic: str, ids: range) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    try:
        for i in ids:
            producer.send(topic, key=f"k{i}".encode(), value=_event(i))
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)


def _consumed(worker: WorkerProcess) -> float:
    return metric_sum(worker.metrics(), "flagstream_events_consumed_total")


def test_thousands_of_idle_connections_leave_the_worker_responsive(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"flood-{uuid.uuid4().hex[:8]}"
    env = {
        **worker_env(kafka_bootstrap, prefix),
    }
    worker = start_worker(env, tmp_path)
    pid = worker.process.pid
    idle: list[socket.socket] = []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        wait_until(lambda: worker.probe("/readyz") == 200, HANG_S, "/readyz 200")
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (1024, 1024))
        if soft < IDLE + 256:  # this process holds the idle connections
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE + 512), hard))
        _produce(kafka_bootstrap, env["FLAGSTREAM_INPUT_TOPIC"], range(EVENTS, EVENTS + WARMUP))
        wait_until(lambda: _consumed(worker) >= WARMUP, HANG_S, f"{WARMUP} events consumed")
        threads_before, fds_before = _counts(pid)
        host, port = worker.metrics_url.removeprefix("http://").split("/")[0].rsplit(":", 1)
        for _ in range(IDLE):
            sock = socket.create_connection((host, int(port)), timeout=10)
            idle.append(sock)
        time.sleep(2)  # let the server accept what is queued
        threads_during, fds_during = _counts(pid)
        print(
            f"\n{IDLE} idle connections: worker threads {threads_before} -> {threads_during}, "
            f"open fds {fds_before} -> {fds_during} (limit 1024)"
        )
        assert worker.probe("/healthz") == 200
        _produce(kafka_bootstrap, env["FLAGSTREAM_INPUT_TOPIC"], range(EVENTS))
        total = WARMUP + EVENTS
        wait_until(lambda: _consumed(worker) >= total, HANG_S, f"{total} events consumed")
        threads_after, fds_after = _counts(pid)
        print(f"after {EVENTS} events: threads {threads_after}, open fds {fds_after}")
        assert _consumed(worker) == WARMUP + EVENTS
        assert worker.alive()
        assert max(threads_during, threads_after) <= threads_before + 2
        assert max(fds_during, fds_after) <= fds_before + CAP + 16
    finally:
        for sock in idle:
            sock.close()
        code = worker.stop()
    assert code == 0, worker.log()[-3000:]
    assert "Too many open files" not in worker.log()
