"""`flagstream classify` runs the shipped classifier, both tiers (no Kafka)."""

from __future__ import annotations

import orjson
from click.testing import CliRunner

from streams.classify import Classifier
from streams.cli.main import cli
from streams.settings import Settings


def test_classify_command_uses_the_shipped_model() -> None:
    texts = ["have a lovely day", "you are a stupid fucking idiot", "你他妈的傻逼"]
    lines = "\n".join(orjson.dumps({"id": i, "text": t}).decode() for i, t in enumerate(texts))
    result = CliRunner().invoke(cli, ["classify", "-"], input=lines + "\n")
    assert result.exit_code == 0, result.output
    out = [orjson.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [o["id"] for o in out] == [0, 1, 2]
    expected = Classifier.from_settings(Settings()).classify(texts).scores
    for row, want in zip(out, expected, strict=True):
        scores = row["scores"]
        got = [scores[k] for k in ("spam", "scam", "toxic", "hate")]
        assert max(abs(a - float(b)) for a, b in zip(got, want, strict=True)) < 1e-4


def _run(data: bytes) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(cli, ["classify", "-"], input=data)
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, rows, result.stderr


def test_one_invalid_utf8_byte_fails_only_its_line() -> None:
    data = (
        b'{"id": 1, "text": "have a lovely day"}\n'
        b'{"id": 2, "text": "caf\xe9 au lait"}\n'
        b'{"id": 3, "text": "you are a stupid fucking idiot"}\n'
    )
    code, rows, stderr = _run(data)
    assert code == 1
    assert [r["id"] for r in rows] == [1, 2, 3]
    assert "action" in rows[0]
    assert "action" in rows[2]
    assert rows[1]["line"] == 2
    assert "not UTF-8" in str(rows[1]["error"])
    assert "0xe9" in str(rows[1]["error"])
    assert "Traceback" not in stderr
    assert "line 2: not UTF-8" in stderr


def test_invalid_utf8_in_the_id_still_gets_an_error_line() -> None:
    code, rows, _ = _run(b'{"id": "\xff\xfe", "text": "hello"}\n{"id": 9, "text": "hi"}\n')
    assert code == 1
    assert rows[0]["line"] == 1
    assert "not UTF-8" in str(rows[0]["error"])
    assert rows[1]["id"] == 9
    assert "action" in rows[1]


def test_a_line_without_text_echoes_its_id() -> None:
    code, rows, _ = _run(b'{"event_id": "e-1"}\n{"id": 7, "text": 5}\n{"id": 8, "text": "ok"}\n')
    assert code == 1
    assert rows[0] == {"event_id": "e-1", "line": 1, "error": rows[0]["error"]}
    assert "no 'text' field" in str(rows[0]["error"])
    assert rows[1]["id"] == 7
    assert "must be a string, not a JSON number" in str(rows[1]["error"])
    assert rows[2]["id"] == 8
    assert "action" in rows[2]


def test_lines_that_are_not_json_objects_get_an_error_and_the_rest_are_classified() -> None:
    code, rows, _ = _run(b'not json\n[1, 2]\n\n{"id": 3, "text": "see you at lunch"}\n')
    assert code == 1
    assert [r.get("line") for r in rows[:2]] == [1, 2]
    assert "not JSON" in str(rows[0]["error"])
    assert "a JSON array, not an object" in str(rows[1]["error"])
    assert rows[2]["id"] == 3
    assert "action" in rows[2]


def test_all_good_lines_exit_zero() -> None:
    code, rows, stderr = _run(b'{"id": 1, "text": "see you at lunch"}\n')
    assert code == 0, stderr
    assert rows[0]["id"] == 1
