"""Property-based fuzzing of decode → classify → decide → output records, with no broker.

Whatever the bytes, the pipeline (under the batch runner's per-event isolation) accounts for
every record exactly once: decided, or dead-lettered with a known reason; every dead letter is
the original byte for byte unless it had to be truncated (too_large) or had no key and value;
no output exceeds the publish limit; every flagged record is a JSON CloudEvent keyed by its
event_id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from functools import cache
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.metrics import DLQ_REASONS
from streams.pipeline import BatchResult, Pipeline
from streams.publish import DLQ_NULL_VALUE, InMessage, OutMessage, dlq_reason
from streams.runner import BatchRunner, Completed
from streams.settings import load_settings

LIMIT = 20_000  # small, so that large inputs meet it
MAX_EVENT_BYTES = 4_096


@cache
def _pipeline() -> Pipeline:
    pipeline = Pipeline.from_settings(load_settings(max_event_bytes=MAX_EVENT_BYTES))
    pipeline.publish_limit = LIMIT
    return pipeline


def _event(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": "e",
        "type": "post",
        "created_at": "2026-11-24T15:38:45.123Z",
        "source": "fuzz",
        "author": {"id": "u"},
        "text": text,
        **extra,
    }


_texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300
) | st.sampled_from(["", "\x00", "a\x00b", "free money \x00 http://x.co", "你好\x00世界"])
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | _texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_texts, children, max_size=4),
    max_leaves=20,
)


@st.composite
def _valid_events(draw: st.DrawFn) -> bytes:
    extra = draw(st.dictionaries(st.sampled_from(["lang", "x", "meta"]), _json_values, max_size=2))
    event = _event(draw(_texts), **extra)
    event["event_id"] = draw(st.text(min_size=1, max_size=20))
    return orjson.dumps(event)


def _nest(levels: int) -> bytes:
    return orjson.dumps(_event("deep"))[:-1] + b',"x":' + b"[" * levels + b"]" * levels + b"}"


_values = st.one_of(
    st.none(),
    st.binary(max_size=200),  # random bytes, invalid UTF-8, empty
    _valid_events(),
    _valid_events().flatmap(lambda raw: st.integers(0, len(raw)).map(lambda n: raw[:n])),
    st.integers(1, 400).map(_nest),
    st.sampled_from(
        [
            b'{"a": NaN}',
            b"1e400",
            b'{"text": "\\ud800"}',
            orjson.dumps(_event("x"))[:-1] + b',"n": 1' + b"0" * 400 + b"}",
            orjson.dumps(_event("big " * 7_000)),  # oversized, and its dead letter too large
            b"\xff\xfe" + b"x" * 10,
        ]
    ),
)
_keys = st.none() | st.binary(max_size=30)
_headers = st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=20)), max_size=2).map(tuple)


class _Immediate:
    """A transport whose broker acknowledges everything at once."""

    def __init__(self) -> None:
        self.acked = 0

    async def send(self, out: OutMessage) -> Awaitable[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def ack(self, messages: Sequence[InMessage]) -> None:
        self.acked += len(messages)

    def too_large(self, exc: BaseException) -> bool:
        return False


def _run_batch(messages: list[InMessage]) -> tuple[Completed[BatchResult], int]:
    pipeline = _pipeline()
    done: list[Completed[BatchResult]] = []
    transport = _Immediate()

    async def scenario() -> None:
        runner: BatchRunner[BatchResult] = BatchRunner(
            transport,
            pipeline.process,
            pipeline.dead_letters(),
            canary=pipeline.canary(),
            on_completed=done.append,
        )
        try:
            await runner.handle(messages)
            await runner.flush()
        finally:
            runner.close()

    asyncio.run(scenario())
    return done[0], transport.acked


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI never flakes on a new draw
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.tuples(_keys, _values, _headers), min_size=1, max_size=12))
def test_every_record_is_decided_or_dead_lettered_within_the_limits(
    records: list[tuple[bytes | None, bytes | None, tuple[tuple[str, bytes], ...]]],
) -> None:
    messages = [InMessage("events", 0, i, v, k, h) for i, (k, v, h) in enumerate(records)]
    completed, acked = _run_batch(messages)
    assert acked == len(messages)
    decided = sum(part.decided for part in completed.parts)
    dead = [o for o in completed.outputs if o.topic == "events.dlq"]
    flagged = [o for o in completed.outputs if o.topic == "events.flagged"]
    reasons = [dlq_reason(o) for o in dead]
    assert set(reasons) <= set(DLQ_REASONS), reasons
    # every record once: decided (flagged or allowed) or dead-lettered; a flagged record that
    # does not fit becomes a dead letter of a decided event, the only overlap
    too_large_flagged = sum(
        1
        for o in dead
        if dlq_reason(o) == "too_large"
        and b"flagged record" in dict(o.headers).get("flagstream_dlq_detail", b"")
    )
    assert decided + len(dead) - too_large_flagged == len(messages)
    for out in completed.outputs:
        assert out.size() <= LIMIT
    for out in dead:
        src = out.source
        assert src is not None
        if dlq_reason(out) == "too_large":
            assert (src.value or b"").startswith(out.value or b"")
        elif src.key is None and src.value is None:
            assert out.value == b""
            assert (DLQ_NULL_VALUE, b"1") in out.headers
        else:
            assert (out.key, out.value) == (src.key, src.value)  # byte for byte
    for out in flagged:
        payload = orjson.loads(out.value or b"")
        assert out.key == payload["event_id"].encode()
        assert dict(out.headers)["ce_id"].startswith(b"events-0-")
