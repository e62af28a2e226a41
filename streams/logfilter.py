"""A limit on repeated log lines: an outage must not write thousands of identical errors a second.

A line whose logger, level and message template were already let through in the last
``interval_s`` is dropped; the next one let through says how many were dropped.
"""

from __future__ import annotations

import logging
import re
import time

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
