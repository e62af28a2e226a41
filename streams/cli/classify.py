"""``flagstream classify``: the embedded path, no Kafka: JSONL in, one decision per line out."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click
import orjson

from streams.cli.options import config_option, model_options, settings_from_cli
from streams.errors import FlagstreamError
from streams.pipeline import Pipeline
from streams.policy import ACTION_NAMES

BATCH = 256


# one input line: (line number, record to classify or None, error line to write or None)
Item = tuple[int, dict[str, Any] | None, dict[str, Any] | None]


def _json_type(value: Any) -> str:
    """JSON's name for the type of a parsed value ('array', not Python's 'list')."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _id_field(record: dict[str, Any]) -> tuple[str, Any]:
    for name in ("event_id", "id"):
        if name in record:
            return name, record[name]
    return "id", None


def _error(number: int, message: str, record: Any = None) -> dict[str, Any]:
    """The error line for input line ``number``, with its id when the line has one."""
    row: dict[str, Any] = {}
    if isinstance(record, dict):
        name, value = _id_field(record)
        if value is not None:
            row[name] = value
    row["line"] = number
    row["error"] = f"line {number}: {message}"
    return row


def _readable_part(line: bytes) -> Any:
    """The line parsed with undecodable bytes replaced: only to echo its id, never classified."""
    try:
        return orjson.loads(line.decode("utf-8", errors="replace"))
    except orjson.JSONDecodeError:
        return None


def _records(stream: BinaryIO) -> Iterator[Item]:
    """One item for every non-blank line; a bad line never stops the lines after it."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = line[exc.start : exc.start + 1].hex()
            message = (
                f"not UTF-8 (byte 0x{bad} at offset {exc.start}); write the file as UTF-8 "
                "(e.g. iconv -f <its encoding> -t UTF-8)"
            )
            yield number, None, _error(number, message, _readable_part(line))
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, None, _error(number, f"not JSON ({exc}); write one JSON object per line")
            continue
        if not isinstance(record, dict):
            message = f"a JSON {_json_type(record)}, not an object; write one object per line"
            yield number, None, _error(number, message)
            continue
        if not isinstance(record.get("text"), str):
            if "text" in record:
                message = f"'text' must be a string, not a JSON {_json_type(record['text'])}"
            else:
                message = "no 'text' field; add the text to classify as 'text'"
            yield number, None, _error(number, message, record)
            continue
        yield number, record, None


@click.command()
@config_option
# bytes, not text: one line that is not UTF-8 must not stop the decoding of the others
@click.argument("source", type=click.File("rb"), default="-")
@model_options
def classify(
    config_file: Path | None, source: BinaryIO, model_path: Path | None, policy_path: Path | None
) -> None:
    """Classify JSONL lines with a 'text' (and 'event_id' or 'id') from SOURCE or stdin.

    Writes one JSON line per input line, with the same id, the per-label 'scores', the 'labels'
    over threshold and the policy's 'action'. A line that cannot be classified (not UTF-8, not
    JSON, no string 'text') gets an 'error' line instead, with its id when one can be read, and
    the same message on stderr; the other lines are still classified and the exit status is 1.
    """
    settings = settings_from_cli(config_file, model_path=model_path, policy_path=policy_path)
    try:
        pipeline = Pipeline.from_settings(settings)
    except FlagstreamError as exc:
        raise click.ClickException(str(exc)) from None
    labels = pipeline.labels
    out = sys.stdout.buffer
    errors = 0
    pending: list[Item] = []

    def flush() -> None:
        good = [(n, r) for n, r, e in pending if r is not None]
        scored = pipeline.classifier.classify([r["text"] for _, r in good]) if good else None
        decisions = pipeline.policy.decide(scored.scores) if scored is not None else None
        k = 0
        for _number, record, error in pending:
            if record is None:
                out.write(orjson.dumps(error) + b"\n")
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
            click.echo(item[2]["error"], err=True)
        pending.append(item)
        if len(pending) >= BATCH:
            flush()
    flush()
    if errors:
        sys.exit(1)
