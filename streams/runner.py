"""The batch runner: at-least-once delivery of each batch's outputs, whatever the Kafka client.

Per batch: process it (decode, classify, decide, build records) in a worker thread, hand every
output to the transport, and once the broker has acknowledged all of them, ack the batch's input
records to the transport (which may then commit their offsets). Batches are acked strictly in the
order they were handed in; while up to ``max_in_flight`` of them wait for the broker, the next
one is processed.

What can go wrong, and what happens:

- **An event breaks processing** (an exception in classification, policy or serialisation): the
  batch is split in halves until the failing events stand alone; each is dead-lettered as
  ``processing_error`` with the exception's class in a header, the rest of the batch is
  published as usual, the partition moves on. Before splitting, a known-good *canary* event is
  processed: if it fails too, the fault is not the events' (a broken model, say), and the runner
  raises :class:`ProcessingBrokenError` instead of dead-lettering everything.
- **A record is too large** for the producer or the topic: its event is dead-lettered as
  ``too_large`` with a truncated value that fits.
- **The broker does not acknowledge** (unreachable, leader moves, timeouts): the record is sent
  again with exponential backoff; after ``retry_timeout_s`` of failure the runner raises
  :class:`BrokerUnavailableError` naming the last error. Nothing of the batch is acked.
- **Shutdown** (:meth:`BatchRunner.stop`): retries stop at once; a batch not yet acknowledged is
  not acked, so it is consumed again after the restart.

The transport (:class:`Transport`) is the only client-specific part: the Faust worker
(``streams.agents``) and the benchmark's raw aiokafka loop (``bench/contenders/raw_loop.py``)
each bring one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from streams.errors import FlagstreamError
from streams.publish import InMessage, OutMessage

log = logging.getLogger(__name__)


#: batches whose outputs may await the broker's acknowledgement at once. More than one, so that
#: a slow acknowledgement (acks=all, a busy broker) does not hold up classifying the batches
#: behind it; acks still go strictly in order
MAX_IN_FLIGHT = 4


class BrokerUnavailableError(FlagstreamError):
    """The broker did not acknowledge a batch's outputs within ``broker_retry_timeout_s``.

    The worker exits (status 70) without acking the batch; once the cluster is reachable again
    the restarted worker consumes it again. Check the brokers and the network, or raise
    ``FLAGSTREAM_BROKER_RETRY_TIMEOUT_S`` to ride out longer outages.
    """


class ProcessingBrokenError(FlagstreamError):
    """Processing fails even on a known-good event: the model or the policy is broken.

    Not an event's fault, so nothing is dead-lettered: the worker exits (status 70) and its
    supervisor restarts it. Check the model and policy files named at start-up.
    """


class Outputs(Protocol):
    """What processing a batch yields: the records to publish (``BatchResult`` is one)."""

    @property
    def outputs(self) -> Sequence[OutMessage]: ...


R = TypeVar("R", bound=Outputs)


class Transport(Protocol):
    """The Kafka client side: send records, ack consumed ones."""

    async def send(self, out: OutMessage) -> Awaitable[Any]:
        """Hand ``out`` to the producer; the returned awaitable resolves on the broker's ack.

        Either may raise: :meth:`too_large` tells whether the error is the record's size.
        """
        ...

    def ack(self, messages: Sequence[InMessage]) -> None:
        """The records were processed and their outputs acknowledged: their offsets may be
        committed. Records of partitions no longer assigned are ignored (at-least-once)."""
        ...

    def too_large(self, exc: BaseException) -> bool:
        """Whether ``exc`` says a record was over the producer's or the topic's size limit."""
        ...


class DeadLetterer(Protocol):
    """Builds the dead letters the runner itself decides on (``streams.publish.DeadLetters``)."""

    def processing_error(self, src: InMessage, exc: BaseException) -> OutMessage: ...

    def too_large(self, out: OutMessage, exc: BaseException) -> OutMessage: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for records the broker did not acknowledge."""

    timeout_s: float = 60.0  # give up (BrokerUnavailableError) after this long without success
    first_backoff_s: float = 0.1
    max_backoff_s: float = 5.0


@dataclass(slots=True)
class Completed(Generic[R]):
    """A batch whose outputs the broker acknowledged and whose records were acked."""

    messages: Sequence[InMessage]
    parts: list[R]  # the processing results, in order (more than one if the batch was split)
    outputs: list[OutMessage]  # what was published (after too_large replacements)
    extra_dead_letters: list[str]  # reasons of dead letters the runner added (not in parts)
    started: float  # time.time() when the batch was handed in
    acked: float  # time.time() when it was acked


@dataclass(slots=True)
class _InFlight(Generic[R]):
    messages: Sequence[InMessage]
    parts: list[R]
    outputs: list[OutMessage]
    extra_dead_letters: list[str]
    futures: list[Awaitable[Any]]
    started: float
    on_acked: Callable[[], None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True)
class _Processed(Generic[R]):
    parts: list[R]
    outputs: list[OutMessage]
    failures: list[tuple[InMessage, BaseException]]


class BatchRunner(Generic[R]):
    """Process, publish and ack batches in order; see the module docstring for the failures.

    ``on_completed`` is called (on the event loop) for every acked batch, e.g. to record metrics;
    ``on_error(stage)`` for every failure handled in place (``processing``, ``broker``).
    """

    def __init__(
        self,
        transport: Transport,
        process: Callable[[Sequence[InMessage]], R],
        dead_letters: DeadLetterer,
        *,
        canary: Sequence[InMessage] = (),
        retry: RetryPolicy | None = None,
        on_completed: Callable[[Completed[R]], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        executor: ThreadPoolExecutor | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._transport = transport
        self._process = process
        self._dead_letters = dead_letters
        self._canary = list(canary)
        self._retry = retry or RetryPolicy()
        self._on_completed = on_completed
        self._on_error = on_error or (lambda stage: None)
        # one thread: classification is CPU-bound and onnxruntime has its own threads
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="flagstream-process")
        self._own_executor = executor is None
        if max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, not {max_in_flight}")
        self._max_in_flight = max_in_flight
        # batches sent and awaiting the broker, oldest first; each acks after the one before it
        self._in_flight: deque[asyncio.Task[None]] = deque()
        self._stopping = asyncio.Event()
        #: False while the broker fails to acknowledge (readiness reads it)
        self.broker_ok = True
        self._failing_since: float | None = None

    # --- the public surface ---

    async def handle(
        self, messages: Sequence[InMessage], on_acked: Callable[[], None] | None = None
    ) -> None:
        """Process a batch and send its outputs; it is acked (then ``on_acked``) once the broker
        has all of them and every batch before it is acked. Returns when the batch is with the
        producer and at most ``max_in_flight`` batches, this one included, await the broker.

        Raises :class:`BrokerUnavailableError` or :class:`ProcessingBrokenError` (the batch is not acked).
        """
        started = time.time()
        loop = asyncio.get_running_loop()
        processed: _Processed[R] = await loop.run_in_executor(
            self._executor, self._process_isolated, messages
        )
        extra = [self._dead_letters.processing_error(m, e) for m, e in processed.failures]
        if extra:
            for _ in extra:
                self._on_error("processing")
            first, exc = processed.failures[0]
            log.warning(  # once per affected batch, not per event
                "%d event(s) of a batch of %d failed processing and are dead-lettered as "
                "processing_error; first: %s-%d-%d, %s: %s",
                len(extra),
                len(messages),
                first.topic,
                first.partition,
                first.offset,
                type(exc).__name__,
                exc,
            )
        outputs = self._merge(processed, extra)
        flight = _InFlight(
            messages,
            processed.parts,
            outputs,
            ["processing_error"] * len(extra),
            [],
            started,
            on_acked,
        )
        await self._send_all(flight)
        previous = self._in_flight[-1] if self._in_flight else None
        self._in_flight.append(asyncio.ensure_future(self._complete(flight, previous)))
        in_flight = self._in_flight
        try:
            # raises what failed an earlier batch: this one is not acked either (it waits for it)
            while in_flight and (len(in_flight) > self._max_in_flight or in_flight[0].done()):
                await in_flight.popleft()
        except BaseException:
            self._abandon()
            raise

    async def flush(self) -> None:
        """Wait until every handled batch is acknowledged and acked (raises what failed)."""
        try:
            while self._in_flight:
                await self._in_flight.popleft()
        except BaseException:
            self._abandon()
            raise

    def stop(self) -> None:
        """Stop retrying: a batch not yet acknowledged fails (it is not acked) at once."""
        self._stopping.set()
        for task in self._in_flight:
            if not task.done():
                task.cancel()

    def _abandon(self) -> None:
        """An earlier batch failed, so every later one fails too: nobody awaits them now."""
        while self._in_flight:
            self._in_flight.popleft().add_done_callback(_retrieve)

    @property
    def dead_letters(self) -> DeadLetterer:
        return self._dead_letters

    @dead_letters.setter
    def dead_letters(self, value: DeadLetterer) -> None:
        self._dead_letters = value

    def close(self) -> None:
        if self._own_executor:
            self._executor.shutdown(wait=True)

    # --- processing, in the worker thread ---

    def _process_isolated(self, messages: Sequence[InMessage]) -> _Processed[R]:
        processed: _Processed[R] = _Processed([], [], [])
        try:
            result = self._process(messages)
        except Exception as exc:
            self._check_canary(exc)  # before splitting: a broken pipeline fails at once
            self._bisect(list(messages), processed, known_failing=True)
        else:
            processed.parts.append(result)
            processed.outputs.extend(result.outputs)
        return processed

    def _check_canary(self, exc: Exception) -> None:
        if not self._canary:
            return
        try:
            self._process(self._canary)
        except Exception as canary_exc:
            raise ProcessingBrokenError(
                f"processing fails on a known-good event too ({type(canary_exc).__name__}: "
                f"{canary_exc}; the batch failed with {type(exc).__name__}: {exc}): the model "
                "or policy is broken, not the input"
            ) from canary_exc

    def _bisect(
        self, messages: list[InMessage], into: _Processed[R], known_failing: bool = False
    ) -> None:
        # recursion depth is log2(batch size): a batch of 10,000 splits 14 times
        if not messages:
            return
        try:
            if known_failing and len(messages) > 1:
                raise _AlreadyFailedError
            result = self._process(messages)
        except Exception as exc:
            if len(messages) == 1:
                into.failures.append((messages[0], exc))
                into.outputs.append(_FAILED)  # placeholder: its dead letter goes here
                return
            middle = len(messages) // 2
            self._bisect(messages[:middle], into)
            self._bisect(messages[middle:], into)
            return
        into.parts.append(result)
        into.outputs.extend(result.outputs)

    @staticmethod
    def _merge(processed: _Processed[R], dead: list[OutMessage]) -> list[OutMessage]:
        if not dead:
            return processed.outputs
        letters = iter(dead)
        return [next(letters) if out is _FAILED else out for out in processed.outputs]

    # --- sending and acknowledgement, on the event loop ---

    async def _send_all(self, flight: _InFlight[R]) -> None:
        send = self._transport.send
        for i, out in enumerate(flight.outputs):
            try:
                future = await send(out)
            except Exception as exc:
                future = await self._resend(flight, i, exc)
            flight.futures.append(future)

    async def _resend(self, flight: _InFlight[R], i: int, exc: BaseException) -> Awaitable[Any]:
        """Send ``flight.outputs[i]`` again after ``exc``: as a too_large dead letter if it was
        too large, else the same record after a backoff, until the retry timeout."""
        backoff = self._retry.first_backoff_s
        replaced = False
        while True:
            out = flight.outputs[i]
            if self._transport.too_large(exc) and out.source is not None and not replaced:
                flight.outputs[i] = self._dead_letters.too_large(out, exc)
                flight.extra_dead_letters.append("too_large")
                replaced = True  # built to fit: if even it is refused, the limit is wrong
            else:
                self._broker_failed(exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, self._retry.max_backoff_s)
            try:
                return await self._transport.send(flight.outputs[i])
            except Exception as again:
                exc = again

    async def _complete(self, flight: _InFlight[R], previous: asyncio.Task[None] | None) -> None:
        try:
            await self._acknowledged(flight)
            if previous is not None:  # acks go in order: raises if the batch before failed
                await asyncio.shield(previous)
        except BaseException:
            for future in flight.futures:  # given up: their errors are not news
                if isinstance(future, asyncio.Future):
                    future.add_done_callback(_retrieve)
            raise
        self._broker_recovered()
        self._finish(flight)

    async def _acknowledged(self, flight: _InFlight[R]) -> None:
        for i in range(len(flight.futures)):
            while True:
                try:
                    await flight.futures[i]
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    flight.futures[i] = await self._resend(flight, i, exc)

    def _finish(self, flight: _InFlight[R]) -> None:
        self._transport.ack(flight.messages)
        acked = time.time()
        if flight.on_acked is not None:
            flight.on_acked()
        if self._on_completed is not None:
            self._on_completed(
                Completed(
                    flight.messages,
                    flight.parts,
                    flight.outputs,
                    flight.extra_dead_letters,
                    flight.started,
                    acked,
                )
            )

    def _broker_failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._on_error("broker")
        if self._failing_since is None:
            self._failing_since = now
            self.broker_ok = False
            log.warning(
                "the broker did not take or acknowledge a record (%s: %s); retrying with "
                "backoff for up to %.0f s",
                type(exc).__name__,
                exc,
                self._retry.timeout_s,
            )
        elif now - self._failing_since > self._retry.timeout_s:
            raise BrokerUnavailableError(
                f"the broker has not acknowledged records for {now - self._failing_since:.0f} s "
                f"(last error {type(exc).__name__}: {exc}); check the brokers and the network"
            ) from exc

    def _broker_recovered(self) -> None:
        if self._failing_since is not None:
            log.warning(
                "the broker acknowledges again after %.1f s", time.monotonic() - self._failing_since
            )
            self._failing_since = None
        self.broker_ok = True

    async def _sleep(self, seconds: float) -> None:
        if self._stopping.is_set():
            raise asyncio.CancelledError
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return
        raise asyncio.CancelledError  # stopping: give up on this batch


class _AlreadyFailedError(Exception):
    """The batch failed as a whole already: split it without processing it again."""


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


_FAILED = OutMessage("", None, None, [])  # marks where a failed event's dead letter goes
