"""Dead letters never exceed the publish limit; the limit comes from producer and topics."""

from __future__ import annotations

import hashlib

import pytest

from streams.errors import ConfigError
from streams.publish import (
    DLQ_NULL_VALUE,
    DLQ_ORIGINAL_SHA256,
    DLQ_ORIGINAL_SIZE,
    DLQ_TRUNCATED,
    InMessage,
    dead_letter_message,
    dlq_reason,
    record_size,
    too_large_message,
)
from streams.settings import Settings
from streams.startup import publish_limit

NOW = "2026-11-24T15:38:45.123Z"


@pytest.mark.parametrize(
    ("key", "value", "headers"),
    [
        (b"k", b"x" * 2_000_000, ()),
        (b"k" * 500_000, b"x" * 10, ()),  # a huge key
        (None, b"x" * 900_000, (("h", b"y" * 600_000),)),  # huge original headers
        (b"k", None, ()),
    ],
)
def test_a_too_large_dead_letter_fits_and_says_what_it_dropped(
    key: bytes | None, value: bytes | None, headers: tuple[tuple[str, bytes], ...]
) -> None:
    src = InMessage("events", 3, 42, value, key, headers)
    limit = 1_000_000
    out = dead_letter_message("dlq", src, "oversized", "too big", NOW, limit)
    if record_size(key, value, headers) + 2_000 <= limit:
        return  # fits as it is
    assert out.size() <= limit
    assert dlq_reason(out) == "too_large"
    meta = dict(out.headers)
    original = value or b""
    assert meta[DLQ_ORIGINAL_SHA256] == hashlib.sha256(original).hexdigest().encode()
    assert int(meta[DLQ_ORIGINAL_SIZE]) >= len(original) + len(key or b"")
    assert original.startswith(out.value or b"")
    assert meta[DLQ_TRUNCATED] == f"{len(out.value or b'')}/{len(original)}".encode()
    assert meta["flagstream_source_offset"] == b"42"


def test_too_large_keeps_small_original_headers_and_key() -> None:
    src = InMessage("events", 0, 1, b"v" * 3_000_000, b"key", (("trace", b"abc"),))
    out = too_large_message("dlq", src, "oversized: 3000000 bytes", NOW, 1_000_000)
    assert out.key == b"key"
    assert out.headers[0] == ("trace", b"abc")
    assert 990_000 < len(out.value or b"") < 1_000_000  # as much as fits


def test_a_record_without_key_and_value_gets_an_empty_value_and_a_marker() -> None:
    out = dead_letter_message("dlq", InMessage("events", 0, 7, None, None), "tombstone", "", NOW)
    assert out.key is None
    assert out.value == b""
    assert (DLQ_NULL_VALUE, b"1") in out.headers
    keyed = dead_letter_message("dlq", InMessage("events", 0, 8, None, b"k"), "tombstone", "", NOW)
    assert keyed.value is None  # a keyed tombstone can be produced: byte for byte


def test_the_publish_limit_is_the_smallest_of_producer_and_topics() -> None:
    settings = Settings(producer_max_request_bytes=1_000_000)
    limit, notes = publish_limit(settings, {"events.flagged": 1_048_588, "events.dlq": 500_000})
    assert limit == 500_000
    assert len(notes) == 1
    assert "events.dlq" in notes[0]
    assert publish_limit(settings, {})[0] == 1_000_000


def test_events_that_cannot_fit_the_limit_stop_start_up_with_the_fix() -> None:
    settings = Settings(max_event_bytes=600_000)
    with pytest.raises(ConfigError, match="FLAGSTREAM_MAX_EVENT_BYTES"):
        publish_limit(settings, {"events.dlq": 600_000})
