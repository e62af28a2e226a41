"""Reserved headers on input (flagstream_*, ce_*) are renamed x-original-*: outputs can be trusted."""

from __future__ import annotations

import orjson
import pytest

from streams.pipeline import Pipeline
from streams.publish import (
    DLQ_REASON,
    DeadLetters,
    InMessage,
    dead_letter_message,
    input_headers,
    too_large_message,
)
from streams.settings import load_settings

FORGED = (
    ("flagstream_dlq_reason", b"forged"),
    ("FLAGSTREAM_SOURCE_OFFSET", b"0"),
    ("ce_type", b"io.attacker.v1"),
    ("Ce_Id", b"events-0-0"),
    ("trace", b"t-1"),
    ("x-original-ce_type", b"already renamed upstream"),
)


def _names(headers: list[tuple[str, bytes]], prefix: str) -> list[str]:
    return [name for name, _ in headers if name.lower().startswith(prefix)]


def test_input_headers_rename_reserved_names_and_keep_values() -> None:
    assert input_headers(FORGED) == [
        ("x-original-flagstream_dlq_reason", b"forged"),
        ("x-original-FLAGSTREAM_SOURCE_OFFSET", b"0"),
        ("x-original-ce_type", b"io.attacker.v1"),
        ("x-original-Ce_Id", b"events-0-0"),
        ("trace", b"t-1"),
        ("x-original-ce_type", b"already renamed upstream"),
    ]


@pytest.mark.parametrize("kind", ["dead_letter", "too_large", "processing_error"])
def test_a_dead_letter_carries_only_flagstream_s_own_reserved_headers(kind: str) -> None:
    src = InMessage("events", 2, 7, b"not json" * 40, b"k", FORGED)
    if kind == "dead_letter":
        out = dead_letter_message("events.dlq", src, "invalid_json", "x", "2026-01-01T00:00:00Z")
    elif kind == "too_large":
        out = too_large_message("events.dlq", src, "big", "2026-01-01T00:00:00Z", limit=300_000)
    else:
        out = DeadLetters("events.dlq", 1_000_000).processing_error(src, ValueError("boom"))
    reasons = [value for name, value in out.headers if name == DLQ_REASON]
    assert reasons == [b"too_large" if kind == "too_large" else
                       b"processing_error" if kind == "processing_error" else b"invalid_json"]  # fmt: skip
    assert all(name.islower() for name in _names(out.headers, "flagstream_"))  # ours only
    assert _names(out.headers, "ce_") == []
    assert dict(out.headers)["x-original-flagstream_dlq_reason"] == b"forged"
    assert dict(out.headers)["trace"] == b"t-1"
    assert dict(out.headers)["flagstream_source_offset"] == b"7"


def test_the_pipeline_s_outputs_ignore_forged_headers() -> None:
    pipeline = Pipeline.from_settings(load_settings())
    flagged_event = orjson.dumps(
        {
            "event_id": "e-1",
            "type": "post",
            "created_at": "2026-11-24T15:38:45.123Z",
            "source": "tests",
            "author": {"id": "u1"},
            "text": "verify your account now at http://x.co or it will be closed, click here",
        }
    )
    messages = [
        InMessage("events", 0, 10, b"{bad json", None, FORGED),
        InMessage("events", 0, 11, flagged_event, b"e-1", FORGED),
    ]
    result = pipeline.process(messages)
    dead = [o for o in result.outputs if o.topic == pipeline.settings.dlq_topic]
    assert len(dead) == 1
    assert [v for n, v in dead[0].headers if n.lower() == DLQ_REASON] == [b"invalid_json"]
    flagged = [o for o in result.outputs if o.topic == pipeline.settings.flagged_topic]
    assert len(flagged) == 1  # the phishing text is flagged by the shipped model
    assert [v for n, v in flagged[0].headers if n.lower() == "ce_type"] == [
        b"io.flagstream.moderation.flagged.v1"
    ]
    assert [v for n, v in flagged[0].headers if n.lower() == "ce_id"] == [b"events-0-11"]
