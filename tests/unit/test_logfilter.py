"""Repeated log lines are let through once per interval, with a count of what was dropped."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaConfigurationError

from streams.cli.options import secret_values
from streams.kafka_clients import client_config
from streams.logfilter import Redactor, RepeatFilter, install_redaction, uninstall_redaction
from streams.settings import load_settings


def _record(msg: str, *args: object, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_storm_of_one_message_becomes_one_line_per_interval() -> None:
    repeat = RepeatFilter(interval_s=3600)
    passed = [
        repeat.filter(_record("Unable to connect to node %s: %r", i, "refused"))
        for i in range(1000)
    ]
    assert passed.count(True) == 1
    assert repeat.filter(_record("another message")) is True
    assert repeat.filter(_record("Unable to connect to node %s", 1, name="faust")) is True


def test_pre_formatted_messages_that_differ_only_in_numbers_count_as_one() -> None:
    repeat = RepeatFilter(interval_s=3600)
    assert repeat.filter(_record("fetch failed for partition 1 at offset 100")) is True
    assert repeat.filter(_record("fetch failed for partition 2 at offset 200")) is False


def test_the_next_line_let_through_says_how_many_were_dropped() -> None:
    repeat = RepeatFilter(interval_s=0.0)  # every line passes: nothing is dropped
    assert repeat.filter(_record("x %s", 1)) is True
    repeat.interval_s = 60
    # as if the line last passed two minutes ago and 41 were dropped since
    repeat._seen[("aiokafka", logging.ERROR, "x %s")] = (time.monotonic() - 120, 41)
    record = _record("x %s", 2)
    assert repeat.filter(record) is True
    assert "41 more like this" in record.getMessage()
    assert record.getMessage().startswith("x 2")


def test_one_record_passes_every_handler_it_is_shown_to() -> None:
    repeat = RepeatFilter(interval_s=3600)
    record = _record("shown to two handlers")
    assert repeat.filter(record) is True
    assert repeat.filter(record) is True  # the root's second handler
    assert repeat.filter(_record("shown to two handlers")) is False  # a repeat


# --- redaction ---


@pytest.fixture
def captured() -> Iterator[list[str]]:
    """Every line logged at DEBUG and above while redaction is installed, formatted."""
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    root = logging.getLogger()
    handler, level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        uninstall_redaction()


@pytest.mark.parametrize(
    ("line", "gone", "kept"),
    [
        ("Sending (key=b'e3' value=b'{\"text\": \"buy now\"}')", "buy now", "Sending (key="),
        ("Send: b'\\x00\\x01c=biws,r=abc'", "biws", "Send: "),
        ("{'sasl_plain_password': 'pw-4242', 'client_id': 'x'}", "pw-4242", "'client_id': 'x'"),
        ("password=pw-4242 user=bob", "pw-4242", "user=bob"),
        ("c=biws,r=fyko+d2lbbFgONRv9qkxdawL,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "fyko", "c=biws"),
        ('{"event_id": "e1", "author": {"id": "u42"}, "text": "hi \\" there"}', "u42", "e1"),
        ('{"event_id": "e1", "text": "hi \\" there"}', "there", '"event_id": "e1"'),
        ("the key is the-known-secret", "the-known-secret", "the key is"),
        ("offset=1234 partition=3 topic=events", "<redacted>", "offset=1234 partition=3"),
    ],
)
def test_redactor_removes_payloads_and_secrets(line: str, gone: str, kept: str) -> None:
    redacted = Redactor(["the-known-secret"]).redact(line)
    assert gone not in redacted
    assert kept in redacted


def test_redaction_applies_at_debug_to_every_logger_and_traceback(captured: list[str]) -> None:
    install_redaction(["pw-4242-secret"])
    logging.getLogger("aiokafka.producer").debug("Sending %s", {"value": b"author u42"})
    logging.getLogger("kafka.conn").debug("auth %s", "pw-4242-secret")
    try:
        raise ValueError("bad password=pw-4242-secret")
    except ValueError:
        logging.getLogger("faust").exception("failed with %r", b"payload")
    text = "\n".join(captured)
    assert len(captured) == 3
    assert "pw-4242-secret" not in text
    assert "u42" not in text
    assert "payload" not in text
    assert "ValueError: bad password=<redacted>" in text  # the traceback is kept, redacted


def test_kafka_admin_client_at_debug_does_not_log_the_sasl_password(
    captured: list[str],
) -> None:
    settings = load_settings(
        bootstrap="127.0.0.1:9",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",
        sasl_username="flagstream",
        sasl_password="pw-4242-in-the-admin-config",
    )
    install_redaction(secret_values(settings))
    # an unknown option: the client logs its configuration, then refuses before connecting
    with pytest.raises(KafkaConfigurationError):
        KafkaAdminClient(**client_config(settings, "t"), not_an_option=1)
    text = "\n".join(captured)
    assert "Starting KafkaAdminClient with configuration" in text  # the line that leaked it
    assert "pw-4242-in-the-admin-config" not in text


def test_without_redaction_the_same_lines_would_leak(captured: list[str]) -> None:
    """The leak the tests above guard against is real: with redaction off it shows."""
    logging.getLogger("kafka.admin").debug("config %s", {"sasl_plain_password": "pw-plain"})
    assert "pw-plain" in captured[-1]
