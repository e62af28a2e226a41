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
