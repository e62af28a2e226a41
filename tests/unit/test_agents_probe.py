"""The Faust side of the worker: the readiness probe (broker unreachable, input topic missing),
the transport's reading of producer errors, offsets grouped by partition."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, RecordTooLargeError
from faust.exceptions import ProducerSendError

from streams import agents
from streams.health import Readiness
from streams.publish import InMessage
from streams.settings import Settings


class _Metadata:
    def __init__(self, topics: set[str]) -> None:
        self._topics = topics

    def topics(self) -> set[str]:
        return self._topics


class _Client:
    def __init__(self, topics: set[str] | None) -> None:
        self._topics = topics

    async def fetch_all_metadata(self) -> _Metadata:
        if self._topics is None:
            raise ConnectionError("Unable to get cluster metadata over all known brokers")
        return _Metadata(self._topics)


@pytest.mark.parametrize(
    ("topics", "reasons"),
    [
        (None, {"broker"}),
        ({"events.flagged"}, {"input_topic"}),
        ({"events", "events.flagged"}, set()),
    ],
)
def test_probe_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, topics: set[str] | None, reasons: set[str]
) -> None:
    monkeypatch.setattr(agents.faust_internals, "producer_client", lambda app: _Client(topics))
    readiness = Readiness()
    readiness.not_ready("broker", "from an earlier probe")
    app: Any = object()
    asyncio.run(agents._probe(app, Settings(), readiness))
    assert set(readiness.reasons()) == reasons
    if "input_topic" in reasons:
        assert "FLAGSTREAM_CREATE_MISSING_TOPICS" in readiness.reasons()["input_topic"]


def _raised_from(outer: type[Exception], inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer("wrapped") from exc
    except BaseException as wrapped:
        return wrapped


def test_the_faust_transport_tells_size_refusals_from_broker_failures() -> None:
    app: Any = object()
    transport = agents.FaustTransport(app)
    assert transport.too_large(_raised_from(ProducerSendError, MessageSizeTooLargeError()))
    assert transport.too_large(RecordTooLargeError())
    assert not transport.too_large(_raised_from(ProducerSendError, KafkaTimeoutError()))
    assert not transport.too_large(ValueError("x"))


def test_offsets_are_grouped_by_partition_in_order() -> None:
    messages = [InMessage("t", p, o, b"") for p, o in ((0, 1), (0, 2), (1, 7), (0, 3))]
    grouped = agents.offsets_by_partition(messages)
    assert {(tp.topic, tp.partition): offs for tp, offs in grouped.items()} == {
        ("t", 0): [1, 2, 3],
        ("t", 1): [7],
    }
