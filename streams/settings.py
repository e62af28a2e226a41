"""The one settings object: typed, frozen, built once at start-up.

Sources, highest precedence first: explicit overrides (CLI flags), ``FLAGSTREAM_*`` environment
variables, an optional TOML config file (``--config`` or ``FLAGSTREAM_CONFIG``), the defaults below.
Business code receives a :class:`Settings`; it never reads ``os.environ``.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from streams import shipped
from streams.errors import ConfigError

# the source checkout when run from one (models/ and bench/ in it, shared/ beside it); only
# the commands that need a checkout use it (streams/cli/source_tree.py)
REPO_DIR = shipped.package_dir().parent
# in the installed package, else in the checkout (streams/shipped.py)
DEFAULT_MODEL_PATH = shipped.model_file(shipped.FAST_MODEL)
DEFAULT_ENCODER_PATH = shipped.model_file(shipped.ENCODER_MODEL)
# the band the cascade's operating points were calibrated for (models/cascade.py; docs/model.md)
CASCADE_LOW = 0.2
CASCADE_HIGH = 0.999
DEFAULT_POLICY_PATH = shipped.package_file(shipped.POLICY)

_CONFIG_FILE: Path | None = None  # set only inside load_settings(), read by the TOML source


class Settings(BaseSettings):
    """Everything an operator can set. Environment variable: ``FLAGSTREAM_`` + the upper-case name."""

    model_config = SettingsConfigDict(
        env_prefix="FLAGSTREAM_", frozen=True, extra="forbid", validate_default=True
    )

    # --- Kafka ---
    bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, comma separated host:port."
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How the worker talks to the brokers."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism when security_protocol is SASL_*."
    )
    sasl_username: str | None = Field(None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(
        None,
        description=(
            "SASL password; never logged nor exported as a metric. FLAGSTREAM_SASL_PASSWORD_FILE "
            "reads it from a file (a mounted Kubernetes Secret) instead."
        ),
    )
    ssl_ca_file: Path | None = Field(
        None,
        description=(
            "PEM file of the CAs that sign the brokers' certificates (SSL, SASL_SSL). Unset: "
            "the system's trust store."
        ),
    )
    ssl_cert_file: Path | None = Field(
        None, description="PEM client certificate (chain) for mutual TLS with the brokers."
    )
    ssl_key_file: Path | None = Field(
        None, description="PEM private key of ssl_cert_file (default: inside ssl_cert_file)."
    )
    ssl_key_password: SecretStr | None = Field(
        None,
        description="Password of an encrypted ssl_key_file (or FLAGSTREAM_SSL_KEY_PASSWORD_FILE).",
    )
    ssl_check_hostname: bool = Field(
        True,
        description=(
            "Check that a broker's certificate names the host connected to. Turn off only for "
            "brokers reached by an address their certificate does not name; the chain is still "
            "verified."
        ),
    )
    group_id: str = Field(
        "flagstream", description="Consumer group (and Faust app id) shared by all workers."
    )
    input_topic: str = Field("events", description="The firehose topic the worker consumes.")
    flagged_topic: str = Field(
        "events.flagged", description="Where review/block decisions are published."
    )
    dlq_topic: str = Field(
        "events.dlq", description="Where undecodable or invalid events go, byte for byte."
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a new consumer group starts reading."
    )

    # --- batching ---
    batch_max: int = Field(256, ge=1, le=10_000, description="Most events classified at once.")
    batch_within_s: float = Field(
        0.0,
        ge=0,
        le=10,
        description=(
            "Longest wait for a batch to fill, seconds. 0: natural batching — an idle worker "
            "classifies whatever has arrived at once, and batches grow (up to batch_max) only "
            "while the previous one is being processed."
        ),
    )

    # --- input limits ---
    max_event_bytes: int = Field(
        65_536,
        ge=256,
        description="Events larger than this many bytes are dead-lettered as 'oversized'.",
    )
    max_text_chars: int = Field(
        1_000,
        ge=16,
        description="Text is truncated to this many characters before classification.",
    )

    # --- model and policy ---
    model_path: Path = Field(
        DEFAULT_MODEL_PATH, description="The fast ONNX model every event meets."
    )
    accurate_model_path: Path | None = Field(
        DEFAULT_ENCODER_PATH,
        description=(
            "The accurate (multilingual encoder) ONNX model that decides the cascade's grey "
            "zone; empty or 'none' runs the fast model alone."
        ),
    )
    # the band: rows with any fast score in it are re-scored by the encoder (all of them; see
    # streams/classify.py). Chosen on the dev splits against the routed share the worker can
    # afford (docs/model.md)
    cascade_low: float = Field(
        CASCADE_LOW,
        ge=0,
        le=1,
        description="Fast scores in [cascade_low, cascade_high) are re-scored.",
    )
    cascade_high: float = Field(
        CASCADE_HIGH, ge=0, le=1, description="Upper end of the cascade band."
    )
    cascade_max_busy: float = Field(
        0.6,
        gt=0,
        le=1,
        description=(
            "Share of wall-clock time the classifying thread may spend in the encoder tier over "
            "a 10 s window; above it whole batches "
            "skip the encoder (decided_by fast-degraded) until it falls below 80% of this."
        ),
    )
    onnx_threads: int = Field(
        1, ge=1, le=64, description="onnxruntime intra-op threads per worker process."
    )
    encoder_workers: int = Field(
        2,
        ge=1,
        le=64,
        description=(
            "Routed rows the encoder tier scores at once, each in its own model run (so a row's "
            "scores do not depend on it); set it to the CPU cores the worker may use."
        ),
    )
    policy_path: Path = Field(
        DEFAULT_POLICY_PATH, description="TOML policy: per-label thresholds and actions."
    )
    include_fields: tuple[str, ...] | None = Field(
        None,
        description=(
            "Event fields copied into flagged events (top-level names or dotted paths such as "
            "author.id); None copies the whole event."
        ),
    )
    pseudonym_key: SecretStr | None = Field(
        None,
        description=(
            "Key (at least 16 bytes, or FLAGSTREAM_PSEUDONYM_KEY_FILE) of the pseudonym that "
            "replaces author.id in flagged events: hmac-sha256: + HMAC-SHA256(key, id) in hex. "
            "Stable per key, so repeat actors stay linkable; unset: the raw id."
        ),
    )

    # --- observability ---
    metrics_addr: str = Field(
        "127.0.0.1:9108", description="host:port of the Prometheus /metrics endpoint."
    )
    metrics_max_connections: int = Field(
        64,
        ge=4,
        le=4096,
        description=(
            "Most connections open at once on metrics_addr; a new one closes the oldest, so "
            "idle connections cannot keep probes and scrapes out."
        ),
    )
    metrics_connection_timeout_s: float = Field(
        10.0,
        ge=1,
        le=300,
        description="A connection to metrics_addr is closed this long after it opened.",
    )
    metrics_username: str | None = Field(
        None, description="Basic-auth user /metrics requires (with metrics_password)."
    )
    metrics_password: SecretStr | None = Field(
        None, description="Basic-auth password of /metrics (or FLAGSTREAM_METRICS_PASSWORD_FILE)."
    )
    metrics_tls_cert_file: Path | None = Field(
        None, description="PEM certificate: metrics_addr is served over HTTPS (with the key)."
    )
    metrics_tls_key_file: Path | None = Field(
        None, description="PEM private key of metrics_tls_cert_file."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")
    log_redact: bool = Field(
        True,
        description=(
            "Redact secrets (passwords, SASL exchanges) and message payloads from every log "
            "line, at every level. Off only to debug with test data."
        ),
    )
    data_dir: Path = Field(
        Path(".flagstream-data"), description="Faust's local state directory for this worker."
    )

    # --- delivery, failures and recovery ---
    max_event_depth: int = Field(
        64,
        ge=2,
        le=200,
        description="Events whose JSON nests deeper than this are dead-lettered as 'too_deep'.",
    )
    producer_max_request_bytes: int = Field(
        1_000_000,
        ge=262_144,
        description=(
            "The producer's max_request_size. A record larger than this (or than an output "
            "topic's max.message.bytes, read at start-up) is never sent: its event is "
            "dead-lettered as 'too_large' with a truncated value."
        ),
    )
    broker_retry_timeout_s: float = Field(
        60.0,
        gt=0,
        description=(
            "How long the broker may fail to acknowledge a batch's outputs (retried with "
            "backoff) before the worker exits with status 70, naming the cause."
        ),
    )
    shutdown_timeout_s: float = Field(
        8.0,
        gt=0,
        le=300,
        description=(
            "SIGTERM: the longest wait for the batch in hand and the final commit; past it the "
            "worker exits anyway (uncommitted events are consumed again)."
        ),
    )
    create_missing_topics: bool = Field(
        True,
        description=(
            "Create the input, flagged and dead-letter topics at start-up when they are missing "
            "(the broker's default partitions and replication). Off: a missing input topic "
            "keeps /readyz at 503 until it exists, and is picked up within metadata_max_age_s."
        ),
    )
    group_instance_id: str | None = Field(
        None,
        description=(
            "Static group membership (KIP-345): a name unique and stable per worker (e.g. the "
            "pod name). A worker restarted within session_timeout_s gets its partitions back "
            "at once, without a rebalance."
        ),
    )
    session_timeout_s: float = Field(
        6.0,
        ge=6,
        le=300,
        description=(
            "How long the group waits for a silent worker (crashed, killed) before giving its "
            "partitions to the others. The default is the broker's minimum "
            "(group.min.session.timeout.ms), so that without static membership a killed "
            "worker's partitions are consumed again within 10 s."
        ),
    )
    metadata_max_age_s: float = Field(
        5.0,
        ge=1,
        le=300,
        description="How often the consumer refreshes metadata (new topics and partitions).",
    )

    # --- networks: campaigns and indicators (docs/networks.md) ---
    campaigns_enabled: bool = Field(
        False,
        description=(
            "Extract indicators from every event, near-duplicate signatures from the suspect "
            "ones (campaign_scope), and detect campaigns (a second agent with Faust tables). "
            "Off by default, opt-in: it adds three topics and a changelog-backed table per "
            "consumer group; a worker with it on drains 0.6-1.0x the events per second of one "
            "without on everyday traffic, 0.46x on the bench's spam-heavy workload "
            "(docs/networks.md, 'Cost'). Off: events are judged alone."
        ),
    )
    campaign_topic: str = Field(
        "events.campaigns", description="Where campaign records are published (CloudEvents)."
    )
    campaign_min_authors: int = Field(
        5, ge=2, le=10_000, description="K: distinct authors that make a group a campaign."
    )
    campaign_window_s: float = Field(
        3_600.0,
        gt=0,
        le=30 * 86_400,
        description="W: the K authors must be seen within this many seconds (event time).",
    )
    campaign_similarity: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Estimated Jaccard similarity (MinHash) a text needs to join a cluster.",
    )
    campaign_republish_growth: float = Field(
        0.25,
        ge=0,
        le=100,
        description=(
            "A campaign is published when it crosses K and again when its authors in the window "
            "have grown by this share since its last record (0.25: 25 % more; 0: at every "
            "growth), when campaign_republish_interval_s has passed, or when a label first "
            'appears among its members (docs/networks.md, "Re-publishing").'
        ),
    )
    campaign_republish_interval_s: float = Field(
        30.0,
        ge=0,
        le=86_400,
        description=(
            "A campaign with new authors is published again once this many seconds (event "
            "time) have passed since its last record, however little it grew (0: at every "
            "growth)."
        ),
    )
    campaign_partitions: int = Field(
        4,
        ge=1,
        le=256,
        description=(
            "Partitions of the campaign stage's repartition topic and of its tables' "
            "changelogs: how many workers can share the campaign state. Fixed once created."
        ),
    )
    campaign_scope: Literal["suspect", "all"] = Field(
        "suspect",
        description=(
            "Which events the near-duplicate stage compares. 'suspect' (the default): events "
            "the classifier flags or watches (campaign_watch), that a signal list matches, "
            "that carry a campaign indicator or name a sum of money; a campaign of "
            "benign-looking text without any contact point is then not looked for. 'all': "
            "every event with a signature, at "
            'several times the CPU per event (docs/networks.md, "Scope"). Shared-indicator '
            "and signal-list campaigns see every event either way."
        ),
    )
    campaign_watch: float = Field(
        0.5,
        ge=0,
        le=1,
        description=(
            "With campaign_scope 'suspect', an event is watched when some label scores at "
            "least this share of that label's review point (0.5: half of it; 1: flagged "
            "events only; 0: every event, like 'all')."
        ),
    )
    campaign_indicator_types: tuple[str, ...] = Field(
        ("url", "phone", "email", "wechat", "qq", "telegram", "whatsapp", "wallet"),
        description=(
            "Indicator types whose sharing by K authors is a campaign ('domain' is left out: "
            "many honest authors link the same big sites)."
        ),
    )
    indicator_default_region: str = Field(
        "US",
        min_length=2,
        max_length=2,
        description="Region (ISO 3166) for phone numbers written without + in non-CJK text.",
    )

    # --- signal lists: known-bad indicators and texts (docs/networks.md, "Signal lists") ---
    signals_enabled: bool = Field(
        True,
        description=(
            "Load the signal lists from signals_topic into every worker and flag events that "
            "match one at once. An empty topic costs nothing per event; the cost with lists "
            "loaded is in docs/networks.md."
        ),
    )
    signals_topic: str = Field(
        "events.signals",
        description="The compacted topic of signals (flagstream signals import/export/remove).",
    )
    signals_similarity: float = Field(
        0.7,
        gt=0,
        le=1,
        description="Estimated Jaccard similarity (MinHash) at which a text_near signal matches.",
    )
    signals_max: int = Field(
        1_000_000,
        ge=1,
        description=(
            "Most signals a worker holds (about 1 kB each); later ones are ignored and counted "
            'in flagstream_signal_updates_total{outcome="over_cap"}.'
        ),
    )
    signals_load_timeout_s: float = Field(
        120.0,
        gt=0,
        description="Start-up fails if the signals topic cannot be read to its end in this time.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            env_settings,
            SecretFileSource(settings_cls),
        ]
        if _CONFIG_FILE is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=_CONFIG_FILE))
        return tuple(sources)

    @field_validator("input_topic", "flagged_topic", "dlq_topic", "campaign_topic", "signals_topic")
    @classmethod
    def _check_topic(cls, value: str) -> str:
        return check_topic_name(value)

    @field_validator("bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        for server in value.split(","):
            host, sep, port = server.strip().rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port (e.g. 127.0.0.1:9092)")
        return value

    @field_validator("accurate_model_path", mode="before")
    @classmethod
    def _no_accurate_model(cls, value: Any) -> Any:
        # FLAGSTREAM_ACCURATE_MODEL_PATH= (empty) or "none" turns the encoder tier off
        if isinstance(value, str) and value.strip().lower() in ("", "none", "off"):
            return None
        return value

    @field_validator("metrics_addr")
    @classmethod
    def _check_metrics_addr(cls, value: str) -> str:
        _host, sep, port = value.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"{value!r} is not host:port (e.g. 127.0.0.1:9108)")
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.cascade_low > self.cascade_high:
            raise ValueError(
                f"cascade_low {self.cascade_low} is above cascade_high {self.cascade_high}"
            )
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                "security_protocol SASL_* needs sasl_mechanism, sasl_username and sasl_password "
                "(FLAGSTREAM_SASL_MECHANISM, FLAGSTREAM_SASL_USERNAME, FLAGSTREAM_SASL_PASSWORD "
                "or FLAGSTREAM_SASL_PASSWORD_FILE)"
            )
        for name in ("ssl_ca_file", "ssl_cert_file", "ssl_key_file"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                raise ValueError(
                    f"{name} {path} is not a readable file: fix FLAGSTREAM_{name.upper()}"
                )
        if self.pseudonym_key is not None and len(self.pseudonym_key.get_secret_value()) < 16:
            raise ValueError("pseudonym_key is shorter than 16 bytes: use a long random key")
        if self.ssl_key_file is not None and self.ssl_cert_file is None:
            raise ValueError("ssl_key_file needs ssl_cert_file (the client certificate)")
        if (self.metrics_username is None) != (self.metrics_password is None):
            raise ValueError("metrics_username and metrics_password go together: set both or none")
        if (self.metrics_tls_cert_file is None) != (self.metrics_tls_key_file is None):
            raise ValueError(
                "metrics_tls_cert_file and metrics_tls_key_file go together: set both or none"
            )
        return self

    @property
    def metrics_host_port(self) -> tuple[str, int]:
        host, _, port = self.metrics_addr.rpartition(":")
        return host, int(port)

    @property
    def kafka_url(self) -> str:
        """The bootstrap list in Faust's ``kafka://host:port;host:port`` form."""
        return "kafka://" + ";".join(s.strip() for s in self.bootstrap.split(","))


class SecretFileSource(PydanticBaseSettingsSource):
    """``FLAGSTREAM_<SECRET>_FILE``: a secret setting read from a file (a mounted Kubernetes Secret).

    Only for the ``SecretStr`` settings; one trailing newline is dropped. Setting both the
    variable and its ``_FILE`` form is refused, so it is never a guess which one won.
    """

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every secret at once

    def __call__(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, info in self.settings_cls.model_fields.items():
            if "SecretStr" not in repr(info.annotation):
                continue
            variable = f"FLAGSTREAM_{name.upper()}"
            file_name = os.environ.get(variable + "_FILE")
            if not file_name:
                continue
            if os.environ.get(variable):
                raise ConfigError(f"both {variable} and {variable}_FILE are set: keep one")
            try:
                text = Path(file_name).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(
                    f"{variable}_FILE={file_name}: cannot read it ({exc.strerror}); mount the "
                    "secret there or fix the variable"
                ) from None
            found[name] = text.removesuffix("\n").removesuffix("\r")
        return found


_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")


def check_topic_name(name: str) -> str:
    """``name`` if Kafka accepts it as a topic name, else a ValueError saying what is allowed."""
    if not _TOPIC_NAME.fullmatch(name) or name in (".", ".."):
        raise ValueError(
            f"{name!r} is not a Kafka topic name: use 1-249 of the characters a-z A-Z 0-9 . _ -"
        )
    return name


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once; raise :class:`ConfigError` naming each bad setting and its source."""
    global _CONFIG_FILE  # noqa: PLW0603 - pydantic-settings sources are class-level hooks
    path = config_file or (Path(p) if (p := os.environ.get("FLAGSTREAM_CONFIG")) else None)
    if path is not None and not path.is_file():
        raise ConfigError(f"config file {path} does not exist: fix --config / FLAGSTREAM_CONFIG")
    _CONFIG_FILE = path
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not valid TOML ({exc}): fix the file or --config / "
            "FLAGSTREAM_CONFIG"
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start}): fix the file or --config / "
            "FLAGSTREAM_CONFIG"
        ) from None
    except ValidationError as exc:
        where = f"{path} or FLAGSTREAM_* environment" if path else "FLAGSTREAM_* environment"
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid settings (from {where} or flags): {problems}") from None
    finally:
        _CONFIG_FILE = None
