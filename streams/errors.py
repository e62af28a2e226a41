"""The package's exceptions. Each message says what was wrong and what to do about it."""

from __future__ import annotations


class FlagstreamError(Exception):
    """Root of every error flagstream raises on purpose."""


class ConfigError(FlagstreamError):
    """A setting or a configuration file is invalid. Start-up stops; fix the named setting."""


class PolicyError(ConfigError):
    """The policy file is invalid. Start-up stops; the message names the file, the key and the fix."""


class ModelError(FlagstreamError):
    """A model file is missing, corrupt or lacks the metadata flagstream needs.

    Start-up stops: point ``FLAGSTREAM_MODEL_PATH`` at a valid model or rebuild it with
    ``flagstream model export``.
    """


class BrokerError(FlagstreamError):
    """The Kafka cluster cannot be reached or refused an operation.

    Infrastructure failures are not handled in place: the worker crashes loudly so that its
    supervisor restarts it, and uncommitted offsets are consumed again (at-least-once).
    """
