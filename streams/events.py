"""Decode: raw Kafka message bytes → a validated event, or the reason it goes to the dead-letter topic.

The input contract is ``streams/schemas/event.v1.json``; it is compiled once with fastjsonschema so
the same file documents and enforces it.
"""

from __future__ import annotations

import hashlib
import hmac
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
TOMBSTONE: Final = "tombstone"
TOO_DEEP: Final = "too_deep"

#: default deepest JSON nesting accepted (the top-level object is depth 1). The flagged output
#: nests the event one level further, and orjson refuses to serialise past 254 levels.
MAX_DEPTH: Final = 64


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

    __slots__ = ("_max_bytes", "_max_depth", "_validate")

    def __init__(self, max_event_bytes: int, max_depth: int = MAX_DEPTH) -> None:
        self._max_bytes = max_event_bytes
        self._max_depth = max_depth
        self._validate = _validator()

    def decode(self, raw: bytes | None) -> Event | Rejected:
        if raw is None:
            return Rejected(TOMBSTONE, "message has no value (a tombstone): nothing to classify")
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
        # a JSON value cannot nest deeper than it has brackets: two C-speed counts clear nearly
        # every event, and only bracket-heavy ones are walked
        if raw.count(b"{") + raw.count(b"[") > self._max_depth and (
            (depth := json_depth(body)) > self._max_depth
        ):
            return Rejected(
                TOO_DEEP, f"JSON nested {depth} levels deep, over the limit of {self._max_depth}"
            )
        try:
            self._validate(body)
        except fastjsonschema.JsonSchemaValueException as exc:
            return Rejected(SCHEMA, exc.message)
        try:
            created = datetime.fromisoformat(body["created_at"]).timestamp()
        except ValueError as exc:  # the schema's date-time regex is looser than the calendar
            return Rejected(SCHEMA, f"data.created_at is not a valid RFC 3339 time: {exc}")
        return Event(body, body["event_id"], body["text"], created)


def json_depth(value: Any) -> int:
    """Nesting depth of a decoded JSON value: a scalar is 0, ``{}`` and ``[]`` are 1.

    Iterative, so no depth can exhaust the interpreter's stack.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        for child in children:
            if isinstance(child, dict | list):
                push((child, depth))
    return deepest


#: what a pseudonymised ``author.id`` starts with, so consumers can tell it from a raw id
PSEUDONYM_PREFIX: Final = "hmac-sha256:"
MIN_PSEUDONYM_KEY_BYTES: Final = 16


class Pseudonyms:
    """Keyed pseudonyms: ``hmac-sha256:`` + hex HMAC-SHA256(key, value).

    The same key gives the same pseudonym for the same id, so repeat actors and campaigns stay
    linkable downstream; without the key a pseudonym cannot be reversed, nor guessed by hashing
    candidate ids (as a plain hash could).
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_PSEUDONYM_KEY_BYTES:
            raise ValueError(f"a pseudonym key needs at least {MIN_PSEUDONYM_KEY_BYTES} bytes")
        self._key = key

    def __call__(self, value: str) -> str:
        digest = hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256)
        return PSEUDONYM_PREFIX + digest.hexdigest()


class EmbeddedEvent:
    """What of the original event a flagged event carries.

    ``include``: field paths kept (``"text"``, ``"author"``, ``"author.id"``; None keeps every
    field); with ``pseudonyms``, ``author.id`` is replaced by its pseudonym. The event itself is
    never modified.
    """

    __slots__ = ("_include", "_pseudonyms")

    def __init__(
        self, include: tuple[str, ...] | None, pseudonyms: Pseudonyms | None = None
    ) -> None:
        self._include = None if include is None else [path.split(".") for path in include]
        self._pseudonyms = pseudonyms

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        kept = body if self._include is None else _select(body, self._include)
        if self._pseudonyms is not None:
            author = kept.get("author")
            if isinstance(author, dict) and isinstance(author.get("id"), str):
                kept = {**kept, "author": {**author, "id": self._pseudonyms(author["id"])}}
        return kept


def _select(body: dict[str, Any], paths: list[list[str]]) -> dict[str, Any]:
    """The fields of ``body`` named by ``paths`` (dotted, split), nested as in ``body``."""
    kept: dict[str, Any] = {}
    for path in paths:
        source: Any = body
        for part in path:
            if not isinstance(source, dict) or part not in source:
                break
            source = source[part]
        else:
            target = kept
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = source
    return kept
