"""Every worker's copy of the signal lists: read the whole topic at start, then follow it.

A background thread with a group-less kafka-python consumer, not a Faust agent: a Faust agent
joins the worker's consumer group, and partitions split across workers would give each worker
only part of the lists (a unique group per worker would leave one abandoned group per restart
on the brokers). The thread assigns every partition itself and commits nothing.

The initial load runs before the worker starts consuming events (``load``), so no event is
judged without the lists; /readyz answers "signals: loading" meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Final

import orjson
from kafka import KafkaConsumer, TopicPartition

from streams.errors import BrokerError
from streams.health import Readiness
from streams.metrics import SignalMetrics
from streams.networks.signals import KINDS, SignalFormatError, parse_signal
from streams.networks.signals_index import SignalCapError, SignalIndex
from streams.networks.signals_topic import (
    Record,
    assign_all,
    ensure_topic,
    poll_records,
    read_to_end,
    topic_reader,
)
from streams.settings import Settings

log = logging.getLogger(__name__)

POLL_MS: Final = 500
RETRY_S: Final = 5.0


class SignalFollower:
    """Applies the signals topic to an index: ``load()`` once, then ``start()`` the thread."""

    def __init__(self, settings: Settings, index: SignalIndex, metrics: SignalMetrics) -> None:
        self.settings = settings
        self.index = index
        self.metrics = metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reader: KafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._exported: Counter[tuple[str, str]] = Counter()
        self._cap_logged = False

    def load(self) -> int:
        """Read the topic to its end (creating it if allowed); the signals loaded."""
        settings = self.settings
        if settings.create_missing_topics:
            ensure_topic(settings)
        self._reader = topic_reader(settings, f"flagstream-signals-{settings.group_id}")
        self._partitions = assign_all(self._reader, settings.signals_topic)
        if not self._partitions:
            log.warning(
                "signals topic %r does not exist: no signal lists until it does (flagstream "
                "signals import creates it)",
                settings.signals_topic,
            )
        started = time.monotonic()
        for batch in read_to_end(
            self._reader, self._partitions, settings.signals_load_timeout_s, settings.signals_topic
        ):
            self.apply(batch)
        self.metrics.caught_up.set(time.time())
        self.export_counts()
        log.info(
            "signal lists: %d signals loaded from %r in %.1fs",
            len(self.index),
            settings.signals_topic,
            time.monotonic() - started,
        )
        return len(self.index)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="flagstream-signals", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def apply(self, records: list[Record]) -> None:
        """Upserts and tombstones, in topic order."""
        updates = self.metrics.updates
        index = self.index
        for key, value in records:
            if value is None:
                index.remove(key)
                updates.labels("tombstone").inc()
                continue
            try:
                signal = parse_signal(orjson.loads(value))
                if signal.key != key:
                    raise SignalFormatError(f"its key {key!r} is not the record's {signal.key!r}")
                index.put(signal)
            except (SignalFormatError, orjson.JSONDecodeError) as exc:
                updates.labels("invalid").inc()
                log.warning("signals topic: record %r ignored: %s", key[:200], exc)
                continue
            except SignalCapError as exc:
                updates.labels("over_cap").inc()
                if not self._cap_logged:
                    log.error("%s", exc)
                    self._cap_logged = True
                continue
            updates.labels("upsert").inc()
        if records:
            self.metrics.last_update.set(time.time())

    def export_counts(self) -> None:
        """Loaded signals per list and kind, and the pipeline's matches, to the metrics."""
        loaded = self.metrics.loaded
        counts = self.index.counts()
        for name in self.index.known_lists | {n for n, _ in counts}:
            for kind in KINDS:
                loaded.labels(name, kind).set(counts.get((name, kind), 0))
        matched = self.index.matched_snapshot()
        for key, total in matched.items():
            if total > self._exported[key]:
                self.metrics.matches.labels(*key).inc(total - self._exported[key])
        self._exported = matched
        self.index.known_lists.update(n for n, _ in counts)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._follow_once()
            except Exception:  # the broker went away, or a bug: keep the lists, retry
                log.exception("signals follower failed; retrying in %.0fs", RETRY_S)
                self._stop.wait(RETRY_S)

    def _follow_once(self) -> None:
        reader = self._reader
        assert reader is not None
        if not self._partitions:
            self._partitions = assign_all(reader, self.settings.signals_topic)
            if not self._partitions:
                self._stop.wait(RETRY_S)
                return
        records = poll_records(reader, POLL_MS)
        self.apply(records)
        if not records:
            self.metrics.caught_up.set(time.time())
        self.export_counts()


def start_signals(
    settings: Settings, index: SignalIndex, metrics: SignalMetrics, readiness: Readiness
) -> SignalFollower:
    """Load the lists (``/readyz``: not ready meanwhile), then follow them in the background.

    Raises BrokerError (with the fix) when the topic cannot be read in time: start-up stops.
    """
    readiness.not_ready("signals", f"loading the signal lists from {settings.signals_topic!r}")
    # an unreachable broker at start is retried like the worker's own start-up checks
    deadline = time.monotonic() + settings.broker_retry_timeout_s
    backoff = 0.5
    while True:
        follower = SignalFollower(settings, index, metrics)
        try:
            follower.load()
            break
        except BrokerError as exc:
            follower.stop()
            if time.monotonic() + backoff > deadline:
                raise
            readiness.not_ready("signals", str(exc))
            log.warning("loading the signal lists failed, retrying: %s", exc)
            time.sleep(backoff)
            backoff = min(backoff * 2, RETRY_S)
    readiness.clear("signals")
    follower.start()
    return follower
