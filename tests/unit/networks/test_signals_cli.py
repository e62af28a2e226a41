"""``flagstream signals import`` validation without a broker (--dry-run), and the file reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli.main import cli
from streams.networks.signals import SignalFormatError
from streams.networks.signals_file import file_format, parse_file

SCAM = "Congratulations! You have won a $1000 gift card, click the link to claim it today"

CSV = f"""kind,indicator_type,value,text,label,action
indicator,phone,+1 415 555 2671,,scam,block
indicator,phone,12,,scam,
text_exact,,,"{SCAM}",scam,
text_near,,,"{SCAM}",scam,review
indicator,wechat,lucky2026,,fraud,
"""

JSONL = f"""{{"list": "acme", "kind": "indicator", "indicator_type": "qq", "value": "123456789", "label": "spam"}}
not json

{{"list": "acme", "kind": "text_exact", "text": "{SCAM}", "label": "scam"}}
["a list"]
{{"list": "other", "kind": "text_exact", "text": "{SCAM}", "label": "scam"}}
"""


def test_a_bad_csv_row_names_its_line_and_the_rest_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "partner.csv"
    path.write_text(CSV, encoding="utf-8")
    parsed = parse_file(path, "csv", "acme")
    assert parsed.rows == 5
    assert sorted(s.kind for s in parsed.signals.values()) == [
        "indicator",
        "text_exact",
        "text_near",
    ]
    assert len(parsed.errors) == 2
    assert parsed.errors[0].startswith(f"{path}:3: ")
    assert "not a valid phone" in parsed.errors[0]
    assert parsed.errors[1].startswith(f"{path}:6: ")
    assert "label 'fraud'" in parsed.errors[1]


def test_jsonl_rows_are_validated_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "partner.jsonl"
    path.write_text(JSONL, encoding="utf-8")
    parsed = parse_file(path, "jsonl", "acme")
    assert len(parsed.signals) == 2
    lines = [e.split(": ", 1)[0].rsplit(":", 1)[1] for e in parsed.errors]
    assert lines == ["2", "5", "6"]  # bad JSON, not an object, another list than --list
    assert "differs from --list acme" in parsed.errors[2]


def test_the_format_comes_from_the_suffix_or_the_option(tmp_path: Path) -> None:
    assert file_format(tmp_path / "a.ndjson", None) == "jsonl"
    assert file_format(tmp_path / "a.txt", "csv") == "csv"
    with pytest.raises(SignalFormatError, match="--format csv or --format jsonl"):
        file_format(tmp_path / "a.txt", None)


def test_import_exits_non_zero_when_a_row_failed(tmp_path: Path) -> None:
    path = tmp_path / "partner.csv"
    path.write_text(CSV, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["signals", "import", str(path), "--list", "acme", "--dry-run"]
    )
    assert result.exit_code == 1
    assert f"{path}:3: " in result.stderr
    assert "3 signals valid (dry run, nothing written) (acme: 3)" in result.stdout
    assert "2 of 5 rows failed" in result.stderr


def test_import_of_a_clean_file_succeeds(tmp_path: Path) -> None:
    path = tmp_path / "partner.csv"
    path.write_text("".join(CSV.splitlines(keepends=True)[:2]), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["signals", "import", str(path), "--list", "acme", "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "1 signals valid" in result.stdout
