"""Start-up checks against the cluster: the topics exist (or are created) and the size limits.

Run once per worker start, in a thread (kafka-python's admin client blocks). A record larger than
the producer's ``max_request_size`` is refused by the producer, one larger than a topic's
``max.message.bytes`` by the broker: the smaller of the two is the largest record the worker
publishes (:attr:`ClusterCheck.publish_limit`); a larger output becomes a ``too_large`` dead
letter instead of a send that can never succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.errors import BrokerError, ConfigError
from streams.kafka_clients import admin_client
from streams.settings import Settings

#: what a flagged record adds around the event it carries (scores, model, timings, headers)
FLAGGED_ENVELOPE_BYTES = 8_192
MAX_MESSAGE_BYTES = "max.message.bytes"


@dataclass(frozen=True, slots=True)
class ClusterCheck:
    publish_limit: int
    topic_limits: dict[str, int]
    created: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # not created (create_missing_topics off)
    notes: list[str] = field(default_factory=list)  # warnings for the operator


def publish_limit(settings: Settings, topic_limits: dict[str, int]) -> tuple[int, list[str]]:
    """The largest record to publish, and warnings; raises ConfigError if events cannot fit."""
    producer = settings.producer_max_request_bytes
    limit = min([producer, *topic_limits.values()])
    notes = [
        f"topic {topic!r} takes records up to {value} bytes (max.message.bytes), less than the "
        f"producer's {producer} (producer_max_request_bytes): larger outputs are dead-lettered "
        "as too_large"
        for topic, value in sorted(topic_limits.items())
        if value < producer
    ]
    if settings.max_event_bytes + FLAGGED_ENVELOPE_BYTES > limit:
        raise ConfigError(
            f"max_event_bytes={settings.max_event_bytes} leaves no room for a flagged record "
            f"under the publish limit of {limit} bytes (producer_max_request_bytes and the "
            f"output topics' max.message.bytes {topic_limits}): lower FLAGSTREAM_MAX_EVENT_BYTES "
            f"below {limit - FLAGGED_ENVELOPE_BYTES} or raise the limits"
        )
    return limit, notes


def check_cluster(settings: Settings) -> ClusterCheck:
    """Create missing topics (if allowed), read the output topics' size limits.

    Raises BrokerError when the cluster cannot be reached (the caller retries), ConfigError when
    the limits cannot hold an event of ``max_event_bytes``.
    """
    admin = admin_client(settings, "flagstream-startup")
    try:
        topics = (settings.input_topic, settings.flagged_topic, settings.dlq_topic)
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        created: list[str] = []
        if missing and settings.create_missing_topics:
            for name in missing:
                try:
                    # -1: the broker's num.partitions and default.replication.factor
                    admin.create_topics([NewTopic(name, -1, -1)], timeout_ms=30_000)
                    created.append(name)
                except TopicAlreadyExistsError:  # another worker was quicker
                    pass
            missing = []
        outputs = [t for t in (settings.flagged_topic, settings.dlq_topic) if t not in missing]
        described = admin.describe_configs(
            [
                ConfigResource(ConfigResourceType.TOPIC, t, {MAX_MESSAGE_BYTES: None})
                for t in outputs
            ],
            config_filter="all",
        )
        topic_limits = {
            t: int(described["topic"][t][MAX_MESSAGE_BYTES]["value"])
            for t in outputs
            if MAX_MESSAGE_BYTES in described.get("topic", {}).get(t, {})
        }
    except KafkaError as exc:
        raise BrokerError(
            f"start-up check of the cluster at {settings.bootstrap} failed ({exc!r}); check the "
            "brokers and FLAGSTREAM_BOOTSTRAP"
        ) from None
    finally:
        admin.close()
    limit, notes = publish_limit(settings, topic_limits)
    notes += [f"created missing topic {name!r} (create_missing_topics)" for name in created]
    return ClusterCheck(limit, topic_limits, created, missing, notes)
