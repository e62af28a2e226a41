"""``flagstream tail --campaigns`` prints a campaign record on one readable line."""

from __future__ import annotations

import click

from streams.cli.tail import format_campaign


def test_a_campaign_reads_on_one_line() -> None:
    record = {
        "campaign_id": "si-0123456789abcdef0123",
        "kind": "shared_indicator",
        "author_count": 25,
        "event_count": 31,
        "labels": {"scam": 20, "spam": 3},
        "indicators": [{"type": "phone", "value": "+14155552671"}],
        "first_seen": "2026-12-01T10:00:00.000Z",
        "last_seen": "2026-12-01T10:05:00.000Z",
        "sample_text": "need a loan today?\nno credit check " + "x" * 200,
    }
    line = click.unstyle(format_campaign(record))
    assert "\n" not in line
    assert line.startswith("SHARED_INDICATOR")
    for part in (
        "si-0123456789abcdef0123",
        "25 authors",
        "31 events",
        "scam:20,spam:3",
        "phone=+14155552671",
        "need a loan today? no credit check",
    ):
        assert part in line
    assert line.endswith("…")
    benign = click.unstyle(format_campaign({**record, "labels": {}, "indicators": []}))
    assert "no labels" in benign
