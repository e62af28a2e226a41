"""Log hygiene: a limit on repeated lines, and redaction of payloads and secrets.

An outage must not write thousands of identical errors a second: a line whose logger, level and
message template were already let through in the last ``interval_s`` is dropped; the next one let
through says how many were dropped. And no line, at any level, may carry a password, the SASL
exchange or a message's payload (:func:`install_redaction`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from typing import Any

_DIGITS = re.compile(r"\d+")
_MAX_KEYS = 2_000


class RepeatFilter(logging.Filter):
    """Lets each distinct message through at most once per ``interval_s``."""

    def __init__(self, interval_s: float = 10.0) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}
        self._passed: logging.LogRecord | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record is self._passed:  # the same record at the root's next handler
            return True
        template = record.msg if isinstance(record.msg, str) else repr(type(record.msg))
        if not record.args:  # pre-formatted: numbers (offsets, ids, sizes) would defeat the key
            template = _DIGITS.sub("#", template)
        key = (record.name, record.levelno, template)
        now = time.monotonic()
        last, dropped = self._seen.get(key, (0.0, 0))
        if last and now - last < self.interval_s:
            self._seen[key] = (last, dropped + 1)
            return False
        if len(self._seen) >= _MAX_KEYS:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if dropped and isinstance(record.msg, str):
            # appended to the template, args untouched (the note holds no '%')
            record.msg += f" [{dropped} more like this in the last {now - last:.0f} s not logged]"
        self._passed = record
        return True


def install_repeat_filter(interval_s: float = 10.0) -> RepeatFilter:
    """Add one filter to every handler of the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        for existing in handler.filters:
            if isinstance(existing, RepeatFilter):
                return existing
    repeat = RepeatFilter(interval_s)
    for handler in root.handlers:
        handler.addFilter(repeat)
    return repeat


# --- redaction -----------------------------------------------------------------------------------
# What must never reach a log line, whoever logs it (Faust, aiokafka, kafka-python, us), at any
# level: message payloads (bytes reprs: record keys and values, protocol frames, the SASL
# exchange), event texts and authors in JSON or dict reprs, and secrets, by value and by name.
_BYTES = re.compile(r"""(?<![\w])b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_SECRET_FIELD = re.compile(
    r"""(?i)(\b[\w.-]*(?:password|passwd|secret|token|pseudonym_key)[\w.-]*['"]?\s*[:=]\s*)"""
    r"""(?:'[^']*'|"[^"]*"|[^\s,;})\]]+)"""
)
_TEXT_FIELD = re.compile(r"""(["']text["']\s*:\s*)(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
_AUTHOR_FIELD = re.compile(r"""(["']author["']\s*:\s*)\{[^{}]*\}""")
# SCRAM messages (RFC 5802) once decoded: nonce, salt, proof, verifier, channel binding
_SCRAM = re.compile(r"(?<![\w])([rspvc])=[A-Za-z0-9+/=_-]{8,}")
REDACTED = "<redacted>"


class Redactor:
    """Removes payloads and secrets from a log line; ``secrets`` are exact values to remove."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # short values would redact ordinary words: such a secret is weak anyway
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = _BYTES.sub("b'" + REDACTED + "'", text)
        text = _SECRET_FIELD.sub(r"\1" + REDACTED, text)
        text = _TEXT_FIELD.sub(r'\1"' + REDACTED + '"', text)
        text = _AUTHOR_FIELD.sub(r"\1{" + REDACTED + "}", text)
        return _SCRAM.sub(r"\1=" + REDACTED, text)

    def redact_record(self, record: logging.LogRecord) -> None:
        """Format the record's message now and keep only its redacted text (and traceback)."""
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit: drop them rather than print them
            message = f"{record.msg} (unformattable log arguments dropped)"
        record.msg, record.args = self.redact(message), ()
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = self.redact(text), None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)


_installed: Redactor | None = None


def install_redaction(secrets: Iterable[str] = ()) -> Redactor:
    """Redact every log record of the process as it is made (all loggers, handlers and levels).

    A record factory, not a handler filter: Faust's worker replaces the handlers when it starts,
    and records below a logger's level are never made, so they cost nothing. Calling it again
    adds secrets to the one installed.
    """
    global _installed  # noqa: PLW0603 - one record factory per process
    if _installed is not None:
        _installed = Redactor([*_installed._secrets, *secrets])
        return _installed
    _installed = Redactor(secrets)
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if _installed is not None:
            _installed.redact_record(record)
        return record

    logging.setLogRecordFactory(factory)
    return _installed


def uninstall_redaction() -> None:
    """Stop redacting new records (tests; the factory stays, doing nothing)."""
    global _installed  # noqa: PLW0603 - one record factory per process
    _installed = None
