"""flagstream-traced: ``flagstream worker`` with stage stamps, for the latency breakdown only.

Not a contender of ``flagstream bench`` (it is not in ``CONTENDERS``): ``python -m bench.breakdown``
runs it. Before the worker starts, five of its methods are wrapped so that every record keyed
``m-…`` (the harness's measured events) gets the wall time (``time.time``) at which it

- ``fetched``: came back from aiokafka's fetcher, in Faust's consumer thread;
- ``delivered``: was handed to the agent's collector, on the event loop;
- ``handed``: was handed to the batch runner with its batch;
- ``classify_start`` / ``classify_end``: entered / left ``Pipeline.process`` (the runner's thread);
- ``sent``: had its flagged output handed to the producer;
- ``acked``: had its batch's outputs acknowledged by the broker.

With ``BENCH_FAUST_THREAD=1`` the aiokafka consumer runs in Faust's own consumer thread, as it
did before ``streams.consumer.InLoopConsumerThread``: the A/B of that change. The stamps go to
``$BENCH_TRACE_PATH`` as JSON lines, every 0.5 s, by a daemon thread. The
wrappers cost a few µs per record, so this worker is a little slower than the real one: its
stage durations explain the real worker's latency, they are not a second measurement of it.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import orjson

TRACE_PATH_ENV: Final = "BENCH_TRACE_PATH"
#: "1": run the aiokafka consumer in Faust's own thread, as before streams.consumer ran it on the
#: app's loop (the A/B of that change)
FAUST_THREAD_ENV: Final = "BENCH_FAUST_THREAD"
PREFIX: Final = b"m-"
FLUSH_S: Final = 0.5


class Stamps:
    """Stage → key → time, appended from any thread; written out by a daemon thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._rows: list[tuple[str, str, float]] = []
        threading.Thread(target=self._flush_forever, name="trace-flush", daemon=True).start()

    def stamp(self, stage: str, keys: Sequence[bytes | None], at: float) -> None:
        rows = [(stage, k.decode(), at) for k in keys if k is not None and k.startswith(PREFIX)]
        if rows:
            with self._lock:
                self._rows.extend(rows)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_S)
            with self._lock:
                rows, self._rows = self._rows, []
            if rows:
                with self._path.open("ab") as f:
                    f.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def trace_process(stamps: Stamps) -> None:
    """Stamp ``classify_start``/``classify_end`` around ``Pipeline.process`` (both loops)."""
    from streams import pipeline  # noqa: PLC0415

    now = time.time
    process = pipeline.Pipeline.process

    @functools.wraps(process)
    def traced_process(self: Any, messages: Sequence[Any]) -> Any:
        keys = [m.key for m in messages]
        stamps.stamp("classify_start", keys, now())
        result = process(self, messages)
        stamps.stamp("classify_end", keys, now())
        return result

    pipeline.Pipeline.process = traced_process  # type: ignore[method-assign]


def install(stamps: Stamps) -> None:
    """Wrap the worker's stage methods (classes only: nothing runs yet)."""
    from faust.transport.drivers import aiokafka as faust_aiokafka  # noqa: PLC0415

    from streams import agents, consumer  # noqa: PLC0415

    now = time.time

    def wrap_async(cls: Any, name: str, before: Callable[..., None] | None, after: Any) -> None:
        original = getattr(cls, name)

        @functools.wraps(original)
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            if before is not None:
                before(*args)
            result = await original(self, *args, **kwargs)
            if after is not None:
                after(result, *args)
            return result

        setattr(cls, name, wrapper)

    def fetched(result: Any, *_args: Any) -> None:
        at = now()
        for records in (result or {}).values():
            stamps.stamp("fetched", [r.key for r in records], at)

    wrap_async(faust_aiokafka.AIOKafkaConsumerThread, "_fetch_records", None, fetched)
    wrap_async(
        consumer.BatchingConsumer,
        "_deliver",
        lambda _tp, recs: stamps.stamp("delivered", [r.key for r in recs], now()),
        None,
    )
    wrap_async(
        agents.BatchHandler,
        "handle",
        lambda msgs, *_a: stamps.stamp("handed", [m.key for m in msgs], now()),
        None,
    )

    trace_process(stamps)
    wrap_async(
        agents.FaustTransport,
        "send",
        None,
        lambda _r, out: stamps.stamp("sent", [out.key], now()),
    )
    completed = agents.BatchHandler._completed

    @functools.wraps(completed)
    def traced_completed(self: Any, done: Any) -> None:
        stamps.stamp("acked", [m.key for m in done.messages], done.acked)
        completed(self, done)

    agents.BatchHandler._completed = traced_completed  # type: ignore[method-assign]


def use_faust_thread() -> None:
    """Give the batching consumer Faust's consumer thread back (the state before the change)."""
    from faust.transport.drivers import aiokafka as faust_aiokafka  # noqa: PLC0415

    from streams import consumer  # noqa: PLC0415

    consumer.BatchingConsumer._new_consumer_thread = (  # type: ignore[method-assign]
        faust_aiokafka.Consumer._new_consumer_thread
    )


def main() -> None:
    if os.environ.get(FAUST_THREAD_ENV) == "1":
        use_faust_thread()
    if os.environ.get(TRACE_PATH_ENV):
        install(Stamps(Path(os.environ[TRACE_PATH_ENV])))
    from streams.cli.main import cli  # noqa: PLC0415

    cli(["worker"])


if __name__ == "__main__":
    main()
