"""Publish: the messages flagstream writes, and sending a batch of them with broker acknowledgement.

Flagged events follow the CloudEvents 1.0 Kafka protocol binding in binary mode: the data is the
JSON payload of ``streams/schemas/flagged.v1.json``, the attributes are ``ce_*`` headers. Dead
letters keep the original key, value and headers byte for byte and add ``flagstream_*`` headers.
"""

from __future__ import annotations

import hashlib
import time
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
DLQ_ERROR_TYPE: Final = "flagstream_dlq_error_type"  # processing_error: the exception's class
DLQ_NULL_VALUE: Final = "flagstream_dlq_null_value"  # "1": the original had no key and no value
DLQ_ORIGINAL_SIZE: Final = "flagstream_original_size"  # too_large: bytes of key+value+headers
DLQ_ORIGINAL_SHA256: Final = "flagstream_original_sha256"  # too_large: sha256 of the value
DLQ_TRUNCATED: Final = "flagstream_dlq_truncated"  # too_large: "<kept>/<original>" value bytes
_DETAIL_MAX: Final = 512

#: header name prefixes only flagstream writes on its outputs; on input they are renamed
#: ``x-original-<name>`` (:func:`input_headers`), so a consumer can trust the ones it reads
RESERVED_PREFIXES: Final = ("flagstream_", "ce_")
RENAMED_PREFIX: Final = "x-original-"

# reasons the publishing side adds to the decoder's (streams.events)
TOO_LARGE: Final = "too_large"
PROCESSING_ERROR: Final = "processing_error"

#: an upper bound of what the Kafka record format adds around one record (varints, attributes,
#: timestamps) and its batch header: sizes compared with the producer's and the broker's limits
RECORD_OVERHEAD: Final = 128
HEADER_OVERHEAD: Final = 10
_KEY_KEEP: Final = 1024  # a too_large dead letter keeps at most this much of the original key

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
    """One record to produce; ``source`` is the consumed record it was made from."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    source: InMessage | None = None

    def size(self) -> int:
        """An upper bound of the record's size on the wire (what the size limits apply to)."""
        return record_size(self.key, self.value, self.headers)


def record_size(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> int:
    """An upper bound of one record's size as the producer and the broker count it."""
    size = RECORD_OVERHEAD + len(key or b"") + len(value or b"")
    for name, header_value in headers:
        size += HEADER_OVERHEAD + len(name) + len(header_value)
    return size


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
    return OutMessage(topic, key, orjson.dumps(payload), headers, src)


def input_headers(headers: Sequence[tuple[str, bytes]]) -> Headers:
    """The input record's headers as a dead letter keeps them: reserved names renamed.

    A producer could otherwise put its own ``flagstream_dlq_reason`` (or ``ce_type``) ahead of
    the real one; names are compared case-insensitively, values are kept byte for byte.
    """
    return [
        (RENAMED_PREFIX + name if name.lower().startswith(RESERVED_PREFIXES) else name, value)
        for name, value in headers
    ]


def _dlq_headers(src: InMessage, reason: str, detail: str, now_iso: str) -> Headers:
    return [
        (DLQ_REASON, reason.encode()),
        (DLQ_DETAIL, detail.encode("utf-8", "replace")[:_DETAIL_MAX]),
        (DLQ_TIME, now_iso.encode()),
        (DLQ_TOPIC, src.topic.encode()),
        (DLQ_PARTITION, str(src.partition).encode()),
        (DLQ_OFFSET, str(src.offset).encode()),
    ]


def dead_letter_message(
    topic: str,
    src: InMessage,
    reason: str,
    detail: str,
    now_iso: str,
    limit: int | None = None,
    extra: Headers | None = None,
) -> OutMessage:
    """The original record, byte for byte, with headers naming why and where it came from.

    A record with neither key nor value (Kafka cannot produce one) gets an empty value and
    ``flagstream_dlq_null_value: 1``. Past ``limit`` bytes the dead letter is
    :func:`too_large_message` instead.
    """
    headers = input_headers(src.headers)
    headers += _dlq_headers(src, reason, detail, now_iso)
    if extra:
        headers += extra
    value = src.value
    if value is None and src.key is None:
        value = b""
        headers.append((DLQ_NULL_VALUE, b"1"))
    out = OutMessage(topic, src.key, value, headers, src)
    if limit is not None and out.size() > limit:
        return too_large_message(topic, src, f"{reason}: {detail}", now_iso, limit)
    return out


def too_large_message(
    topic: str, src: InMessage, detail: str, now_iso: str, limit: int
) -> OutMessage:
    """A dead letter that fits in ``limit`` bytes for a record whose own would not.

    It keeps as much of the original value as fits (a prefix), the original headers if they
    leave room for a value, and the first 1 KiB of the key, and says so: reason ``too_large``,
    ``flagstream_original_size`` (key + value + headers), ``flagstream_original_sha256`` (of the
    value) and ``flagstream_dlq_truncated`` (``<kept>/<original>`` value bytes).
    """
    value = src.value or b""
    original = record_size(src.key, src.value, src.headers)
    key = src.key if src.key is None or len(src.key) <= _KEY_KEEP else src.key[:_KEY_KEEP]
    ours = _dlq_headers(src, TOO_LARGE, detail, now_iso)
    ours += [
        (DLQ_ORIGINAL_SIZE, str(original).encode()),
        (DLQ_ORIGINAL_SHA256, hashlib.sha256(value).hexdigest().encode()),
        (DLQ_TRUNCATED, f"{len(value):>10}/{len(value)}".encode()),  # rewritten below
    ]
    kept_headers = input_headers(src.headers)
    if record_size(key, b"", kept_headers + ours) > limit // 2:
        kept_headers = []  # the original headers alone are too large: keep ours only
    headers = kept_headers + ours
    room = max(limit - record_size(key, b"", headers), 0)
    kept = value[:room]
    headers[-1] = (DLQ_TRUNCATED, f"{len(kept)}/{len(value)}".encode())
    return OutMessage(topic, key, kept, headers, src)


def dlq_reason(out: OutMessage) -> str:
    """The ``flagstream_dlq_reason`` of a dead letter ("" for any other record)."""
    for name, value in reversed(out.headers):
        if name == DLQ_REASON:
            return value.decode()
    return ""


class DeadLetters:
    """Builds the dead letters decided after decoding (the batch runner's failures)."""

    def __init__(self, topic: str, limit: int) -> None:
        self.topic = topic
        self.limit = limit  # the largest record that may be published

    def processing_error(self, src: InMessage, exc: BaseException) -> OutMessage:
        """``src`` made processing raise ``exc``: the original, reason ``processing_error``."""
        return dead_letter_message(
            self.topic,
            src,
            PROCESSING_ERROR,
            f"{type(exc).__name__}: {exc}",
            utc_now_iso(time.time()),
            self.limit,
            [(DLQ_ERROR_TYPE, type(exc).__name__.encode())],
        )

    def too_large(self, out: OutMessage, exc: BaseException) -> OutMessage:
        """``out`` was refused for its size (``exc``): its source as a too_large dead letter."""
        if out.source is None:
            raise ValueError("too_large needs the record's source") from exc
        return too_large_message(
            self.topic,
            out.source,
            f"its {out.topic} record ({out.size()} bytes) was refused: {type(exc).__name__}: {exc}",
            utc_now_iso(time.time()),
            # the refusal says the real limit is below ours: leave a wide margin
            self.limit // 2,
        )
