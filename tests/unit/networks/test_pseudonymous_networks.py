"""With pseudonyms on, the campaign and repeat-actor features work on them: no raw author id
reaches the campaign stage's observations (hence its state, changelog and campaign records) or a
flagged event, and the same author is still one member."""

from __future__ import annotations

import orjson

from streams.events import PSEUDONYM_PREFIX, Pseudonyms
from streams.networks.tap import decode_bundle
from streams.pipeline import InMessage, Pipeline
from streams.settings import load_settings

KEY = "k" * 32
SCAM = "Your parcel is held, pay the 2 GBP fee at http://parcel-fee.example.com/pay now"


def _event(i: int, author: str) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": f"e{i}",
            "type": "post",
            "source": "web",
            "created_at": "2026-12-02T06:00:00Z",
            "author": {"id": author},
            "text": f"{SCAM} ({i})",
        }
    )


def test_observations_and_flagged_events_carry_the_pseudonym_only() -> None:
    pipeline = Pipeline.from_settings(load_settings(campaigns_enabled=True, pseudonym_key=KEY))
    assert pipeline.networks is not None
    authors = ["raw-author-alice", "raw-author-bob", "raw-author-alice"]
    messages = [InMessage("events", 0, i, _event(i, a), a.encode()) for i, a in enumerate(authors)]
    result = pipeline.process(messages)
    values = [(out.topic, out.value or b"") for out in result.outputs]

    observed = [
        o
        for topic, value in values
        if topic == pipeline.networks.topic
        for o in decode_bundle(value)
    ]
    assert observed, "the scam link is an indicator: its events are observed"
    pseudonym = Pseudonyms(KEY.encode())
    assert {o.author_id for o in observed} <= {pseudonym(a) for a in authors}
    assert {o.author_id for o in observed} >= {pseudonym("raw-author-alice")}
    for topic, value in values:
        assert b"raw-author-" not in value, topic
    flagged = [
        orjson.loads(value) for topic, value in values if topic == pipeline.settings.flagged_topic
    ]
    for payload in flagged:
        assert payload["event"]["author"]["id"].startswith(PSEUDONYM_PREFIX)
        assert "flags_24h" in payload["actor"]
