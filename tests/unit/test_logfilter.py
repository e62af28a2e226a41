"""Repeated log lines are let through once per interval, with a count of what was dropped."""

from __future__ import annotations

import logging
import time

from streams.logfilter import RepeatFilter


def _record(msg: str, *args: object, name: str = "aiokafka") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_storm_of_one_message_becomes_one_line_per_interval() -> None:
    repeat = RepeatFilter(interval_s=3600)
    passed = [
        repeat.filter(_record("Unable to connect to node %s: %r", i, "refused"))
        for i in range(1000)
    ]
    assert passed.count(True) == 1
    assert repeat.filter(_record("another message")) is True
    assert repeat.filter(_record("Unable to connect to node %s", 1, name="faust")) is True


def test_pre_formatted_messages_that_differ_only_in_numbers_count_as_one() -> None:
    repeat = RepeatFilter(interval_s=3600)
    assert repeat.filter(_record("fetch failed for partition 1 at offset 100")) is True
    assert repeat.filter(_record("fetch failed for partition 2 at offset 200")) is False


def test_the_next_line_let_through_says_how_many_were_dropped() -> None:
    repeat = RepeatFilter(interval_s=0.0)  # every line passes: nothing is dropped
    assert repeat.filter(_record("x %s", 1)) is True
    repeat.interval_s = 60
    # as if the line last passed two minutes ago and 41 were dropped since
    repeat._seen[("aiokafka", logging.ERROR, "x %s")] = (time.monotonic() - 120, 41)
    record = _record("x %s", 2)
    assert repeat.filter(record) is True
    assert "41 more like this" in record.getMessage()
    assert record.getMessage().startswith("x 2")


def test_one_record_passes_every_handler_it_is_shown_to() -> None:
    repeat = RepeatFilter(interval_s=3600)
    record = _record("shown to two handlers")
    assert repeat.filter(record) is True
    assert repeat.filter(record) is True  # the root's second handler
    assert repeat.filter(_record("shown to two handlers")) is False  # a repeat
