"""The README's examples print what the README says they print."""

from __future__ import annotations

import re
import shlex

from click.testing import CliRunner

from streams.cli.main import cli
from streams.settings import REPO_DIR

README = REPO_DIR / "README.md"


def test_the_classify_example_prints_what_the_readme_shows() -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ printf '%s\\n' (.*?)```", text, re.DOTALL)
    assert block is not None, "the README's classify example is gone"
    command, *shown = block.group(1).splitlines()
    continued, _, pipe = shown.pop(0).partition("|")
    assert pipe.strip() == ".venv/bin/flagstream classify"
    lines = [*shlex.split(command.rstrip("\\")), *shlex.split(continued)]
    result = CliRunner().invoke(cli, ["classify", "-"], input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [line for line in shown if line]
