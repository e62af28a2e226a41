"""Decode: raw Kafka message bytes → a validated event, or the reason it goes to the dead-letter topic.

The input contract is ``streams/schemas/event.v1.json``; it is compiled once with fastjsonschema so
the same file documents and enforces it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any, Final

import fastjsonschema
import orjson

EVENT_SCHEMA_FILE: Final = "event.v1.json"

# reasons: the values of the `reason` label of flagstream_dead_letters_total, and of the DLQ header
INVALID_UTF8: Final = "invalid_utf8"
INVALID_JSON: Final = "invalid_json"
SCHEMA: Final = "schema"
OVERSIZED: Final = "oversized"


@dataclass(frozen=True, slots=True)
class Event:
    """A decoded, valid event. ``body`` is the whole JSON object, extra fields included."""

    body: dict[str, Any]
    event_id: str
    text: str
    created_at: float  # unix seconds


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a message cannot be decided; it is dead-lettered with its original bytes."""

    reason: str
    detail: str


def load_schema(name: str) -> dict[str, Any]:
    """One of the JSON Schemas shipped in ``streams/schemas``."""
    text = resources.files("streams.schemas").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Any:
    return fastjsonschema.compile(load_schema(EVENT_SCHEMA_FILE))


class Decoder:
    """Turns message values into :class:`Event` or :class:`Rejected`. Stateless but for its limit."""

    __slots__ = ("_max_bytes", "_validate")

    def __init__(self, max_event_bytes: int) -> None:
        self._max_bytes = max_event_bytes
        self._validate = _validator()

    def decode(self, raw: bytes | None) -> Event | Rejected:
        if raw is None:
            return Rejected(INVALID_JSON, "message has no value (tombstone)")
        if len(raw) > self._max_bytes:
            return Rejected(
                OVERSIZED, f"{len(raw)} bytes is over max_event_bytes={self._max_bytes}"
            )
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as uexc:
                return Rejected(INVALID_UTF8, f"not UTF-8: {uexc.reason} at byte {uexc.start}")
            return Rejected(INVALID_JSON, f"not JSON: {exc}")
        if not isinstance(body, dict):
            return Rejected(SCHEMA, f"data must be a JSON object, got {type(body).__name__}")
        try:
            self._validate(body)
        except fastjsonschema.JsonSchemaValueException as exc:
            return Rejected(SCHEMA, exc.message)
        try:
            created = datetime.fromisoformat(body["created_at"]).timestamp()
        except ValueError as exc:  # the schema's date-time regex is looser than the calendar
            return Rejected(SCHEMA, f"data.created_at is not a valid RFC 3339 time: {exc}")
        return Event(body, body["event_id"], body["text"], created)
