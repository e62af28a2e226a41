"""Publish: the messages flagstream writes, and sending a batch of them with broker acknowledgement.

Flagged events follow the CloudEvents 1.0 Kafka protocol binding in binary mode: the data is the
JSON payload of ``streams/schemas/flagged.v1.json``, the attributes are ``ce_*`` headers. Dead
letters keep the original key, value and headers byte for byte and add ``flagstream_*`` headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

CE_SPECVERSION: Final = b"1.0"
CE_TYPE_FLAGGED: Final = b"io.flagstream.moderation.flagged.v1"
CE_DATASCHEMA: Final = b"urn:flagstream:schema:flagged:v1"
CONTENT_TYPE_JSON: Final = b"application/json"

# dead-letter headers (names are part of the documented output contract, docs/formats.md)
DLQ_REASON: Final = "flagstream_dlq_reason"
DLQ_DETAIL: Final = "flagstream_dlq_detail"
DLQ_TIME: Final = "flagstream_dlq_time"
DLQ_TOPIC: Final = "flagstream_source_topic"
DLQ_PARTITION: Final = "flagstream_source_partition"
DLQ_OFFSET: Final = "flagstream_source_offset"
_DETAIL_MAX: Final = 512

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class InMessage:
    """One consumed Kafka record, as the pipeline needs it."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One record to produce."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers


def utc_now_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def flagged_message(
    topic: str,
    source: bytes,
    src: InMessage,
    payload: dict[str, Any],
    processed_at: str,
) -> OutMessage:
    """The CloudEvent for one review/block decision, keyed by event_id.

    ``ce_id`` is the input record's topic-partition-offset: unique per decision and stable across
    redelivery, so consumers can drop the duplicates that at-least-once delivery allows.
    """
    event_id: str = payload["event_id"]
    key = event_id.encode()
    headers: Headers = [
        ("ce_specversion", CE_SPECVERSION),
        ("ce_id", f"{src.topic}-{src.partition}-{src.offset}".encode()),
        ("ce_source", source),
        ("ce_type", CE_TYPE_FLAGGED),
        ("ce_time", processed_at.encode()),
        ("ce_subject", key),
        ("ce_dataschema", CE_DATASCHEMA),
        ("content-type", CONTENT_TYPE_JSON),
    ]
    return OutMessage(topic, key, orjson.dumps(payload), headers)


def dead_letter_message(
    topic: str, src: InMessage, reason: str, detail: str, now_iso: str
) -> OutMessage:
    """The original record, byte for byte, with headers naming why and where it came from."""
    headers: Headers = list(src.headers)
    headers += [
        (DLQ_REASON, reason.encode()),
        (DLQ_DETAIL, detail[:_DETAIL_MAX].encode("utf-8", "replace")),
        (DLQ_TIME, now_iso.encode()),
        (DLQ_TOPIC, src.topic.encode()),
        (DLQ_PARTITION, str(src.partition).encode()),
        (DLQ_OFFSET, str(src.offset).encode()),
    ]
    return OutMessage(topic, src.key, src.value, headers)
