"""Signal-list files: CSV (a header row naming the fields) or JSONL, read row by row.

A bad row is reported with its line number and the fix; the good rows are kept, so that a
partner's file with a few broken lines still imports the rest.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson

from streams.networks.signals import Signal, SignalFormatError, parse_signal

FORMATS: Final = ("csv", "jsonl")
_SUFFIXES: Final = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


@dataclass(slots=True)
class ParsedFile:
    """The valid signals of a file (last row wins per key) and one line per bad row."""

    signals: dict[str, Signal] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    rows: int = 0


def file_format(path: Path, given: str | None) -> str:
    """The format to read ``path`` in; SignalFormatError if it cannot be told."""
    if given is not None:
        return given
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise SignalFormatError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
            "give --format csv or --format jsonl"
        )
    return found


def _rows(text: str, fmt: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, row) or (line number, error) for every non-blank row."""
    if fmt == "jsonl":
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield number, f"not valid JSON ({exc}); write one JSON object per line"
                continue
            if not isinstance(row, dict):
                yield number, 'a line must be a JSON object like {"kind": ...}'
                continue
            yield number, row
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        if None in row:  # more cells than header columns
            yield reader.line_num, f"more cells than the header's {len(reader.fieldnames or [])}"
            continue
        yield reader.line_num, {k.strip(): v for k, v in row.items() if k and v not in ("", None)}


def parse_file(
    path: Path, fmt: str, default_list: str | None = None, now: datetime | None = None
) -> ParsedFile:
    """Every row of a signal file, validated (streams.networks.signals.parse_signal)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SignalFormatError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    stamp = now or datetime.now(UTC)
    parsed = ParsedFile()
    for number, row in _rows(text, fmt):
        parsed.rows += 1
        if isinstance(row, str):
            parsed.errors.append(f"{path}:{number}: {row}")
            continue
        if default_list is not None and row.get("list") not in (None, default_list):
            parsed.errors.append(
                f"{path}:{number}: list {row.get('list')!r} differs from --list {default_list}; "
                "drop the column or the option"
            )
            continue
        try:
            signal = parse_signal(row, default_list, stamp)
        except SignalFormatError as exc:
            parsed.errors.append(f"{path}:{number}: {exc}")
            continue
        parsed.signals[signal.key] = signal
    return parsed
