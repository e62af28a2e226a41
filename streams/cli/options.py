"""Options shared by several commands, and turning settings errors into clean exits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import SecretStr

from streams.errors import FlagstreamError
from streams.logfilter import install_redaction
from streams.settings import Settings, check_topic_name, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def config_option(func: F) -> F:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="TOML settings file (keys as in Settings); FLAGSTREAM_* variables override it.",
    )(func)


def bootstrap_option(func: F) -> F:
    return click.option(
        "--bootstrap",
        default=None,
        help="Kafka bootstrap servers host:port[,host:port]. [default: 127.0.0.1:9092]",
    )(func)


def topic_name(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A click callback: the option's value must be a Kafka topic name (or not given)."""
    if value is None:
        return None
    try:
        return check_topic_name(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


def topic_names(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> tuple[str, ...]:
    """``topic_name`` for a repeatable option."""
    return tuple(name for value in values if (name := topic_name(ctx, param, value)) is not None)


def settings_from_cli(config_file: Path | None, **overrides: Any) -> Settings:
    """Settings from file, environment and flags; a bad value exits with the fix, not a traceback."""
    try:
        settings = load_settings(config_file, **overrides)
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    if settings.log_redact:
        install_redaction(secret_values(settings))
    return settings


def secret_values(settings: Settings) -> list[str]:
    """The values of every secret setting, for the log redaction."""
    return [
        value.get_secret_value()
        for name in type(settings).model_fields
        if isinstance(value := getattr(settings, name), SecretStr)
    ]


def model_options(func: F) -> F:
    """--model and --policy: the files a worker or a classify run decides with."""
    func = click.option(
        "--policy",
        "policy_path",
        type=click.Path(path_type=Path),
        default=None,
        help="Policy TOML file. [default: streams/policy.default.toml]",
    )(func)
    return click.option(
        "--model",
        "model_path",
        type=click.Path(path_type=Path),
        default=None,
        help="Fast ONNX model file. [default: the shipped model]",
    )(func)
