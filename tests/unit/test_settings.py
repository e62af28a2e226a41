"""One typed settings object from defaults, a TOML file, the environment and flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import ConfigError
from streams.kafka_clients import ssl_context
from streams.settings import Settings, load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert settings.bootstrap == "127.0.0.1:9092"
    assert settings.metrics_addr == "127.0.0.1:9108"
    assert (settings.input_topic, settings.flagged_topic, settings.dlq_topic) == (
        "events",
        "events.flagged",
        "events.dlq",
    )
    assert settings.kafka_url == "kafka://127.0.0.1:9092"


def test_precedence_flag_over_env_over_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "flagstream.toml"
    config.write_text(
        'group_id = "from-file"\nbatch_max = 64\ninput_topic = "file-topic"\n', encoding="utf-8"
    )
    monkeypatch.setenv("FLAGSTREAM_GROUP_ID", "from-env")
    settings = load_settings(config, input_topic="flag-topic")
    assert settings.group_id == "from-env"
    assert settings.batch_max == 64
    assert settings.input_topic == "flag-topic"


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "f.toml"
    config.write_text("batch_max = 32\n", encoding="utf-8")
    monkeypatch.setenv("FLAGSTREAM_CONFIG", str(config))
    assert load_settings().batch_max == 32


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("FLAGSTREAM_BATCH_MAX", "0", "batch_max"),
        ("FLAGSTREAM_BOOTSTRAP", "localhost", "is not host:port"),
        ("FLAGSTREAM_METRICS_ADDR", "nowhere", "is not host:port"),
        ("FLAGSTREAM_CASCADE_LOW", "0.9995", "cascade_low 0.9995 is above cascade_high"),
        ("FLAGSTREAM_SECURITY_PROTOCOL", "SASL_SSL", "needs sasl_mechanism"),
        ("FLAGSTREAM_NOT_A_SETTING", "1", None),
    ],
)
def test_bad_environment_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, message: str | None
) -> None:
    monkeypatch.setenv(env, value)
    if message is None:  # unknown FLAGSTREAM_* variables are ignored by the env source
        load_settings()
        return
    with pytest.raises(ConfigError, match="invalid settings") as info:
        load_settings()
    assert message in str(info.value)


def test_unknown_key_in_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "f.toml"
    config.write_text("batch_maxx = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="batch_maxx"):
        load_settings(config)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: fix --config"):
        load_settings(tmp_path / "absent.toml")


def test_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAGSTREAM_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("FLAGSTREAM_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("FLAGSTREAM_SASL_USERNAME", "svc")
    monkeypatch.setenv("FLAGSTREAM_SASL_PASSWORD", "hunter2")
    settings = load_settings()
    assert "hunter2" not in repr(settings)
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == "hunter2"


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.batch_max = 3  # type: ignore[misc]


def test_every_setting_is_documented(repo_root: Path) -> None:
    doc = (repo_root / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [name for name in Settings.model_fields if f"`FLAGSTREAM_{name.upper()}`" not in doc]
    assert not missing, f"add these settings to docs/configuration.md: {missing}"


def test_secrets_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "password"
    secret.write_text("from-a-file\n", encoding="utf-8")
    monkeypatch.setenv("FLAGSTREAM_SASL_PASSWORD_FILE", str(secret))
    settings = load_settings()
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == "from-a-file"  # newline dropped
    monkeypatch.setenv("FLAGSTREAM_SASL_PASSWORD", "inline")
    with pytest.raises(ConfigError, match=r"both FLAGSTREAM_SASL_PASSWORD and .*_FILE"):
        load_settings()
    monkeypatch.delenv("FLAGSTREAM_SASL_PASSWORD")
    monkeypatch.setenv("FLAGSTREAM_SASL_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="cannot read it"):
        load_settings()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ssl_ca_file": "/nonexistent/ca.pem"}, "ssl_ca_file /nonexistent/ca.pem is not"),
        ({"ssl_key_file": __file__}, "ssl_key_file needs ssl_cert_file"),
        ({"metrics_username": "prom"}, "metrics_username and metrics_password go together"),
        ({"metrics_tls_cert_file": __file__}, "metrics_tls_cert_file and metrics_tls_key_file"),
    ],
)
def test_inconsistent_tls_and_auth_settings_are_refused(
    overrides: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(None, **overrides)


def test_a_bad_ca_file_is_refused_naming_the_setting(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate", encoding="utf-8")
    settings = load_settings(security_protocol="SSL", ssl_ca_file=bad)
    with pytest.raises(ConfigError, match="FLAGSTREAM_SSL_CA_FILE"):
        ssl_context(settings)
    assert ssl_context(load_settings()) is None  # PLAINTEXT: no TLS
