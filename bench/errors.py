"""The benchmark's one exception."""

from __future__ import annotations

from streams.errors import FlagstreamError


class BenchError(FlagstreamError):
    """The benchmark cannot go on: the message names what failed and what to do."""
