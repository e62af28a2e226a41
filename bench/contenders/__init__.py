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
    # settings of its own, applied after the run's ``--set`` overrides (FLAGSTREAM_* names)
    env: tuple[tuple[str, str], ...] = ()

    @property
    def campaigns(self) -> bool:
        """Whether it runs the campaign stage (issue 10): its drain waits for the stage too."""
        return dict(self.env).get("FLAGSTREAM_CAMPAIGNS_ENABLED") == "1"


CONTENDERS: dict[str, Contender] = {
    c.name: c
    for c in (
        Contender(
            "flagstream",
            (sys.executable, "-m", "streams.cli", "worker"),
            "the real worker: `flagstream worker` (Faust, batches of batch_max, model in a thread)",
        ),
        Contender(
            "flagstream-campaigns",
            (sys.executable, "-m", "streams.cli", "worker"),
            "the real worker with campaign detection on (indicators, MinHash, the campaign stage "
            "and its tables): its drain ends with the stage's last write",
            (("FLAGSTREAM_CAMPAIGNS_ENABLED", "1"),),
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
