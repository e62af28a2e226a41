"""The batch runner with a fake transport: ordering, partial failures, retries, revocation,
shutdown, per-event isolation. No broker, no Faust."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from streams.publish import (
    DLQ_ERROR_TYPE,
    DLQ_REASON,
    DeadLetters,
    InMessage,
    OutMessage,
    dlq_reason,
)
from streams.runner import (
    BatchRunner,
    BrokerUnavailableError,
    Completed,
    ProcessingBrokenError,
    RetryPolicy,
)

FAST_RETRY = RetryPolicy(timeout_s=30.0, first_backoff_s=0.001, max_backoff_s=0.002)
WAIT_S = 10.0  # bound on any wait in these tests; none should come near it


class TooLargeError(Exception):
    pass


class UnreachableError(Exception):
    pass


@dataclass
class Result:
    outputs: list[OutMessage]


@dataclass
class FakeTransport:
    """Records sends and acks; each send gets a future the test resolves (or fails)."""

    auto_ack: bool = True
    fail_sends: list[type[Exception]] = field(default_factory=list)  # raised by send, in turn
    fail_acks: list[type[Exception]] = field(default_factory=list)  # set on futures, in turn
    assigned: set[int] | None = None  # partitions assigned (None: all)
    sent: list[OutMessage] = field(default_factory=list)
    futures: list[asyncio.Future[Any]] = field(default_factory=list)
    acked: list[tuple[int, int]] = field(default_factory=list)  # (partition, offset)

    async def send(self, out: OutMessage) -> Awaitable[Any]:
        if self.fail_sends:
            raise self.fail_sends.pop(0)("send refused")
        self.sent.append(out)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        if self.fail_acks:
            future.set_exception(self.fail_acks.pop(0)("no acknowledgement"))
        elif self.auto_ack:
            future.set_result(None)
        return future

    def ack(self, messages: Sequence[InMessage]) -> None:
        self.acked += [
            (m.partition, m.offset)
            for m in messages
            if self.assigned is None or m.partition in self.assigned
        ]

    def too_large(self, exc: BaseException) -> bool:
        return isinstance(exc, TooLargeError)


def _msgs(start: int, n: int, partition: int = 0, value: bytes = b"ok") -> list[InMessage]:
    return [InMessage("events", partition, o, value) for o in range(start, start + n)]


def _echo(messages: Sequence[InMessage]) -> Result:
    """One flagged output per input; an input whose value is b"boom" makes the batch raise."""
    if any(m.value == b"boom" for m in messages):
        raise ZeroDivisionError("boom")
    return Result([OutMessage("flagged", b"k", m.value, [], m) for m in messages])


def _runner(
    transport: FakeTransport, **kwargs: Any
) -> tuple[BatchRunner[Result], list[Completed[Result]], list[str]]:
    completed: list[Completed[Result]] = []
    errors: list[str] = []
    kwargs.setdefault("retry", FAST_RETRY)
    runner: BatchRunner[Result] = BatchRunner(
        transport,
        kwargs.pop("process", _echo),
        DeadLetters("dlq", 1_000_000),
        on_completed=completed.append,
        on_error=errors.append,
        **kwargs,
    )
    return runner, completed, errors


def _run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, WAIT_S))


def test_batches_are_acked_in_order_once_every_output_is_acknowledged() -> None:
    async def scenario() -> list[list[tuple[int, int]]]:
        t = FakeTransport(auto_ack=False)
        runner, completed, _ = _runner(t)
        snapshots: list[list[tuple[int, int]]] = []
        await runner.handle(_msgs(0, 3))
        snapshots.append(list(t.acked))  # batch 1 sent, not acknowledged: nothing acked
        # returns once its outputs are sent (two batches in flight, under max_in_flight): no
        # fixed sleep waits for the worker thread, which a loaded machine can make slower
        await runner.handle(_msgs(3, 2))
        assert len(t.futures) == 5
        for f in t.futures[3:]:
            f.set_result(None)  # batch 2 acknowledged first ...
        await asyncio.sleep(0.05)
        snapshots.append(list(t.acked))  # ... but it waits for batch 1
        for f in t.futures[:3]:
            f.set_result(None)
        await runner.flush()
        snapshots.append(list(t.acked))
        assert [len(c.messages) for c in completed] == [3, 2]
        runner.close()
        return snapshots

    before, out_of_order, done = _run(scenario())
    assert before == []
    assert out_of_order == []
    assert done == [(0, o) for o in range(5)]


def test_an_unacknowledged_output_is_sent_again_and_the_batch_acked_once() -> None:
    async def scenario() -> tuple[FakeTransport, list[str], list[Completed[Result]]]:
        t = FakeTransport(fail_acks=[UnreachableError], fail_sends=[UnreachableError])
        runner, completed, errors = _runner(t)
        await runner.handle(_msgs(0, 3))
        await runner.flush()
        runner.close()
        return t, errors, completed

    t, errors, completed = _run(scenario())
    assert t.acked == [(0, 0), (0, 1), (0, 2)]
    assert sorted(o.source.offset for o in t.sent if o.source) == [0, 0, 1, 2]  # 0 twice
    assert errors == ["broker", "broker"]
    assert len(completed) == 1
    assert completed[0].extra_dead_letters == []


def test_a_record_refused_for_its_size_becomes_a_too_large_dead_letter() -> None:
    async def scenario() -> tuple[FakeTransport, list[Completed[Result]]]:
        t = FakeTransport(fail_acks=[TooLargeError])  # the broker refuses the first record
        runner, completed, _ = _runner(t)
        await runner.handle(_msgs(0, 2))
        await runner.flush()
        runner.close()
        return t, completed

    t, completed = _run(scenario())
    assert t.acked == [(0, 0), (0, 1)]
    replaced = completed[0].outputs[0]
    assert replaced.topic == "dlq"
    assert dlq_reason(replaced) == "too_large"
    assert completed[0].outputs[1].topic == "flagged"
    assert completed[0].extra_dead_letters == ["too_large"]


def test_an_event_that_breaks_processing_is_isolated_and_dead_lettered() -> None:
    async def scenario() -> tuple[FakeTransport, list[Completed[Result]], list[str]]:
        t = FakeTransport()
        runner, completed, errors = _runner(t, canary=_msgs(0, 1))
        batch = _msgs(0, 16)
        batch[5] = InMessage("events", 0, 5, b"boom")
        batch[11] = InMessage("events", 0, 11, b"boom")
        await runner.handle(batch)
        await runner.flush()
        runner.close()
        return t, completed, errors

    t, completed, errors = _run(scenario())
    assert t.acked == [(0, o) for o in range(16)]  # the partition moves on
    outputs = completed[0].outputs
    assert [o.source.offset for o in outputs if o.source] == list(range(16))  # in order
    dead = [o for o in outputs if o.topic == "dlq"]
    assert [o.source.offset for o in dead if o.source] == [5, 11]
    for letter in dead:
        headers = dict(letter.headers)
        assert headers[DLQ_REASON] == b"processing_error"
        assert headers[DLQ_ERROR_TYPE] == b"ZeroDivisionError"
        assert letter.value == b"boom"  # byte for byte
    assert completed[0].extra_dead_letters == ["processing_error"] * 2
    assert errors == ["processing", "processing"]
    assert sum(len(p.outputs) for p in completed[0].parts) == 14


def test_a_pipeline_that_fails_on_the_canary_too_stops_instead_of_dead_lettering() -> None:
    def broken(messages: Sequence[InMessage]) -> Result:
        raise RuntimeError("model session closed")

    async def scenario() -> FakeTransport:
        t = FakeTransport()
        runner, _, _ = _runner(t, process=broken, canary=_msgs(0, 1))
        with pytest.raises(ProcessingBrokenError, match="known-good"):
            await runner.handle(_msgs(0, 4))
        runner.close()
        return t

    t = _run(scenario())
    assert t.sent == []
    assert t.acked == []


def test_a_broker_that_never_acknowledges_fails_the_batch_after_the_timeout() -> None:
    async def scenario() -> FakeTransport:
        t = FakeTransport(fail_acks=[UnreachableError] * 10_000)
        retry = RetryPolicy(timeout_s=0.05, first_backoff_s=0.001, max_backoff_s=0.01)
        runner, completed, _ = _runner(t, retry=retry)
        await runner.handle(_msgs(0, 2))
        with pytest.raises(BrokerUnavailableError, match="UnreachableError"):
            await runner.flush()
        assert completed == []
        assert not runner.broker_ok
        runner.close()
        return t

    t = _run(scenario())
    assert t.acked == []


def test_records_of_a_revoked_partition_are_published_but_not_acked() -> None:
    async def scenario() -> FakeTransport:
        t = FakeTransport(auto_ack=False, assigned={0, 1})
        runner, completed, _ = _runner(t)
        await runner.handle(_msgs(0, 2, partition=0) + _msgs(0, 2, partition=1))
        t.assigned = {0}  # a rebalance takes partition 1 away while the batch is in flight
        for f in t.futures:
            f.set_result(None)
        await runner.flush()
        assert len(completed) == 1
        runner.close()
        return t

    t = _run(scenario())
    assert len(t.sent) == 4  # its new owner publishes them again: duplicates, not losses
    assert t.acked == [(0, 0), (0, 1)]


def test_stop_abandons_retries_and_acks_nothing() -> None:
    async def scenario() -> FakeTransport:
        t = FakeTransport(fail_acks=[UnreachableError] * 10_000)
        retry = RetryPolicy(timeout_s=3600, first_backoff_s=0.001, max_backoff_s=0.01)
        runner, _, _ = _runner(t, retry=retry)
        await runner.handle(_msgs(0, 2))
        await asyncio.sleep(0.05)  # retrying
        runner.stop()
        with pytest.raises(asyncio.CancelledError):
            await runner.flush()
        runner.close()
        return t

    t = _run(scenario())
    assert t.acked == []


def test_broker_recovery_is_reported() -> None:
    async def scenario() -> bool:
        t = FakeTransport(fail_acks=[UnreachableError, UnreachableError])
        runner, _, _ = _runner(t)
        await runner.handle(_msgs(0, 1))
        await runner.flush()
        runner.close()
        return runner.broker_ok

    assert _run(scenario()) is True


def test_up_to_max_in_flight_batches_await_the_broker_and_acks_stay_in_order() -> None:
    async def scenario() -> tuple[bool, bool, list[tuple[int, int]], list[tuple[int, int]]]:
        t = FakeTransport(auto_ack=False)
        runner, _, _ = _runner(t, max_in_flight=2)
        await runner.handle(_msgs(0, 1))  # both return with nothing acknowledged ...
        await runner.handle(_msgs(1, 1))
        third = asyncio.ensure_future(runner.handle(_msgs(2, 1)))  # ... the third waits
        await asyncio.sleep(0.05)
        third_waited = not third.done()
        t.futures[1].set_result(None)  # the second batch acknowledged first: not acked yet
        await asyncio.sleep(0.05)
        before_first = list(t.acked)
        t.futures[0].set_result(None)
        await asyncio.wait_for(third, WAIT_S)
        third_returned = third.done()
        t.futures[2].set_result(None)
        await runner.flush()
        runner.close()
        return third_waited, third_returned, before_first, t.acked

    third_waited, third_returned, before_first, acked = _run(scenario())
    assert third_waited
    assert third_returned
    assert before_first == []
    assert acked == [(0, 0), (0, 1), (0, 2)]


def test_a_batch_that_fails_fails_every_batch_in_flight_after_it() -> None:
    async def scenario() -> FakeTransport:
        t = FakeTransport(auto_ack=False)
        retry = RetryPolicy(timeout_s=0.05, first_backoff_s=0.001, max_backoff_s=0.01)
        runner, completed, _ = _runner(t, retry=retry, max_in_flight=3)
        await runner.handle(_msgs(0, 1))
        t.auto_ack = True
        await runner.handle(_msgs(1, 2))  # acknowledged at once, but it comes after batch 1
        assert all(f.done() and not f.exception() for f in t.futures[1:])
        t.fail_sends = [UnreachableError] * 10_000  # batch 1 is never taken again ...
        t.futures[0].set_exception(UnreachableError("no acknowledgement"))  # ... once it failed
        with pytest.raises(BrokerUnavailableError):
            await runner.flush()
        assert completed == []
        runner.close()
        return t

    t = _run(scenario())
    assert t.acked == []  # batch 2 neither: its offsets would commit past batch 1's


def test_max_in_flight_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        BatchRunner(FakeTransport(), _echo, DeadLetters("dlq", 1_000_000), max_in_flight=0)
