"""Privacy options: a keyed pseudonym for author.id and a field allow-list for the embedded event."""

from __future__ import annotations

import hashlib
import hmac

import orjson
import pytest

from streams.errors import ConfigError
from streams.events import PSEUDONYM_PREFIX, EmbeddedEvent, Pseudonyms
from streams.pipeline import Pipeline
from streams.publish import InMessage
from streams.settings import load_settings

KEY = "a-long-random-pseudonym-key-0123"
BODY = {
    "event_id": "e-1",
    "type": "post",
    "created_at": "2026-11-24T15:38:45.123Z",
    "source": "tests",
    "author": {"id": "u-raw-42", "name": "Alice Example", "country": "FR"},
    "text": "verify your account now at http://x.co or it will be closed, click here",
    "ip": "203.0.113.7",
}


def test_pseudonyms_are_keyed_stable_and_not_the_plain_hash() -> None:
    one, other = Pseudonyms(KEY.encode()), Pseudonyms(b"another-key-of-enough-bytes")
    assert one("u-raw-42") == one("u-raw-42")  # stable: repeat actors stay linkable
    assert one("u-raw-42") != one("u-raw-43")
    assert one("u-raw-42") != other("u-raw-42")  # keyed
    expected = hmac.new(KEY.encode(), b"u-raw-42", hashlib.sha256).hexdigest()
    assert one("u-raw-42") == PSEUDONYM_PREFIX + expected
    assert hashlib.sha256(b"u-raw-42").hexdigest() not in one("u-raw-42")
    with pytest.raises(ValueError, match="16 bytes"):
        Pseudonyms(b"short")


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        (None, BODY),
        (("event_id", "text"), {"event_id": "e-1", "text": BODY["text"]}),
        (("event_id", "author.id"), {"event_id": "e-1", "author": {"id": "u-raw-42"}}),
        (("author.country", "missing", "text.deeper"), {"author": {"country": "FR"}}),
    ],
)
def test_the_allow_list_keeps_only_the_named_fields(
    include: tuple[str, ...] | None, expected: dict[str, object]
) -> None:
    assert EmbeddedEvent(include)(BODY) == expected


def test_the_pseudonym_replaces_author_id_and_leaves_the_event_untouched() -> None:
    pseudonyms = Pseudonyms(KEY.encode())
    embedded = EmbeddedEvent(("event_id", "author.id"), pseudonyms)(BODY)
    assert embedded == {"event_id": "e-1", "author": {"id": pseudonyms("u-raw-42")}}
    assert BODY["author"]["id"] == "u-raw-42"  # type: ignore[index]
    whole = EmbeddedEvent(None, pseudonyms)(BODY)
    assert whole["author"] == {
        "id": pseudonyms("u-raw-42"),
        "name": "Alice Example",
        "country": "FR",
    }


def test_flagged_events_carry_neither_raw_id_nor_unlisted_fields() -> None:
    settings = load_settings(
        pseudonym_key=KEY, include_fields=("event_id", "type", "created_at", "author.id")
    )
    pipeline = Pipeline.from_settings(settings)
    result = pipeline.process([InMessage("events", 0, 5, orjson.dumps(BODY), b"e-1")])
    flagged = [o for o in result.outputs if o.topic == settings.flagged_topic]
    assert len(flagged) == 1
    assert flagged[0].value is not None
    for raw in (b"u-raw-42", b"Alice", b"203.0.113.7", b"verify your account"):
        assert raw not in flagged[0].value
    event = orjson.loads(flagged[0].value)["event"]
    assert event["author"]["id"] == Pseudonyms(KEY.encode())("u-raw-42")


def test_a_short_pseudonym_key_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FLAGSTREAM_PSEUDONYM_KEY", "short")
    with pytest.raises(ConfigError, match="pseudonym_key is shorter than 16 bytes"):
        load_settings()
