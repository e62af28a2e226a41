"""The contenders: each one runs as its own OS process, configured by ``FLAGSTREAM_*``.

All of them read the same input, with their own consumer group and output topics, and do the same
work (decode, the shipped ONNX model, publish flagged events, dead-letter malformed ones byte for
byte), but raw-transport, which leaves the model out on purpose.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Contender:
    name: str
    argv: tuple[str, ...]
    what: str


CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in (
        Contender(
            "flagstream",
            (sys.executable, "-m", "streams.cli", "worker"),
            "the real worker: `flagstream worker` (Faust, batches of batch_max, model in a thread)",
        ),
        Contender(
            "raw-classify",
            (sys.executable, "-m", "bench.contenders.raw_classify"),
            "minimal aiokafka loop (getmany, Pipeline.process, send): the practical limit",
        ),
        Contender(
            "raw-transport",
            (sys.executable, "-m", "bench.contenders.raw_transport"),
            "the same loop, decode and dead-letter only, no model: the transport limit",
        ),
        Contender(
            "faust-naive",
            (sys.executable, "-m", "bench.contenders.faust_naive"),
            "plain Faust agent, model called per event, send per output",
        ),
        Contender(
            "faust-batched",
            (sys.executable, "-m", "bench.contenders.faust_batched"),
            "idiomatic batched Faust agent: stream.take_events, model in a thread, send per output",
        ),
        Contender(
            "raw-librdkafka",
            (sys.executable, "-m", "bench.contenders.raw_librdkafka"),
            "raw confluent-kafka loop (poll/consume, Pipeline.process, produce): a second limit",
        ),
        Contender(
            "quixstreams",
            (sys.executable, "-m", "bench.contenders.quix"),
            "Quix Streams app: StreamingDataFrame.apply per message, to_topic",
        ),
    )
}
