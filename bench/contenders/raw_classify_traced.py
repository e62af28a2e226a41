"""raw-classify-traced: raw-classify with the stage stamps of ``flagstream_traced``.

For ``python -m bench.breakdown --contender raw-classify``: the same stages, measured the same way,
for the practical limit, so that a stage of the worker's latency can be compared with the same
stage of the plain aiokafka loop in one session. ``fetched`` and ``delivered`` are one stamp here
(``getmany`` returns the records on the loop that processes them), ``handed`` is the batch
runner's ``handle``, the rest are the worker's: ``Pipeline.process``, the producer hand-over and
the batch's acknowledgement.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from bench.contenders import raw_classify, raw_loop
from bench.contenders.flagstream_traced import TRACE_PATH_ENV, Stamps, trace_process
from streams import runner


def install(stamps: Stamps) -> None:
    """Wrap the loop's stage methods (classes only: nothing runs yet)."""
    now = time.time
    getmany = AIOKafkaConsumer.getmany

    @functools.wraps(getmany)
    async def traced_getmany(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = await getmany(self, *args, **kwargs)
        at = now()
        for records in result.values():
            keys = [r.key for r in records]
            stamps.stamp("fetched", keys, at)
            stamps.stamp("delivered", keys, at)
        return result

    AIOKafkaConsumer.getmany = traced_getmany
    handle = runner.BatchRunner.handle

    @functools.wraps(handle)
    async def traced_handle(self: Any, messages: Sequence[Any], *args: Any) -> None:
        stamps.stamp("handed", [m.key for m in messages], now())
        await handle(self, messages, *args)

    runner.BatchRunner.handle = traced_handle  # type: ignore[method-assign,assignment]
    trace_process(stamps)
    send = raw_loop.AiokafkaTransport.send

    @functools.wraps(send)
    async def traced_send(self: Any, out: Any) -> Any:
        result = await send(self, out)
        stamps.stamp("sent", [out.key], now())
        return result

    raw_loop.AiokafkaTransport.send = traced_send  # type: ignore[method-assign]
    finish = runner.BatchRunner._finish

    @functools.wraps(finish)
    def traced_finish(self: Any, flight: Any) -> None:
        stamps.stamp("acked", [m.key for m in flight.messages], now())
        finish(self, flight)

    runner.BatchRunner._finish = traced_finish  # type: ignore[method-assign]


def main() -> None:
    if os.environ.get(TRACE_PATH_ENV):
        install(Stamps(Path(os.environ[TRACE_PATH_ENV])))
    raw_classify.main()


if __name__ == "__main__":
    main()
