"""Every Prometheus metric flagstream exports, declared in one place.

Processing code calls the small helpers on :class:`WorkerMetrics`; it never builds metric names.
Label values come from small known sets (topic, partition, label, action, reason, model role):
never an author id or an event id. Tests pass a fresh ``CollectorRegistry``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

NS = "flagstream"

# Latency buckets in seconds: sub-millisecond classify up to multi-second backlog.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SCORE_BUCKETS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
# batch: the worker exits (a broker failure outlasted broker_retry_timeout_s, or the pipeline
# fails on every input); processing: an event failed and its batch was split to isolate it;
# broker: a send or acknowledgement failed and is retried with backoff
ERROR_STAGES = ("batch", "processing", "broker")
ACTIONS = ("allow", "review", "block")
# which model's scores stand for an event (streams.classify: codes 0, 1, 2)
DECIDERS = ("fast", "accurate", "fast-degraded")
# the kinds of campaign records (streams.networks.campaigns.KINDS; campaign.v1.json)
CAMPAIGN_KINDS = ("near_duplicate", "shared_indicator", "signal_list")
DLQ_REASONS = (
    "invalid_utf8",
    "invalid_json",
    "schema",
    "oversized",
    "tombstone",
    "too_deep",
    "too_large",
    "processing_error",
)


def process_registry() -> CollectorRegistry:
    """A registry with the standard process_* and python_info series (memory, CPU, start time)."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


class WorkerMetrics:
    """The worker's metrics, bound to one registry."""

    def __init__(self, registry: CollectorRegistry, labels: Sequence[str]) -> None:
        self.registry = registry
        self.labels = tuple(labels)
        self.build_info = Info(
            f"{NS}_build", "flagstream version of this process.", registry=registry
        )
        self.model_info = Gauge(
            f"{NS}_model_info",
            "The model in use (value 1): name, version, sha256 of the file and its role.",
            ["role", "name", "version", "sha256"],
            registry=registry,
        )
        self.policy_info = Gauge(
            f"{NS}_policy_info", "The policy in use (value 1).", ["version"], registry=registry
        )
        self.events_consumed = Counter(
            f"{NS}_events_consumed_total",
            "Events read from the input topic.",
            ["topic"],
            registry=registry,
        )
        self.decisions = Counter(
            f"{NS}_decisions_total",
            "Events decided, by action (allow, review, block).",
            ["action"],
            registry=registry,
        )
        self.label_flags = Counter(
            f"{NS}_label_flags_total",
            "Labels over threshold, by label and the action taken on the event.",
            ["label", "action"],
            registry=registry,
        )
        self.dead_letters = Counter(
            f"{NS}_dead_letters_total",
            "Events sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.published = Counter(
            f"{NS}_published_total",
            "Messages acknowledged by the broker, by output topic.",
            ["topic"],
            registry=registry,
        )
        self.decided_by = Counter(
            f"{NS}_decided_by_total",
            "Events whose scores came from each model of the cascade: fast, accurate (the "
            "encoder re-scored it), fast-degraded (it was routed to the encoder, which was "
            "skipped for want of capacity).",
            ["model"],
            registry=registry,
        )
        self.errors = Counter(
            f"{NS}_errors_total",
            "Failures by stage (batch: the worker exits to retry it after a restart; processing: "
            "an event's classification or output failed, it is dead-lettered; broker: a send "
            "or acknowledgement failed and is retried).",
            ["stage"],
            registry=registry,
        )
        self.classify_seconds = Histogram(
            f"{NS}_classify_duration_seconds",
            "Time to score one batch, by model.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_seconds = Histogram(
            f"{NS}_batch_duration_seconds",
            "Time from a batch's hand-over to its outputs being acknowledged.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.end_to_end_seconds = Histogram(
            f"{NS}_end_to_end_latency_seconds",
            "Event created_at to its decision being acknowledged by the broker.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            f"{NS}_batch_size_events",
            "Events per classified batch.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.scores = Histogram(
            f"{NS}_score",
            "Distribution of each label's score (watch it for drift).",
            ["label"],
            buckets=SCORE_BUCKETS,
            registry=registry,
        )
        self.consumer_lag = Gauge(
            f"{NS}_consumer_lag_messages",
            "High watermark minus the next offset this worker will process, per partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self.last_batch_timestamp = Gauge(
            f"{NS}_last_batch_timestamp_seconds",
            "Unix time the last batch finished.",
            registry=registry,
        )
        self.ready = Gauge(
            f"{NS}_ready",
            "1 while the worker can do its work (what /readyz answers), 0 while it cannot: "
            "starting, broker unreachable, input topic missing.",
            registry=registry,
        )
        # children created once: the hot path only increments
        self._decision_children = {a: self.decisions.labels(a) for a in ACTIONS}
        self._dlq_children = {r: self.dead_letters.labels(r) for r in DLQ_REASONS}
        self._label_children = {
            (lb, a): self.label_flags.labels(lb, a) for lb in labels for a in ACTIONS
        }
        self._score_children = [self.scores.labels(lb) for lb in labels]
        # every series exists from the start, so rates and alerts see 0 rather than nothing
        for a in ACTIONS:
            self._decision_children[a].inc(0)
        for stage in ERROR_STAGES:
            self.errors.labels(stage).inc(0)
        for model in DECIDERS:
            self.decided_by.labels(model).inc(0)

    def decision(self, action: str, count: int = 1) -> None:
        self._decision_children[action].inc(count)

    def label_flag(self, label: str, action: str, count: int = 1) -> None:
        self._label_children[(label, action)].inc(count)

    def dead_letter(self, reason: str, count: int = 1) -> None:
        self._dlq_children[reason].inc(count)

    def observe_scores(self, column: int, values: npt.NDArray[np.floating]) -> None:
        observe_many(self._score_children[column], values)

    def observe_end_to_end(self, seconds: npt.NDArray[np.floating]) -> None:
        observe_many(self.end_to_end_seconds, seconds)


def observe_many(histogram: Histogram, values: npt.NDArray[np.floating]) -> None:
    """``histogram.observe(v)`` for every value, in one pass: one increment per bucket.

    A batch of 256 events would otherwise cost 256 Python calls per histogram on the hot path.
    The result is exactly what per-value ``observe`` produces (tested); it relies on
    prometheus-client's histogram layout (per-bucket counts, ``le`` bounds ending in +Inf).
    """
    if len(values) == 0:
        return
    bounds = histogram._upper_bounds
    counts = np.bincount(
        np.minimum(np.searchsorted(bounds, values, side="left"), len(bounds) - 1),
        minlength=len(bounds),
    )
    buckets = histogram._buckets
    for i in np.flatnonzero(counts).tolist():
        buckets[i].inc(int(counts[i]))
    histogram._sum.inc(float(np.sum(values)))


class LagExporterMetrics:
    """Consumer-group lag as the brokers see it: exported even when every worker is down."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.committed_offset = Gauge(
            f"{NS}_group_committed_offset",
            "Last committed offset of the consumer group, per partition.",
            ["group", "topic", "partition"],
            registry=registry,
        )
        self.end_offset = Gauge(
            f"{NS}_topic_end_offset",
            "Log end offset (high watermark) per partition.",
            ["topic", "partition"],
            registry=registry,
        )
        self.group_lag = Gauge(
            f"{NS}_group_lag_messages",
            "End offset minus committed offset, per partition of the group.",
            ["group", "topic", "partition"],
            registry=registry,
        )
        self.scrape_errors = Counter(
            f"{NS}_lag_exporter_errors_total",
            "Failed polls of the brokers by the lag exporter.",
            registry=registry,
        )
        self.last_poll_timestamp = Gauge(
            f"{NS}_lag_exporter_last_success_timestamp_seconds",
            "Unix time of the last successful poll of the brokers.",
            registry=registry,
        )


# campaign kinds (streams.networks.campaigns.KINDS): the `kind` label of the campaign metrics
CAMPAIGN_KINDS = ("near_duplicate", "shared_indicator", "signal_list")


class NetworkMetrics:
    """Campaigns and indicators (``streams.networks``); label values: the campaign kinds."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.campaign_records = Counter(
            f"{NS}_campaign_records_total",
            "Campaign records published: a campaign crossing K, or growing, by kind.",
            ["kind"],
            registry=registry,
        )
        self.campaigns_detected = Counter(
            f"{NS}_campaigns_detected_total",
            "Groups that became campaigns (crossed K distinct authors within W), by kind.",
            ["kind"],
            registry=registry,
        )
        self.campaign_members = Counter(
            f"{NS}_campaign_members_total",
            "Events added to an active campaign (its K-th member and every later one), by kind.",
            ["kind"],
            registry=registry,
        )
        self.bundle_errors = Counter(
            f"{NS}_campaign_bundle_errors_total",
            "Observation bundles the campaign stage failed to apply (retried once on a rebuilt "
            "state; outcome: retried, dropped).",
            ["outcome"],
            registry=registry,
        )
        self.active_campaigns = Gauge(
            f"{NS}_campaigns_active",
            "Campaigns this worker holds that were active within the window, by kind.",
            ["kind"],
            registry=registry,
        )
        self.state_groups = Gauge(
            f"{NS}_campaign_state_groups",
            "Groups (candidate campaigns: clusters and indicators) in this worker's tables.",
            registry=registry,
        )
        self.state_bytes = Gauge(
            f"{NS}_campaign_state_bytes",
            "Bytes of the stored values of this worker's campaign tables.",
            registry=registry,
        )
        self.changelog_pending = Gauge(
            f"{NS}_campaign_changelog_pending_writes",
            "Writes to the campaign table not yet handed to the producer for its changelog "
            "(Faust's producer buffer): the changelog is behind the table by this many records, "
            "and Faust's offset commits wait for them.",
            registry=registry,
        )
        self.changelog_recovery_remaining = Gauge(
            f"{NS}_campaign_changelog_recovery_remaining_messages",
            "Changelog records of the campaign table this worker still has to read before its "
            "partitions are recovered (0 once they are; the stage waits meanwhile).",
            registry=registry,
        )
        self.flagged_in_campaign = Counter(
            f"{NS}_flagged_in_campaign_total",
            "Flagged events published with the campaign_id of an active campaign.",
            registry=registry,
        )
        self.near_duplicate_watched = Counter(
            f"{NS}_campaign_watched_events_total",
            "Events whose near-duplicate signature went to the campaign stage (campaign_scope "
            "'suspect': the flagged, watched, listed and indicator-carrying ones).",
            registry=registry,
        )
        self.features_seconds = Counter(
            f"{NS}_network_features_seconds_total",
            "CPU spent extracting indicators and MinHash signatures on the hot path, seconds.",
            registry=registry,
        )
        self.stage_seconds = Histogram(
            f"{NS}_campaign_stage_seconds",
            "Time the campaign stage spent on one routed bundle of observations.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.stage_delay = Gauge(
            f"{NS}_campaign_stage_delay_seconds",
            "Now minus the event time of the newest observation the campaign stage processed.",
            registry=registry,
        )
        # every kind's series exists from the start, so rates and alerts see 0 rather than nothing
        for kind in CAMPAIGN_KINDS:
            for family in (self.campaign_records, self.campaigns_detected, self.campaign_members):
                family.labels(kind).inc(0)
            self.active_campaigns.labels(kind).set(0)
        for outcome in ("retried", "dropped"):
            self.bundle_errors.labels(outcome).inc(0)


class SignalMetrics:
    """Signal lists (``streams.networks.signals*``). Label ``list``: the operator's list names
    (a small set they create); ``kind``: indicator, text_exact, text_near."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.loaded = Gauge(
            f"{NS}_signals_loaded",
            "Signals in this worker's index, by list and kind.",
            ["list", "kind"],
            registry=registry,
        )
        self.matches = Counter(
            f"{NS}_signal_matches_total",
            "Events flagged because they matched a signal, by list and kind.",
            ["list", "kind"],
            registry=registry,
        )
        self.updates = Counter(
            f"{NS}_signal_updates_total",
            "Signal records applied from the signals topic: upsert, tombstone, invalid, over_cap.",
            ["outcome"],
            registry=registry,
        )
        self.last_update = Gauge(
            f"{NS}_signals_last_update_timestamp_seconds",
            "Unix time of the newest signal record applied (0: none yet); the update age is "
            "time() minus this.",
            registry=registry,
        )
        self.caught_up = Gauge(
            f"{NS}_signals_caught_up_timestamp_seconds",
            "Unix time the follower last read the signals topic to its end: proves it is live.",
            registry=registry,
        )
        for outcome in ("upsert", "tombstone", "invalid", "over_cap"):
            self.updates.labels(outcome)
