"""Secured clients against a real SASL_SSL broker started by deploy/local/kafka.

The test makes a throw-away CA and a broker certificate (tests/integration/tls.py); the broker's
SCRAM users are created when its storage is formatted. Every flagstream client (CLI, worker,
lag exporter) must connect with SCRAM-SHA-256 and -512 over TLS, and be refused, with exit 1 and
a message naming the cause but never the password, with a wrong password, without credentials
and with a certificate it does not trust.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from streams.kafka_clients import client_config, producer
from streams.settings import Settings, load_settings
from tests.integration.conftest import run_kafka_script
from tests.integration.tls import BrokerTls, make_broker_tls
from tests.support import FLAGSTREAM, REPO, free_port, metric_sum, start_worker, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

USER, PASSWORD = "moderator", "scram-pass-81f2-secret"
WRONG = "wrong-pass-5e77-secret"
EVENTS = 400


@dataclass(frozen=True)
class SecureBroker:
    bootstrap: str
    tls: BrokerTls

    def env(self, mechanism: str = "SCRAM-SHA-512", **extra: str) -> dict[str, str]:
        """FLAGSTREAM_* settings of a client of this broker."""
        return {
            "FLAGSTREAM_BOOTSTRAP": self.bootstrap,
            "FLAGSTREAM_SECURITY_PROTOCOL": "SASL_SSL",
            "FLAGSTREAM_SASL_MECHANISM": mechanism,
            "FLAGSTREAM_SASL_USERNAME": USER,
            "FLAGSTREAM_SASL_PASSWORD": PASSWORD,
            "FLAGSTREAM_SSL_CA_FILE": str(self.tls.ca_file),
            **extra,
        }


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    root = tmp_path_factory.mktemp("sasl-ssl")
    tls = make_broker_tls(root / "tls")
    env = {
        **os.environ,
        "FLAGSTREAM_KAFKA_PORT": str(free_port()),
        "FLAGSTREAM_KAFKA_CONTROLLER_PORT": str(free_port()),
        "FLAGSTREAM_KAFKA_DIR": str(root / "kafka"),
        "FLAGSTREAM_KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m",
        "FLAGSTREAM_KAFKA_START_TIMEOUT": "240",
        "FLAGSTREAM_KAFKA_SECURITY": "SASL_SSL",
        "FLAGSTREAM_KAFKA_TLS_KEYSTORE": str(tls.keystore),
        "FLAGSTREAM_KAFKA_TLS_TRUSTSTORE": str(tls.ca_file),
        "FLAGSTREAM_KAFKA_SCRAM_USERS": f"{USER}={PASSWORD}",
    }
    try:
        up = run_kafka_script("up", timeout=300, env=env)
        assert up.returncode == 0, up.stderr
        yield SecureBroker(up.stdout.strip().splitlines()[-1], tls)
    finally:  # also when it failed to start in time
        run_kafka_script("down", timeout=90, env=env)


def _cli(
    env: Mapping[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLAGSTREAM_SASL")}
    return subprocess.run(
        [*FLAGSTREAM, *args],
        env={**clean, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _topics(prefix: str) -> dict[str, str]:
    return {
        "FLAGSTREAM_INPUT_TOPIC": f"{prefix}.events",
        "FLAGSTREAM_FLAGGED_TOPIC": f"{prefix}.flagged",
        "FLAGSTREAM_DLQ_TOPIC": f"{prefix}.dlq",
    }


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_the_cli_connects_with_scram_over_tls(secure_broker: SecureBroker, mechanism: str) -> None:
    done = _cli({**secure_broker.env(mechanism), **_topics(f"ok-{uuid.uuid4().hex[:6]}")},
                "topics", "create", "--partitions", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(": created") == 3


@pytest.mark.parametrize(
    ("change", "cause"),
    [
        ({"FLAGSTREAM_SASL_PASSWORD": WRONG}, "refused the SASL credentials"),
        ({"FLAGSTREAM_SASL_USERNAME": "nobody"}, "refused the SASL credentials"),
        ({"FLAGSTREAM_SSL_CA_FILE": "other"}, "certificate is not trusted"),
        ({"FLAGSTREAM_SECURITY_PROTOCOL": "SSL"}, "FLAGSTREAM_SECURITY_PROTOCOL is the listener's"),
    ],
)
def test_wrong_credentials_and_untrusted_certificates_are_refused_naming_the_cause(
    secure_broker: SecureBroker, change: dict[str, str], cause: str
) -> None:
    if change.get("FLAGSTREAM_SSL_CA_FILE") == "other":
        change = {"FLAGSTREAM_SSL_CA_FILE": str(secure_broker.tls.other_ca_file)}
    done = _cli({**secure_broker.env(), **change}, "topics", "create")
    assert done.returncode == 1, done.stdout + done.stderr
    assert cause in done.stderr
    for secret in (PASSWORD, WRONG):
        assert secret not in done.stderr + done.stdout


def test_missing_credentials_are_refused_before_connecting(secure_broker: SecureBroker) -> None:
    env = secure_broker.env()
    del env["FLAGSTREAM_SASL_PASSWORD"]
    done = _cli(env, "topics", "create")
    assert done.returncode == 1
    assert "FLAGSTREAM_SASL_PASSWORD_FILE" in done.stderr  # the fix, not "start the broker"
    assert "deploy/local/kafka up" not in done.stderr


def test_the_worker_reconciles_over_sasl_ssl_with_the_password_from_a_file_at_debug(
    secure_broker: SecureBroker, tmp_path: Path
) -> None:
    prefix = f"tls-{uuid.uuid4().hex[:8]}"
    password_file = tmp_path / "sasl-password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")
    env = secure_broker.env(
        FLAGSTREAM_GROUP_ID=f"{prefix}-group",
        FLAGSTREAM_LOG_LEVEL="DEBUG",
        FLAGSTREAM_SASL_PASSWORD_FILE=str(password_file),
        **_topics(prefix),
    )
    del env["FLAGSTREAM_SASL_PASSWORD"]
    settings = load_settings(
        bootstrap=secure_broker.bootstrap,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=USER,
        sasl_password=PASSWORD,
        ssl_ca_file=secure_broker.tls.ca_file,
        input_topic=f"{prefix}.events",
        flagged_topic=f"{prefix}.flagged",
        dlq_topic=f"{prefix}.dlq",
    )
    created = _cli(env, "topics", "create", "--partitions", "2")
    assert created.returncode == 0, created.stderr
    worker = start_worker(env, tmp_path)
    try:
        wait_until(lambda: worker.probe("/readyz") == 200, 180, "/readyz 200 over SASL_SSL")
        send = producer(settings, "tests", linger_ms=5, acks="all")
        try:
            for i in range(EVENTS):
                bad = i % 50 == 0
                value = b"{not json" if bad else orjson.dumps({
                    "event_id": f"evt-{i}", "type": "post", "source": "tests",
                    "created_at": "2026-11-24T15:38:45.123Z", "author": {"id": f"u{i}"},
                    "text": "verify your account now at http://x.co or it will be closed, click here"
                    if i % 3 == 0 else "see you tomorrow at the station",
                })  # fmt: skip
                send.send(settings.input_topic, key=f"k{i}".encode(), value=value)
            send.flush(timeout=60)
        finally:
            send.close(timeout=10)

        def settled() -> float:  # decided or dead-lettered, acknowledged by the broker
            samples = worker.metrics()
            return metric_sum(samples, "flagstream_decisions_total") + metric_sum(
                samples, "flagstream_dead_letters_total"
            )

        wait_until(lambda: settled() >= EVENTS, 180, f"{EVENTS} events settled over TLS")
        samples = worker.metrics()
    finally:
        code = worker.stop()
    assert code == 0, worker.log()[-3000:]
    flagged = _read(settings, settings.flagged_topic)
    dead = _read(settings, settings.dlq_topic)
    decided = metric_sum(samples, "flagstream_decisions_total")
    allowed = metric_sum(samples, "flagstream_decisions_total", action="allow")
    assert metric_sum(samples, "flagstream_events_consumed_total") == EVENTS
    assert len(dead) == EVENTS // 50  # every undecodable event, byte for byte below
    assert all(record.value == b"{not json" for record in dead)
    assert decided == EVENTS - len(dead)
    assert len(flagged) == decided - allowed > 0
    log = worker.log()
    assert PASSWORD not in log
    assert "SaslHandshake" in log or "SASL" in log  # the exchange happened, at DEBUG


def _read(settings: Settings, topic: str) -> list[ConsumerRecord]:
    consumer = KafkaConsumer(
        **client_config(settings, "tests-reader"),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(parts)
        end = consumer.end_offsets(parts)
        records: list[ConsumerRecord] = []
        for _ in range(240):  # bounded: at most 240 polls of 0.5 s
            if all(consumer.position(tp) >= end[tp] for tp in parts):
                break
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def test_the_lag_exporter_polls_over_sasl_ssl(secure_broker: SecureBroker) -> None:
    prefix = f"lag-{uuid.uuid4().hex[:6]}"
    env = {**secure_broker.env("SCRAM-SHA-256"), **_topics(prefix)}
    assert _cli(env, "topics", "create", "--partitions", "1").returncode == 0
    done = _cli(env, "lag-exporter", "--listen", f"127.0.0.1:{free_port()}", "--max-polls", "2",
                "--interval", "1")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "lag poll" not in done.stderr  # no failed poll
    assert PASSWORD not in done.stderr + done.stdout


@pytest.mark.slow
def test_the_bench_runs_over_sasl_ssl(secure_broker: SecureBroker, tmp_path: Path) -> None:
    """The benchmark's harness (librdkafka) and each kind of contender's client (the worker,
    librdkafka, aiokafka, Faust, Quix) take the FLAGSTREAM_* security settings."""
    contenders = ["flagstream", "raw-librdkafka", "raw-transport", "faust-naive", "quixstreams"]
    done = _cli(
        secure_broker.env(),
        "bench", "--smoke", "--bootstrap", secure_broker.bootstrap, "--out", str(tmp_path),
        "--set", "accurate_model_path=none", *(a for c in contenders for a in ("-c", c)),
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    results = json.loads((tmp_path / "latest.json").read_text())
    assert list(results["contenders"]) == contenders
    n = results["run"]["events"]
    for name, c in results["contenders"].items():
        assert c["errors"] == [], name
        assert c["counts"]["committed"] == n, name
    assert PASSWORD not in done.stderr + done.stdout
