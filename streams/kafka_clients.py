"""kafka-python clients (admin, producer, consumer) built from the settings, and topic creation.

One place turns bootstrap, security protocol and SASL settings into client configuration, so every
command talks to a secured cluster the same way the worker does.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

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


class _Failures(logging.Handler):
    """Collects what kafka-python logs about failed connections while a client bootstraps.

    Its client raises only a timeout when bootstrapping fails; the cause (refused credentials,
    an untrusted certificate) is in its warnings. Messages are read as text: the redaction of
    :mod:`streams.logfilter` has already formatted them.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.lines) < 50:
            self.lines.append(record.getMessage())


@contextmanager
def _watch_failures() -> Iterator[_Failures]:
    failures = _Failures()
    kafka_log = logging.getLogger("kafka")
    kafka_log.addHandler(failures)
    try:
        yield failures
    finally:
        kafka_log.removeHandler(failures)


_CAUSES = (
    ("SaslAuthenticationFailed", "sasl"),
    ("Authentication failed", "sasl"),
    ("UnsupportedSaslMechanism", "mechanism"),
    ("CERTIFICATE_VERIFY_FAILED", "certificate"),
    ("SSL", "tls"),
    ("ECONNREFUSED", "refused"),
)


def failure_hint(settings: Settings, exc: BaseException, seen: Sequence[str] = ()) -> str:
    """What to fix when a client could not talk to the brokers, from the error's real cause.

    ``seen``: what the client logged meanwhile (:func:`_watch_failures`), where kafka-python
    reports the cause of a bootstrap that ends in a bare timeout.
    """
    texts: list[str] = []
    error: BaseException | None = exc
    while error is not None:
        texts.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    texts += seen
    causes = {cause for text in texts for marker, cause in _CAUSES if marker in text}
    user, mechanism = settings.sasl_username, settings.sasl_mechanism
    if "sasl" in causes:
        return (
            f"the brokers refused the SASL credentials of user {user!r} ({mechanism}): check "
            "FLAGSTREAM_SASL_USERNAME, FLAGSTREAM_SASL_PASSWORD(_FILE) and FLAGSTREAM_SASL_MECHANISM"
        )
    if "mechanism" in causes:
        return f"the brokers do not offer SASL mechanism {mechanism}: fix FLAGSTREAM_SASL_MECHANISM"
    if "certificate" in causes:
        return (
            "the broker's TLS certificate is not trusted (certificate verify failed): set "
            "FLAGSTREAM_SSL_CA_FILE to the CA that signs it, or FLAGSTREAM_SSL_CHECK_HOSTNAME=0 if "
            "only its host name differs"
        )
    if "tls" in causes:
        return (
            f"the connection to {settings.bootstrap} failed in or right after the TLS handshake: "
            "check that FLAGSTREAM_SECURITY_PROTOCOL is the listener's protocol (SSL or "
            "SASL_SSL) and the FLAGSTREAM_SSL_* files"
        )
    if "refused" in causes:
        return (
            f"nothing listens at {settings.bootstrap}: start the brokers or fix "
            "FLAGSTREAM_BOOTSTRAP / --bootstrap"
        )
    return (
        f"no broker answered at {settings.bootstrap} over {settings.security_protocol}: check "
        "that the brokers run, FLAGSTREAM_BOOTSTRAP / --bootstrap and FLAGSTREAM_SECURITY_PROTOCOL"
    )


def _unreachable(settings: Settings, exc: KafkaError, seen: Sequence[str] = ()) -> BrokerError:
    return BrokerError(
        f"cannot use Kafka at {settings.bootstrap} ({type(exc).__name__}): "
        f"{failure_hint(settings, exc, seen)}"
    )


def admin_client(settings: Settings, client_id: str = "flagstream-admin") -> KafkaAdminClient:
    config = client_config(settings, client_id)
    with _watch_failures() as failures:
        try:
            return KafkaAdminClient(**config, request_timeout_ms=30_000)
        except KafkaError as exc:
            raise _unreachable(settings, exc, failures.lines) from None


def producer(settings: Settings, client_id: str, **options: Any) -> KafkaProducer:
    config = client_config(settings, client_id)
    with _watch_failures() as failures:
        try:
            return KafkaProducer(**config, **options)
        except KafkaError as exc:
            raise _unreachable(settings, exc, failures.lines) from None


def consumer(settings: Settings, client_id: str, *topics: str, **options: Any) -> KafkaConsumer:
    config = client_config(settings, client_id)
    with _watch_failures() as failures:
        try:
            return KafkaConsumer(*topics, **config, **options)
        except KafkaError as exc:
            raise _unreachable(settings, exc, failures.lines) from None


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
        raise BrokerError(
            f"creating topics on {settings.bootstrap} failed ({type(exc).__name__}): "
            f"{failure_hint(settings, exc)}"
        ) from None
    finally:
        admin.close()
    return outcome
