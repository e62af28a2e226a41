"""kafka-python clients (admin, producer, consumer) built from the settings, and topic creation.

One place turns bootstrap, security protocol and SASL settings into client configuration, so every
command talks to a secured cluster the same way the worker does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.errors import BrokerError
from streams.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int


def client_config(settings: Settings, client_id: str) -> dict[str, Any]:
    """kafka-python client settings from flagstream's (bootstrap, security, SASL)."""
    config: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.bootstrap.split(",")],
        "client_id": client_id,
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism:
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return config


def _unreachable(settings: Settings, exc: KafkaError) -> BrokerError:
    return BrokerError(
        f"cannot reach Kafka at {settings.bootstrap} ({exc!r}); start it (deploy/local/kafka up) "
        "or fix --bootstrap / FLAGSTREAM_BOOTSTRAP"
    )


def admin_client(settings: Settings, client_id: str = "flagstream-admin") -> KafkaAdminClient:
    try:
        return KafkaAdminClient(**client_config(settings, client_id), request_timeout_ms=30_000)
    except KafkaError as exc:
        raise _unreachable(settings, exc) from None


def producer(settings: Settings, client_id: str, **options: Any) -> KafkaProducer:
    try:
        return KafkaProducer(**client_config(settings, client_id), **options)
    except KafkaError as exc:
        raise _unreachable(settings, exc) from None


def consumer(settings: Settings, client_id: str, *topics: str, **options: Any) -> KafkaConsumer:
    try:
        return KafkaConsumer(*topics, **client_config(settings, client_id), **options)
    except KafkaError as exc:
        raise _unreachable(settings, exc) from None


def create_topics(settings: Settings, specs: Iterable[TopicSpec]) -> dict[str, str]:
    """Create each topic unless it exists; returns name → 'created' or 'exists'."""
    admin = admin_client(settings)
    outcome: dict[str, str] = {}
    try:
        existing = set(admin.list_topics())
        for spec in specs:
            if spec.name in existing:
                outcome[spec.name] = "exists"
                continue
            try:
                admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, spec.replication_factor)],
                    timeout_ms=30_000,
                    wait_for_metadata=True,
                )
                outcome[spec.name] = "created"
            except TopicAlreadyExistsError:
                outcome[spec.name] = "exists"
    except KafkaError as exc:
        raise BrokerError(f"creating topics on {settings.bootstrap} failed: {exc!r}") from None
    finally:
        admin.close()
    return outcome
