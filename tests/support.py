"""Helpers shared by the tests: a worker process, metrics, topic reads, the events and campaign
records the networks tests produce and read."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

REPO = Path(__file__).resolve().parents[1]
FLAGSTREAM = [sys.executable, "-m", "streams.cli"]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(url: str) -> dict[str, float]:
    """Prometheus text exposition → {'name{labels}': value} (label order as exported)."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def metric_sum(samples: Mapping[str, float], name: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include ``labels``."""
    total = 0.0
    for key, value in samples.items():
        base, _, rest = key.partition("{")
        if base != name:
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += value
    return total


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.5
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    metrics_url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def metrics(self) -> dict[str, float]:
        return scrape(self.metrics_url)

    def probe(self, path: str) -> int:
        """HTTP status of a probe endpoint (/healthz, /readyz)."""
        url = self.metrics_url.removesuffix("/metrics") + path
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return exc.code

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM and wait: returns the exit code."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise AssertionError(
                f"worker ignored SIGTERM for {timeout}s; log:\n{self.log()[-3000:]}"
            ) from None


def worker_env(bootstrap: str, prefix: str) -> dict[str, str]:
    """A worker's broker, group and topics, all named after ``prefix`` (one test's own)."""
    return {
        "FLAGSTREAM_BOOTSTRAP": bootstrap,
        "FLAGSTREAM_GROUP_ID": f"{prefix}-group",
        "FLAGSTREAM_INPUT_TOPIC": f"{prefix}.events",
        "FLAGSTREAM_FLAGGED_TOPIC": f"{prefix}.flagged",
        "FLAGSTREAM_DLQ_TOPIC": f"{prefix}.dlq",
    }


def start_worker(env: Mapping[str, str], workdir: Path, name: str = "worker") -> WorkerProcess:
    """Run ``flagstream worker`` as a subprocess and wait until it serves metrics."""
    full_env = {
        **os.environ,
        "FLAGSTREAM_METRICS_ADDR": f"127.0.0.1:{free_port()}",
        "FLAGSTREAM_DATA_DIR": str(workdir / f"{name}-data"),
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    metrics_addr = full_env["FLAGSTREAM_METRICS_ADDR"]
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*FLAGSTREAM, "worker"],
            env=full_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    worker = WorkerProcess(process, f"http://{metrics_addr}/metrics", log_path)

    def serving() -> bool:
        if not worker.alive():
            raise AssertionError(
                f"worker exited with {process.returncode}:\n{worker.log()[-3000:]}"
            )
        try:
            worker.metrics()
        except OSError:
            return False
        return True

    wait_until(serving, 90, "the worker's metrics endpoint")
    return worker


def read_topic(bootstrap: str, topic: str, timeout: float = 60) -> list[ConsumerRecord]:
    """Every record in a topic, up to the end offsets at the time of the call."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise AssertionError(f"reading {topic} timed out with {len(records)} records")
            for batch in consumer.poll(timeout_ms=500, max_records=5000).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def utc_now() -> str:
    """Now as an event's ``created_at`` (RFC 3339, milliseconds, ``Z``)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_body(
    event_id: str, author: str, text: str, created_at: str | None = None, source: str = "tests"
) -> dict[str, Any]:
    """An ``event.v1`` post by ``author`` (``created_at`` now unless given)."""
    return {
        "event_id": event_id,
        "type": "post",
        "created_at": created_at or utc_now(),
        "source": source,
        "author": {"id": author},
        "text": text,
    }


def event_json(event_id: str, author: str, text: str, created_at: str | None = None) -> bytes:
    """:func:`event_body` as the bytes a producer sends."""
    return orjson.dumps(event_body(event_id, author, text, created_at))


def produce_events(bootstrap: str, topic: str, events: Sequence[tuple[str, str, str]]) -> None:
    """Produce ``(event_id, author, text)`` posts, each keyed by its event id (so the members of
    a campaign land on every input partition), and wait for the broker to have them all."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    try:
        for event_id, author, text in events:
            producer.send(topic, key=event_id.encode(), value=event_json(event_id, author, text))
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)


def campaign_records(bootstrap: str, topic: str) -> list[tuple[ConsumerRecord, dict[str, Any]]]:
    """Every record of a campaigns topic with its decoded data, in offset order per partition
    (a campaign's records share a partition: they are keyed by ``campaign_id``); none if the
    topic does not exist yet."""
    try:
        records = read_topic(bootstrap, topic, timeout=30)
    except AssertionError:
        return []
    return [(r, orjson.loads(r.value)) for r in records]


def latest_campaign(
    bootstrap: str, topic: str, kind: str, min_authors: int, member: str
) -> tuple[ConsumerRecord, dict[str, Any]] | None:
    """The latest record of the ``kind`` campaign that holds ``member``, once it has
    ``min_authors``."""
    found = [
        (r, c)
        for r, c in campaign_records(bootstrap, topic)
        if c["kind"] == kind and member in c["event_ids"] and c["author_count"] >= min_authors
    ]
    return found[-1] if found else None


#: a lottery scam as its authors vary it: a campaign of near duplicates (:func:`scam_text`)
SCAM = (
    "Congratulations {name}! You have won ${amount} in the {brand} lottery. Message our agent "
    "on WhatsApp today to claim your prize {emoji}"
)
_NAMES = ("John", "Mary", "Wei", "Ahmed", "Sofia", "Ken", "Olga", "Ravi")


def scam_text(rng: random.Random) -> str:
    """One author's variant of :data:`SCAM` (name, amount, brand, emoji drawn from ``rng``)."""
    return SCAM.format(
        name=rng.choice(_NAMES),
        amount=rng.randint(100, 99_999),
        brand=rng.choice(("Global", "Mega", "Lucky")),
        emoji=rng.choice(("🎉", "💰", "", "!!")),
    )
