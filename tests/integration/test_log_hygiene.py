"""A real worker at DEBUG on the real broker logs neither payloads (authors, texts) nor secrets."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from tests.support import metric_sum, read_topic, start_worker, wait_until, worker_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EVENTS = 60
AUTHOR_MARK = "author-mark-7f3a"
TEXT_MARK = "textmark9c2e"
SECRET_MARK = "key-password-5d81-secret"


def _event(i: int) -> bytes:
    harmful = i % 2 == 0
    text = (
        "verify your account now at http://x.co or it will be closed, click here"
        if harmful
        else "see you soon"
    )
    return orjson.dumps(
        {
            "event_id": f"evt-{i}",
            "type": "post",
            "created_at": "2026-11-24T15:38:45.123Z",
            "source": "tests",
            "author": {"id": f"{AUTHOR_MARK}-{i}"},
            "text": f"{text} {TEXT_MARK}",
        }
    )


def test_a_worker_at_debug_logs_no_payload_and_no_secret(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    prefix = f"loghyg-{uuid.uuid4().hex[:8]}"
    env = {
        **worker_env(kafka_bootstrap, prefix),
        "FLAGSTREAM_LOG_LEVEL": "DEBUG",
        # a secret the worker holds (unused over PLAINTEXT): it must not be logged either
        "FLAGSTREAM_SSL_KEY_PASSWORD": SECRET_MARK,
    }
    worker = start_worker(env, tmp_path)
    try:
        wait_until(lambda: worker.probe("/readyz") == 200, 120, "/readyz 200")
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=5)
        try:
            for i in range(EVENTS):
                producer.send(env["FLAGSTREAM_INPUT_TOPIC"], key=f"k{i}".encode(), value=_event(i))
            producer.flush(timeout=60)
        finally:
            producer.close(timeout=10)
        wait_until(
            lambda: metric_sum(worker.metrics(), "flagstream_events_consumed_total") >= EVENTS,
            120,
            f"{EVENTS} events consumed",
        )
    finally:
        code = worker.stop()
    assert code == 0
    flagged = read_topic(kafka_bootstrap, env["FLAGSTREAM_FLAGGED_TOPIC"])
    assert flagged, "no event was flagged: the payload never went through the producer"
    assert AUTHOR_MARK.encode() in flagged[0].value  # the payload the log must not show
    log = worker.log()
    assert log.count(" DEBUG ") + log.count("[DEBUG]") > 100  # DEBUG really was on
    for mark in (AUTHOR_MARK, TEXT_MARK, SECRET_MARK):
        assert mark not in log, f"{mark!r} in the DEBUG log"
