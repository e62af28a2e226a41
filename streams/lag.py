"""Consumer-group lag as the brokers see it, for ``flagstream lag-exporter``.

The worker exports its own lag, but only while it runs. This module asks the brokers instead:
the group's committed offsets (OffsetFetch) and each partition's end offset (ListOffsets), so
the lag stays visible when every worker is down, which is exactly when it grows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from kafka.admin import KafkaAdminClient, OffsetSpec
from kafka.structs import TopicPartition

from streams.errors import BrokerError
from streams.kafka_clients import client_config
from streams.metrics import LagExporterMetrics
from streams.settings import Settings

log = logging.getLogger(__name__)

OffsetReset = Literal["earliest", "latest"]


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One partition of one group: where the group is, where the log ends, how far apart."""

    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group has never committed on this partition
    end: int
    lag: int


def compute_lag(
    group: str,
    end_offsets: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int],
    start_offsets: Mapping[TopicPartition, int],
    offset_reset: OffsetReset,
) -> list[PartitionLag]:
    """Lag of ``group`` on every partition in ``end_offsets``, sorted by topic and partition.

    A partition the group never committed on still counts: with ``earliest`` the group will
    read it from the log start, so its whole retained log is lag; with ``latest`` it will
    skip to the end, so there is none. Lag is never negative (a committed offset can exceed
    the end offset for a moment after a topic is truncated or recreated).
    """
    rows = []
    for tp in sorted(end_offsets, key=lambda t: (t.topic, t.partition)):
        end = end_offsets[tp]
        done = committed.get(tp)
        if done is not None:
            lag = end - done
        elif offset_reset == "earliest":
            lag = end - start_offsets.get(tp, 0)
        else:
            lag = 0
        rows.append(PartitionLag(group, tp.topic, tp.partition, done, end, max(lag, 0)))
    return rows


def admin_config(settings: Settings) -> dict[str, Any]:
    """kafka-python admin settings for the exporter (bootstrap, security, SASL, a short timeout)."""
    return {**client_config(settings, "flagstream-lag-exporter"), "request_timeout_ms": 10_000}


class BrokerOffsets:
    """Reads committed and end offsets from the brokers with one admin client.

    The client is created on first use and dropped after any failure, so that a broker
    restart or a DNS change is picked up by the next poll instead of wedging the exporter.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = dict(config)
        self._admin: KafkaAdminClient | None = None
        self._missing: set[str] = set()  # topics already reported missing

    def _client(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = KafkaAdminClient(**self._config)
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            admin, self._admin = self._admin, None
            admin.close()

    def poll(
        self, groups: Sequence[str], topics: Iterable[str], offset_reset: OffsetReset
    ) -> list[PartitionLag]:
        """Lag of every group on every partition of ``topics`` and of the topics it committed on.

        Raises :class:`BrokerError` when the brokers cannot answer; the caller counts it and
        polls again later.
        """
        try:
            return self._poll(groups, topics, offset_reset)
        except Exception as exc:
            self.close()
            raise BrokerError(
                f"lag poll of {self._config['bootstrap_servers']} failed: {exc!r}; check "
                "FLAGSTREAM_BOOTSTRAP and that the brokers are up"
            ) from exc

    def _poll(
        self, groups: Sequence[str], topics: Iterable[str], offset_reset: OffsetReset
    ) -> list[PartitionLag]:
        admin = self._client()
        by_group: dict[str, dict[TopicPartition, Any]] = admin.list_group_offsets(
            dict.fromkeys(groups)
        )
        committed = {
            g: {tp: om.offset for tp, om in offsets.items() if om.offset >= 0}
            for g, offsets in by_group.items()
        }
        wanted = set(topics).union(tp.topic for c in committed.values() for tp in c)
        partitions = self._partitions(admin, sorted(wanted))
        end = self._offsets(admin, partitions, OffsetSpec.LATEST)
        start = self._offsets(admin, partitions, OffsetSpec.EARLIEST) if partitions else {}
        rows: list[PartitionLag] = []
        for g in groups:
            rows.extend(compute_lag(g, end, committed.get(g, {}), start, offset_reset))
        return rows

    def _partitions(self, admin: KafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
        if not topics:
            return []
        found: list[TopicPartition] = []
        for meta in admin.describe_topics(topics):
            if meta["error_code"] != 0:
                # a topic not created yet has no lag to show; the others still do
                if meta["name"] not in self._missing:
                    self._missing.add(meta["name"])
                    log.warning(
                        "topic %s: not readable (error code %s); no lag exported for it",
                        meta["name"], meta["error_code"],
                    )  # fmt: skip
                continue
            self._missing.discard(meta["name"])
            found.extend(
                TopicPartition(meta["name"], p["partition_index"]) for p in meta["partitions"]
            )
        return found

    @staticmethod
    def _offsets(
        admin: KafkaAdminClient, partitions: list[TopicPartition], spec: OffsetSpec
    ) -> dict[TopicPartition, int]:
        if not partitions:
            return {}
        answer = admin.list_partition_offsets(dict.fromkeys(partitions, spec))
        return {tp: ot.offset for tp, ot in answer.items()}


class LagGauges:
    """Writes polls into :class:`LagExporterMetrics`, dropping series of partitions gone."""

    def __init__(self, metrics: LagExporterMetrics) -> None:
        self.metrics = metrics
        self._committed: set[tuple[str, str, str]] = set()
        self._lag: set[tuple[str, str, str]] = set()
        self._end: set[tuple[str, str]] = set()

    def update(self, rows: Iterable[PartitionLag], now: float) -> None:
        m = self.metrics
        committed: set[tuple[str, str, str]] = set()
        lag: set[tuple[str, str, str]] = set()
        end: set[tuple[str, str]] = set()
        for row in rows:
            part = str(row.partition)
            key = (row.group, row.topic, part)
            m.end_offset.labels(row.topic, part).set(row.end)
            end.add((row.topic, part))
            m.group_lag.labels(*key).set(row.lag)
            lag.add(key)
            if row.committed is not None:
                m.committed_offset.labels(*key).set(row.committed)
                committed.add(key)
        for gone3 in self._committed - committed:
            m.committed_offset.remove(*gone3)
        for gone3 in self._lag - lag:
            m.group_lag.remove(*gone3)
        for gone2 in self._end - end:
            m.end_offset.remove(*gone2)
        self._committed, self._lag, self._end = committed, lag, end
        m.last_poll_timestamp.set(now)
