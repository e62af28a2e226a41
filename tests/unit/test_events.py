"""Decoding: every malformed input gets a named reason; valid events pass through untouched."""

from __future__ import annotations

import jsonschema
import orjson
import pytest

from streams.events import (
    INVALID_JSON,
    INVALID_UTF8,
    OVERSIZED,
    SCHEMA,
    TOMBSTONE,
    TOO_DEEP,
    Decoder,
    Event,
    Rejected,
    json_depth,
    load_schema,
)

VALID = {
    "event_id": "e1",
    "type": "post",
    "created_at": "2026-11-24T10:00:00.250Z",
    "source": "web",
    "author": {"id": "u1", "handle": "someone"},
    "text": "hello 你好",
    "lang": "en",
    "extra": {"kept": True},
}


def _nested(levels: int) -> object:
    value: object = "x"
    for _ in range(levels):
        value = [value]
    return value


def encode(**changes: object) -> bytes:
    body: dict[str, object] = dict(VALID)
    for key, value in changes.items():
        if value is ...:
            del body[key]
        else:
            body[key] = value
    return orjson.dumps(body)


@pytest.fixture
def decoder() -> Decoder:
    return Decoder(max_event_bytes=4096)


def test_valid_event_keeps_every_field(decoder: Decoder) -> None:
    result = decoder.decode(encode())
    assert isinstance(result, Event)
    assert result.body == VALID
    assert result.event_id == "e1"
    assert result.text == "hello 你好"
    assert result.created_at == pytest.approx(1795514400.25)


@pytest.mark.parametrize(
    ("raw", "reason", "detail_part"),
    [
        (b"\xff\xfe{}", INVALID_UTF8, "not UTF-8"),
        (encode().replace(b"hello", b"hel\xc3(lo"), INVALID_UTF8, "not UTF-8"),
        (b'{"event_id": "e1",', INVALID_JSON, "not JSON"),
        (b"", INVALID_JSON, "not JSON"),
        (None, TOMBSTONE, "tombstone"),
        (encode(extra=_nested(65)), TOO_DEEP, "nested 66 levels"),
        (b'{"a":' * 300 + b"1" + b"}" * 300, TOO_DEEP, "over the limit of 64"),
        (b"[1, 2]", SCHEMA, "JSON object"),
        (b'"text"', SCHEMA, "JSON object"),
        (encode(created_at=...), SCHEMA, "created_at"),
        (encode(text=5), SCHEMA, "text"),
        (encode(author={"id": 7}), SCHEMA, "author.id"),
        (encode(author="u1"), SCHEMA, "author"),
        (encode(event_id=""), SCHEMA, "event_id"),
        (encode(type="Not A Type"), SCHEMA, "type"),
        (encode(created_at="yesterday"), SCHEMA, "created_at"),
        (encode(created_at="2026-02-30T10:00:00Z"), SCHEMA, "created_at"),
        (encode(text="x" * 5000), OVERSIZED, "max_event_bytes=4096"),
    ],
)
def test_malformed_inputs_are_rejected_with_reason(
    decoder: Decoder, raw: bytes | None, reason: str, detail_part: str
) -> None:
    result = decoder.decode(raw)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert detail_part in result.detail


def test_decoder_agrees_with_the_reference_validator() -> None:
    """fastjsonschema (hot path) and jsonschema (reference) read the shipped schema alike."""
    schema = load_schema("event.v1.json")
    jsonschema.Draft7Validator.check_schema(schema)
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    decoder = Decoder(65536)
    cases = [
        encode(),
        encode(lang=...),
        encode(text=5),
        encode(author={}),
        encode(source=...),
        encode(type="comment"),
    ]
    for raw in cases:
        reference_ok = validator.is_valid(orjson.loads(raw))
        assert isinstance(decoder.decode(raw), Event) == reference_ok, raw


def test_nesting_up_to_the_limit_is_accepted_and_bracket_text_costs_no_walk(
    decoder: Decoder,
) -> None:
    assert isinstance(decoder.decode(encode(extra=_nested(63))), Event)  # 64 with the object
    assert isinstance(decoder.decode(encode(text="[" * 500 + "{" * 500)), Event)  # flat
    assert json_depth({"a": [{"b": []}], "c": 1}) == 4
    assert json_depth("scalar") == 0
    assert json_depth(_nested(100_000)) == 100_000  # iterative: no recursion limit
