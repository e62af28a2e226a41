"""The worker's readiness probe: broker unreachable or input topic missing → /readyz 503."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams import agents
from streams.health import Readiness
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
