"""``flagstream classify``: the embedded path, no Kafka: JSONL in, one decision per line out."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click
import orjson

from streams.cli.options import config_option, model_options, settings_from_cli
from streams.errors import FlagstreamError
from streams.pipeline import Pipeline
from streams.policy import ACTION_NAMES

BATCH = 256


def _records(stream: TextIO) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, record or None, error or None) for every non-blank line."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, None, f"line {number}: not JSON ({exc})"
            continue
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            yield number, None, f"line {number}: needs a JSON object with a string 'text'"
            continue
        yield number, record, None


def _id_field(record: dict[str, Any]) -> tuple[str, Any]:
    for name in ("event_id", "id"):
        if name in record:
            return name, record[name]
    return "id", None


@click.command()
@config_option
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@model_options
def classify(
    config_file: Path | None, source: TextIO, model_path: Path | None, policy_path: Path | None
) -> None:
    """Classify JSONL lines with a 'text' (and 'event_id' or 'id') from SOURCE or stdin.

    Writes one JSON line per input line, with the same id, the per-label 'scores', the 'labels'
    over threshold and the policy's 'action'. A line that cannot be read gets an 'error' line and
    the exit status is 1.
    """
    settings = settings_from_cli(config_file, model_path=model_path, policy_path=policy_path)
    try:
        pipeline = Pipeline.from_settings(settings)
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    labels = pipeline.labels
    out = sys.stdout.buffer
    errors = 0
    pending: list[tuple[int, dict[str, Any] | None, str | None]] = []

    def flush() -> None:
        good = [(n, r) for n, r, e in pending if r is not None]
        scored = pipeline.classifier.classify([r["text"] for _, r in good]) if good else None
        decisions = pipeline.policy.decide(scored.scores) if scored is not None else None
        k = 0
        for number, record, error in pending:
            if record is None:
                out.write(orjson.dumps({"line": number, "error": error}) + b"\n")
                continue
            assert scored is not None
            assert decisions is not None
            name, value = _id_field(record)
            row = scored.scores[k].tolist()
            out.write(
                orjson.dumps(
                    {
                        name: value,
                        "scores": {lb: round(s, 5) for lb, s in zip(labels, row, strict=True)},
                        "labels": [lb for j, lb in enumerate(labels) if decisions.over[k, j]],
                        "action": ACTION_NAMES[decisions.actions[k]],
                        "decided_by": "accurate" if scored.decided_by[k] else "fast",
                    }
                )
                + b"\n"
            )
            k += 1
        out.flush()
        pending.clear()

    for item in _records(source):
        if item[2] is not None:
            errors += 1
            click.echo(item[2], err=True)
        pending.append(item)
        if len(pending) >= BATCH:
            flush()
    flush()
    if errors:
        sys.exit(1)
