"""Help of the command line: every command and option explains itself, nothing advertised is missing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from streams.cli.main import COMMANDS, cli


def _commands(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command under ``command`` (itself included), with its path of names."""
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, f"{' '.join(path)} lists {name!r} but has no such command"
            yield from _commands(sub, (*path, name))


ALL = list(_commands(cli))


@pytest.mark.parametrize(
    ("path", "command"), ALL, ids=[" ".join(p) or "flagstream" for p, _ in ALL]
)
def test_every_command_and_option_has_help(path: tuple[str, ...], command: click.Command) -> None:
    assert command.help, f"flagstream {' '.join(path)} has no help text"
    missing = [
        "/".join(p.opts + p.secondary_opts)
        for p in command.params
        if isinstance(p, click.Option) and not p.help
    ]
    assert not missing, f"flagstream {' '.join(path)}: options without help: {missing}"


def test_options_named_in_the_issue_have_help() -> None:
    ctx = click.Context(cli)
    for path, option in (
        (("model", "train"), "--seed"),
        (("model", "train"), "--export"),
        (("model", "evaluate"), "--card"),
        (("model", "export"), "--out"),
        (("bench",), "-p"),
    ):
        command: click.Command | None = cli
        for name in path:
            assert isinstance(command, click.Group)
            command = command.get_command(ctx, name)
        assert command is not None
        (param,) = [p for p in command.params if option in p.opts]
        assert isinstance(param, click.Option)
        assert param.help, f"{' '.join(path)} {option}"


def test_group_help_advertises_only_subcommands_that_exist() -> None:
    """Each group's one-line help names only sub-commands it has (e.g. 'topics describe')."""
    words = {"create", "describe", "train", "evaluate", "export", "delete", "list"}
    for name, (_, _, summary) in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        if not isinstance(command, click.Group):
            continue
        have = set(command.list_commands(click.Context(command)))
        advertised = {w for w in re.findall(r"[a-z]+", summary.lower()) if w in words}
        assert advertised <= have, f"'{name}' advertises {advertised - have}, has {have}"


def test_topics_describe_exists_and_says_what_it_shows() -> None:
    result = CliRunner().invoke(cli, ["topics", "describe", "--help"])
    assert result.exit_code == 0, result.output
    assert "missing" in result.output
    assert "partitions" in result.output


def test_worker_help_says_what_happens_when_the_input_topic_is_missing() -> None:
    result = CliRunner().invoke(cli, ["worker", "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Missing topics" in text
    assert "FLAGSTREAM_CREATE_MISSING_TOPICS=0" in text
    assert "/readyz answers 503 until the topic exists" in text
