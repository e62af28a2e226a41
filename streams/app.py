"""The Faust application, built from settings (nothing happens at import time).

Faust reads ~80 of its settings from unprefixed environment variables (``BROKER_URL``,
``PRODUCER_ACKS``, ``APP_WEB_ENABLED``...) ahead of the values passed in code. The app is given
an empty environment instead, so only flagstream's settings (``FLAGSTREAM_*`` and the config
file) configure it.
"""

from __future__ import annotations

from typing import Any

import faust

from streams.consumer import FlagstreamApp
from streams.kafka_clients import ssl_context
from streams.settings import Settings

PRODUCER_REQUEST_TIMEOUT_S = 20.0


def faust_credentials(settings: Settings) -> Any:
    """Faust broker credentials for the configured security protocol (None: PLAINTEXT)."""
    if settings.security_protocol == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if settings.security_protocol == "SSL":
        return faust.SSLCredentials(context)
    assert settings.sasl_password is not None  # enforced by Settings
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=settings.sasl_password.get_secret_value(),
        mechanism=settings.sasl_mechanism,
        ssl_context=context,
    )


def poll_records(settings: Settings) -> int | None:
    """Records one poll may return: 4 batches with campaigns on, else Faust's default (None)."""
    return 4 * settings.batch_max if settings.campaigns_enabled else None


def create_app(settings: Settings) -> FlagstreamApp:
    """A Faust app for one worker process of the consumer group ``settings.group_id``."""
    return FlagstreamApp(
        settings.group_id,
        env={},  # Faust's own environment variables must not override these (module docstring)
        debug=False,
        broker=settings.kafka_url,
        broker_credentials=faust_credentials(settings),
        autodiscover=False,
        web_enabled=False,  # metrics are served by streams.health on metrics_addr
        web_bind="127.0.0.1",  # pinned too: Faust's import-time F_WEB_PORT would change them
        web_port=6066,
        datadir=str(settings.data_dir),
        consumer_auto_offset_reset=settings.auto_offset_reset,
        producer_acks=-1,  # all in-sync replicas: an acknowledged flag survives a broker loss
        producer_linger_ms=1,
        stream_buffer_maxsize=max(4 * settings.batch_max, 4096),
        # with campaigns on, a few batches a poll, not a whole fetch: the input sink's deliver
        # waits until what it was given is nearly processed, and under a backlog a whole fetch
        # (thousands of records a partition) held the stage's observations back for a second
        # (streams/consumer.py). Without them there is no other topic to wait, and the cap cost
        # 40 % of the drain throughput (docs/performance.md, session 15): Faust's default then
        broker_max_poll_records=poll_records(settings),
        broker_commit_interval=1.0,
        topic_disable_leader=True,  # no leader election topic: this app has no timers or tables
        producer_max_request_size=settings.producer_max_request_bytes,
        # Faust's default is 20 minutes: a send waiting for an unreachable broker would outlive
        # every retry bound and shutdown; the batch runner retries what times out
        producer_request_timeout=PRODUCER_REQUEST_TIMEOUT_S,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        consumer_group_instance_id=settings.group_instance_id,
        consumer_metadata_max_age_ms=int(settings.metadata_max_age_s * 1000),
    )
