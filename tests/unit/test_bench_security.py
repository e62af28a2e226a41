"""The benchmark's clients take the FLAGSTREAM_* security settings (no broker: the mappings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import BenchConfig
from bench.kafka import client_conf, librdkafka_security
from bench.measure import contender_env
from streams.kafka_clients import client_config
from streams.settings import load_settings

SASL_SSL = {
    "FLAGSTREAM_SECURITY_PROTOCOL": "SASL_SSL",
    "FLAGSTREAM_SASL_MECHANISM": "SCRAM-SHA-512",
    "FLAGSTREAM_SASL_USERNAME": "bench",
    "FLAGSTREAM_SASL_PASSWORD": "pw-of-the-bench",
    "FLAGSTREAM_SSL_CHECK_HOSTNAME": "0",
}


@pytest.fixture
def secure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SASL_SSL.items():
        monkeypatch.setenv(name, value)


def test_plaintext_adds_nothing() -> None:
    assert librdkafka_security(load_settings()) == {}
    assert client_conf("127.0.0.1:9092", **{"acks": "all"}) == {
        "bootstrap.servers": "127.0.0.1:9092",
        "acks": "all",
    }


@pytest.mark.usefixtures("secure_env")
def test_sasl_ssl_maps_to_librdkafka_and_aiokafka_names(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read by the mapping\n")
    settings = load_settings(ssl_ca_file=ca)
    assert librdkafka_security(settings) == {
        "security.protocol": "sasl_ssl",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "bench",
        "sasl.password": "pw-of-the-bench",
        "ssl.ca.location": str(ca),
        "ssl.endpoint.identification.algorithm": "none",
    }
    conf = client_config(load_settings(), "t")  # what the aiokafka contender passes
    assert conf["security_protocol"] == "SASL_SSL"
    assert conf["sasl_plain_password"] == "pw-of-the-bench"
    assert conf["ssl_context"].check_hostname is False


@pytest.mark.usefixtures("secure_env")
def test_contenders_inherit_the_security_settings_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLAGSTREAM_BATCH_MAX", "7")  # a setting of the user's shell: not passed
    cfg = BenchConfig(work_dir=tmp_path)
    env = contender_env(cfg, "in", "flagged", "dlq", "group", 60.0)
    for name, value in SASL_SSL.items():
        assert env[name] == value
    assert "FLAGSTREAM_BATCH_MAX" not in env
