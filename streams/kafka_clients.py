"""kafka-python clients (admin, producer, consumer) built from the settings, and topic creation.

One place turns bootstrap, security protocol and SASL settings into client configuration, so every
command talks to a secured cluster the same way the worker does.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import (
    AuthorizationError,
    KafkaError,
    SaslAuthenticationFailedError,
    TopicAlreadyExistsError,
)

from streams.errors import BrokerError, ConfigError
from streams.settings import Settings


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context every client uses with the brokers (None: no TLS).

    Verification is always on: the CA file (or the system trust store), the client certificate
    and key for mutual TLS, and the host name unless ``ssl_check_hostname`` is off.
    """
    if not settings.security_protocol.endswith("SSL"):
        return None
    cafile = None if settings.ssl_ca_file is None else str(settings.ssl_ca_file)
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"ssl_ca_file {settings.ssl_ca_file}: not a PEM file of CA certificates ({exc}); "
            "fix FLAGSTREAM_SSL_CA_FILE"
        ) from None
    context.check_hostname = settings.ssl_check_hostname
    if settings.ssl_cert_file is not None:
        password = settings.ssl_key_password
        try:
            context.load_cert_chain(
                str(settings.ssl_cert_file),
                None if settings.ssl_key_file is None else str(settings.ssl_key_file),
                None if password is None else password.get_secret_value(),
            )
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"ssl_cert_file {settings.ssl_cert_file} / ssl_key_file {settings.ssl_key_file}: "
                f"cannot load the client certificate and key ({exc}); check the files and "
                "FLAGSTREAM_SSL_KEY_PASSWORD"
            ) from None
    return context


def client_config(settings: Settings, client_id: str) -> dict[str, Any]:
    """kafka-python client settings from flagstream's (bootstrap, security, SASL, TLS)."""
    config: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in settings.bootstrap.split(",")],
        "client_id": client_id,
        "security_protocol": settings.security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    if settings.sasl_mechanism:
        config["sasl_mechanism"] = settings.sasl_mechanism
        config["sasl_plain_username"] = settings.sasl_username
        if settings.sasl_password is not None:
            config["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return config


def failure_hint(settings: Settings, exc: BaseException) -> str:
    """What to fix when a client could not talk to the brokers, from the error's real cause."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, SaslAuthenticationFailedError):
            return (
                f"the brokers refused the SASL credentials of user {settings.sasl_username!r} "
                f"({settings.sasl_mechanism}): check FLAGSTREAM_SASL_USERNAME, "
                "FLAGSTREAM_SASL_PASSWORD(_FILE) and FLAGSTREAM_SASL_MECHANISM"
            )
        if isinstance(seen, AuthorizationError):
            return f"user {settings.sasl_username!r} is not authorised ({type(seen).__name__}): ask for the ACLs"
        if isinstance(seen, ssl.SSLCertVerificationError):
            return (
                f"the broker's TLS certificate is not trusted ({seen.verify_message}): set "
                "FLAGSTREAM_SSL_CA_FILE to the CA that signs it (or FLAGSTREAM_SSL_CHECK_HOSTNAME=0 "
                "if only the host name differs)"
            )
        if isinstance(seen, ssl.SSLError):
            return f"the TLS handshake failed ({seen.reason}): check FLAGSTREAM_SECURITY_PROTOCOL and the SSL settings"
        seen = seen.__cause__ or seen.__context__
    return (
        f"no broker answered at {settings.bootstrap} over {settings.security_protocol}: check "
        "that the brokers run and FLAGSTREAM_BOOTSTRAP / --bootstrap and "
        "FLAGSTREAM_SECURITY_PROTOCOL"
    )


def _unreachable(settings: Settings, exc: KafkaError) -> BrokerError:
    return BrokerError(
        f"cannot use Kafka at {settings.bootstrap} ({type(exc).__name__}): {failure_hint(settings, exc)}"
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
