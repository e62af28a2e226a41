"""The campaign stage: a second Faust agent, on the repartition topic the pipeline routes its
observations to, with the campaign state in a Faust table (changelog-backed: recovered on
restart and on rebalance, per partition, before the agent sees a record).

Topology (docs/networks.md)::

    events ──moderate (batches)──► events.flagged / events.dlq
                      └──────────► <group>-networks-observations  (N partitions, keyed by shard)
                                        └──campaigns──► events.campaigns
                                              ▲  └─────► table networks-campaigns
                                              │          (<group>-networks-campaigns-changelog)
                                              └── ActiveCampaigns (this process) ──► campaign_id
                                                  on the flagged events of later members

Campaign records follow the CloudEvents 1.0 Kafka binding in binary mode (``ce_*`` headers),
keyed by ``campaign_id``; the data is ``streams/schemas/campaign.v1.json``. A record is
published, and acknowledged by the broker, before the observation that caused it is acked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import MutableMapping
from typing import Any, Final, cast

import faust
import numpy as np
import orjson
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.errors import FlagstreamError
from streams.kafka_clients import admin_client
from streams.metrics import NetworkMetrics
from streams.networks.actors import ActorTracker
from streams.networks.campaigns import (
    NEAR_DUPLICATE,
    SIGNAL_LIST,
    CampaignConfig,
    CampaignTracker,
)
from streams.networks.tap import ActiveCampaigns, NetworkTap, decode_bundle, observations_topic
from streams.publish import CE_SPECVERSION, CONTENT_TYPE_JSON, Headers, utc_now_iso
from streams.settings import Settings

log = logging.getLogger(__name__)

CE_TYPE_CAMPAIGN: Final = b"io.flagstream.networks.campaign.v1"
CE_DATASCHEMA_CAMPAIGN: Final = b"urn:flagstream:schema:campaign:v1"
TABLE_NAME: Final = "networks-campaigns"
GAUGE_INTERVAL_S: Final = 5.0
#: held-back growth of a campaign that stopped growing is published within two of these
FLUSH_INTERVAL_S: Final = 5.0


def campaign_config(settings: Settings) -> CampaignConfig:
    return CampaignConfig(
        min_authors=settings.campaign_min_authors,
        window_s=settings.campaign_window_s,
        similarity=settings.campaign_similarity,
        republish_growth=settings.campaign_republish_growth,
        republish_interval_s=settings.campaign_republish_interval_s,
    )


def campaign_headers(record: dict[str, Any], source: bytes) -> Headers:
    """CloudEvents binary-mode attributes of one campaign record.

    ``ce_id`` is the campaign id and its author count: stable across a redelivery (the same
    growth is the same event), new each time the campaign grows.
    """
    cid = record["campaign_id"]
    return [
        ("ce_specversion", CE_SPECVERSION),
        ("ce_id", f"{cid}-{record['event_count']}".encode()),
        ("ce_source", source),
        ("ce_type", CE_TYPE_CAMPAIGN),
        ("ce_time", utc_now_iso(time.time()).encode()),
        ("ce_subject", cid.encode()),
        ("ce_dataschema", CE_DATASCHEMA_CAMPAIGN),
        ("content-type", CONTENT_TYPE_JSON),
    ]


def publishable(record: dict[str, Any]) -> dict[str, Any]:
    """The record as published: times in RFC 3339 (the tracker keeps unix seconds)."""
    out = {k: v for k, v in record.items() if not k.startswith("_")}
    out["first_seen"] = utc_now_iso(record["first_seen"])
    out["last_seen"] = utc_now_iso(record["last_seen"])
    return out


class CampaignStage:
    """The tracker on a Faust table, the publishing of its records and its metrics."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        metrics: NetworkMetrics,
        active: ActiveCampaigns,
        tap: NetworkTap | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.metrics = metrics
        self.active = active
        self.tap = tap
        partitions = settings.campaign_partitions
        self.table = app.Table(
            TABLE_NAME,
            partitions=partitions,
            key_type=str,  # json: str keys come back as str after a recovery
            value_type=bytes,  # raw: the tracker's JSON bytes
            help="Campaign state: near-duplicate clusters and indicator groups (JSON values).",
        )
        self.tracker = CampaignTracker(
            campaign_config(settings), cast(MutableMapping[str, bytes], self.table)
        )
        self.source = app.topic(
            observations_topic(settings),
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions,
            internal=True,
        )
        self.actors = ActorTracker(cast(MutableMapping[str, bytes], self.table))
        self._ce_source = f"urn:flagstream:{settings.group_id}".encode()
        self._needs_rebuild = True
        #: near-duplicate campaign id -> its newest exemplar when its band keys were learned
        self._learned: dict[str, list[bytes]] = {}
        #: near-duplicate campaign id -> the band keys it put into ActiveCampaigns.by_band
        self._bands: dict[str, list[int]] = {}
        #: the tap's totals already added to their counters (update_gauges)
        self._reported: dict[str, float] = {}
        self.table.on_recover(self._recovered)

    async def _recovered(self) -> None:
        # before any agent resumes: the pipeline learns the active campaigns at once
        self.rebuild()

    def rebuild(self) -> None:
        """Index what the recovered table holds; re-learn its active campaigns."""
        self.tracker.rebuild()
        self.active.by_band.clear()
        self.active.by_indicator.clear()
        self.active.by_signal.clear()
        self.active.kinds.clear()
        self.active.labels.clear()
        self.active.actors.clear()
        self._learned.clear()
        self._bands.clear()
        for key, raw in list(self.table.items()):
            if key.startswith("a:"):
                continue
            data = self.tracker.decode(raw)
            if data.get("active"):
                self._learn(key, data)
        for standing in self.actors.rebuild():
            self.active.actors[standing.author_id] = standing
        self._needs_rebuild = False
        log.info(
            "campaign state: %d groups, %d active campaigns", self.tracker.groups, len(self.active)
        )

    def _learn(self, key: str, data: dict[str, Any]) -> None:
        cid = data["id"]
        self.active.kinds[cid] = data["kind"]
        self.active.labels[cid] = dict(data.get("labels", {}))
        if data["kind"] == NEAR_DUPLICATE:
            exemplars: list[bytes] = data["exemplars"]
            # a growing campaign is learned again at each record: its band keys only when its
            # exemplars changed (they were 37 % of a live worker's CPU on a 50k firehose)
            if self._learned.get(cid) == exemplars[-1:]:
                return
            self._learned[cid] = exemplars[-1:]
            hasher = self.tracker.hasher
            matrix = np.frombuffer(b"".join(exemplars), "<u4").reshape(-1, hasher.num_perm)
            full = matrix[matrix.max(axis=1) >= 1 << 16]  # a 16-bit founder's has no bands
            by_band = self.active.by_band
            bands = hasher.band_keys(full.astype(np.uint32)).ravel().tolist()
            for band in bands:
                by_band[band] = cid
            self._bands.setdefault(cid, []).extend(bands)
        elif data["kind"] == SIGNAL_LIST:
            self.active.by_signal[key[2:]] = cid
        else:
            self.active.by_indicator[key[2:]] = cid

    def _forget(self, key: str, data: dict[str, Any]) -> None:
        """An active campaign expired (idle for longer than W): the pipeline stops naming it.

        Without this the maps grew with every campaign ever seen, until the next rebuild."""
        cid = data["id"]
        active = self.active
        active.kinds.pop(cid, None)
        active.labels.pop(cid, None)
        self._learned.pop(cid, None)
        if data["kind"] == NEAR_DUPLICATE:
            by_band = active.by_band
            for band in self._bands.pop(cid, ()):
                if by_band.get(band) == cid:  # not since taken by a newer campaign
                    del by_band[band]
        elif data["kind"] == SIGNAL_LIST:
            if active.by_signal.get(key[2:]) == cid:
                del active.by_signal[key[2:]]
        elif active.by_indicator.get(key[2:]) == cid:
            del active.by_indicator[key[2:]]

    async def handle_guarded(self, value: bytes) -> None:
        """:meth:`handle`, never raising into Faust.

        An agent that raises is restarted by Faust, and its stream iterator acks the event in a
        ``finally``: the bundle would be committed without having been applied, its members in
        no campaign, and nothing but a crash log to say so. Here a failure is logged with the
        bundle's place and counted (``flagstream_campaign_bundle_errors_total``), and the bundle
        is applied again on a state rebuilt from the table (members already applied are dropped
        by event id); a second failure drops it, logged as an error. Cancellation is not caught.
        """
        try:
            await self.handle(value)
            return
        except Exception as exc:
            where = _bundle_place()
            log.warning("campaign bundle %s failed (%r); applying it again on a rebuilt state",
                        where, exc)  # fmt: skip
            self.metrics.bundle_errors.labels("retried").inc()
            self._needs_rebuild = True
        try:
            await self.handle(value)
        except Exception:
            log.exception("campaign bundle %s failed again and is dropped: its members are in "
                          "no campaign", where)  # fmt: skip
            self.metrics.bundle_errors.labels("dropped").inc()

    async def handle(self, value: bytes) -> None:
        """One routed bundle: update the state, publish the campaigns it made or grew."""
        if self._needs_rebuild:
            self.rebuild()
        started = time.perf_counter()
        observations = decode_bundle(value)
        records = self.tracker.observe(observations)
        for key, data in self.tracker.take_expired():
            self._forget(key, data)
        for standing in self.actors.observe(o for o in observations if o.actor):
            self.active.actors[standing.author_id] = standing
        for author in self.actors.expire():
            self.active.actors.pop(author, None)
        metrics = self.metrics
        for kind, added in self.tracker.take_added().items():  # published or held back
            metrics.campaign_members.labels(kind).inc(added)
        await self._publish(records)
        if observations:
            newest = max(o.ts for o in observations)
            self.metrics.stage_delay.set(max(time.time() - newest, 0.0))
        self.metrics.stage_seconds.observe(time.perf_counter() - started)

    async def flush(self) -> None:
        """Publish the campaigns whose growth was held back and that stopped growing
        (``CampaignTracker.flush``); called on a timer, between bundles."""
        if self._needs_rebuild:
            return
        await self._publish(self.tracker.flush())

    async def _publish(self, records: list[dict[str, Any]]) -> None:
        metrics = self.metrics
        pending = []
        for record in records:
            key = record["_key"]
            data = self.tracker.group(key)
            if data is not None:
                self._learn(key, data)
            kind = record["kind"]
            if record["_new"]:
                metrics.campaigns_detected.labels(kind).inc()
            fut = await self.app.producer.send(
                self.settings.campaign_topic,
                record["campaign_id"].encode(),
                orjson.dumps(publishable(record)),
                partition=None,
                timestamp=None,
                headers=campaign_headers(record, self._ce_source),
            )
            pending.append((kind, fut))
        # every record acknowledged before the bundle is acked; awaited together, not one
        # round trip each (a bundle of a live firehose grows hundreds of campaigns)
        for kind, fut in pending:
            await fut
            metrics.campaign_records.labels(kind).inc()

    def update_gauges(self) -> None:
        m = self.metrics
        m.state_groups.set(self.tracker.groups)
        m.state_bytes.set(self.tracker.state_bytes())  # the table's values and the singletons
        pending, remaining = changelog_lag(self.app)
        m.changelog_pending.set(pending)
        m.changelog_recovery_remaining.set(remaining)
        counts = dict.fromkeys(("near_duplicate", "shared_indicator", "signal_list"), 0)
        for kind in list(self.active.kinds.values()):
            counts[kind] = counts.get(kind, 0) + 1
        for kind, count in counts.items():
            m.active_campaigns.labels(kind).set(count)
        if self.tap is not None:
            # the tap's running totals (the pipeline's thread writes them), as counter increments
            tap = self.tap
            for name, counter, total in (
                ("features", m.features_seconds, tap.cpu_seconds),
                ("watched", m.near_duplicate_watched, tap.watched_events),
                ("flagged", m.flagged_in_campaign, tap.flagged_in_campaign),
            ):
                reported = self._reported.get(name, 0.0)
                if total > reported:
                    counter.inc(total - reported)
                    self._reported[name] = total


def changelog_lag(app: faust.App) -> tuple[int, int]:
    """How far the campaign table's changelog is from the table, in records: (writes waiting to
    be sent, records left to read in a recovery).

    Faust's in-memory store keeps no changelog offsets of its own (``persisted_offset`` is
    None), so this is the closest honest measure it exposes: table writes queue in the
    producer's buffer (``send_soon``) until they are sent, and a recovery reads the changelog
    from ``active_offsets`` up to ``active_highwaters`` (``Recovery.active_remaining_total``).
    The buffer is the app's; in this worker only the campaign table writes through it.
    """
    pending = int(app.producer.buffer.size)
    tables: Any = app.tables  # faust's TableManager: its type (TableManagerT) omits `recovery`
    remaining = int(tables.recovery.active_remaining_total())
    return pending, remaining


def changelog_topic(settings: Settings) -> str:
    """Faust's name for the table's changelog."""
    return f"{settings.group_id}-{TABLE_NAME}-changelog"


def create_stage_topics(settings: Settings) -> list[str]:
    """Create the repartition topic and the changelog (``campaign_partitions`` each, the
    changelog compacted) and the campaigns topic (the broker's defaults), when missing."""
    n = settings.campaign_partitions
    wanted = [
        NewTopic(observations_topic(settings), n, -1),
        NewTopic(changelog_topic(settings), n, -1, topic_configs={"cleanup.policy": "compact"}),
        NewTopic(settings.campaign_topic, -1, -1),
    ]
    admin = admin_client(settings, "flagstream-networks")
    created: list[str] = []
    try:
        existing = set(admin.list_topics())
        for topic in wanted:
            if topic.name in existing:
                continue
            try:
                admin.create_topics([topic], timeout_ms=30_000)
                created.append(topic.name)
            except TopicAlreadyExistsError:  # another worker was quicker
                pass
    finally:
        admin.close()
    return created


def _bundle_place() -> str:
    """``topic-partition@offset`` of the bundle being handled (Faust's current event)."""
    event = faust.current_event()
    if event is None:
        return "(outside a stream)"
    message = event.message
    return f"{message.topic}-{message.partition}@{message.offset}"


def register_campaign_stage(
    app: faust.App,
    settings: Settings,
    metrics: NetworkMetrics,
    tap: NetworkTap,
) -> CampaignStage:
    """The campaign agent and its table on ``app``; ``tap`` learns the active campaigns.

    The repartition topic and the campaigns topic are created first, when missing: a topic that
    appears after the group has formed is picked up only by a later rebalance.
    """
    if settings.create_missing_topics:
        try:
            create_stage_topics(settings)
        except (FlagstreamError, KafkaError) as exc:  # no broker yet: Faust declares them later
            log.warning("could not create the campaign stage's topics yet: %r", exc)
    stage = CampaignStage(app, settings, metrics, tap.active, tap)

    async def campaigns(stream: Any) -> None:  # a faust.Stream of raw bundles
        async for value in stream:
            await stage.handle_guarded(value)

    app.agent(stage.source, name="flagstream.campaigns", concurrency=1)(campaigns)

    @app.timer(GAUGE_INTERVAL_S)
    async def campaign_gauges() -> None:
        stage.update_gauges()

    @app.timer(FLUSH_INTERVAL_S)
    async def campaign_flush() -> None:
        await stage.flush()

    return stage
