"""Topic administration through kafka-python's admin client."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.errors import BrokerError
from streams.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int


def admin_client(settings: Settings, client_id: str = "flagstream-admin") -> KafkaAdminClient:
    kwargs: dict[str, object] = {
        "bootstrap_servers": settings.bootstrap.split(","),
        "client_id": client_id,
        "security_protocol": settings.security_protocol,
        "request_timeout_ms": 30_000,
    }
    if settings.sasl_mechanism:
        kwargs["sasl_mechanism"] = settings.sasl_mechanism
        kwargs["sasl_plain_username"] = settings.sasl_username
        kwargs["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    try:
        return KafkaAdminClient(**kwargs)
    except KafkaError as exc:
        raise BrokerError(
            f"cannot reach Kafka at {settings.bootstrap} ({exc!r}); start it (deploy/local/kafka up) "
            "or fix --bootstrap / FLAGSTREAM_BOOTSTRAP"
        ) from None


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
