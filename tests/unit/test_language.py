"""CLD2 language identification as the cascade uses it: which texts an English model may read."""

from __future__ import annotations

import pytest

from streams.language import UNKNOWN, language_of, reads_as


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The meeting is moved to 3pm on Thursday because the room is booked.", "en"),
        ("Die Sitzung wird auf Donnerstag um 15 Uhr verschoben, der Raum ist belegt.", "de"),
        ("La reunión se cambia al jueves a las tres porque la sala está ocupada.", "es"),
        ("今天天气很好，我们去公园散步吧，顺便买点水果回家。", "zh"),
        ("오늘 날씨가 정말 좋네요. 공원에 산책하러 가요.", "ko"),
    ],
)
def test_language_of(text: str, code: str) -> None:
    assert language_of(text).split("-")[0] == code


def test_handles_and_links_do_not_hide_the_language() -> None:
    tweet = "@Thueringen_ @Miquwarchar @Pontifex_de Man munkelt, Franziskus ist ein großer Fan"
    assert language_of(tweet) == "de"
    assert language_of("@USER @USER you are a disgrace to this country URL") == "en"


@pytest.mark.parametrize("text", ["", "lol", "!!!", "12345", "\ud800 lone surrogate"])
def test_no_telling_language_is_unknown(text: str) -> None:
    assert language_of(text) == UNKNOWN
    assert reads_as(text, ("en",))


def test_reads_as() -> None:
    assert reads_as("Thanks for the help yesterday, see you at lunch tomorrow!", ("en",))
    assert not reads_as("Vielen Dank für die schnelle Antwort, bis morgen im Büro!", ("en",))
    assert reads_as("Vielen Dank für die schnelle Antwort, bis morgen im Büro!", ("en", "de"))
