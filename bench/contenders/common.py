"""What every contender process shares: settings from ``FLAGSTREAM_*`` (as the worker reads
them), a self-imposed deadline, and the raw-transport stand-in for classification."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from typing import Final

from bench.workload import transport_selects
from streams.events import Decoder, Rejected
from streams.publish import InMessage, OutMessage, dead_letter_message, utc_now_iso
from streams.settings import Settings, load_settings

# Every contender exits by itself after this long even if the harness dies (seconds).
MAX_SECONDS_ENV: Final = "FLAGSTREAM_BENCH_MAX_SECONDS"
DEFAULT_MAX_SECONDS: Final = 3600.0


def settings() -> Settings:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    return load_settings()


def arm_deadline() -> float:
    """SIGTERM this process after ``FLAGSTREAM_BENCH_MAX_SECONDS``: no contender outlives a run."""
    seconds = float(os.environ.get(MAX_SECONDS_ENV, DEFAULT_MAX_SECONDS))
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
    timer.daemon = True
    timer.start()
    return seconds


class TransportWork:
    """raw-transport's work on a batch: the real decode and dead-lettering, no model.

    Valid events whose key (the event_id) falls in a fixed 1-in-20 hash bucket are forwarded byte
    for byte to the flagged topic, so the transport limit publishes a flagged share of the same
    order as the model's (the workload is ~5 % harmful) and end-to-end latency has samples.
    """

    def __init__(self, s: Settings) -> None:
        self._decode = Decoder(s.max_event_bytes).decode
        self._flagged = s.flagged_topic
        self._dlq = s.dlq_topic

    def __call__(self, messages: Sequence[InMessage]) -> list[OutMessage]:
        out: list[OutMessage] = []
        decode = self._decode
        now_iso = ""
        for msg in messages:
            result = decode(msg.value)
            if isinstance(result, Rejected):
                now_iso = now_iso or utc_now_iso(time.time())
                out.append(
                    dead_letter_message(self._dlq, msg, result.reason, result.detail, now_iso)
                )
            elif transport_selects(result.event_id.encode()):
                out.append(OutMessage(self._flagged, result.event_id.encode(), msg.value, []))
        return out
