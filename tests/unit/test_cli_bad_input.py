"""Bad input to every command: one clear line naming the input and the fix, a non-zero exit status.

No case here needs a broker: each input is refused before anything is contacted. Commands that
process many lines (``classify``) are tested line by line in test_classify_cli.py. Brokers that do
not answer cost the clients' 30 s bootstrap timeout each, so only the lag exporter's poll is tested
against one (test_lag.py).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from streams.cli.main import cli
from streams.logfilter import uninstall_redaction


def _leaves(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from _leaves(sub, (*path, name))
    else:
        yield path, command


LEAVES = dict(_leaves(cli))
WITH_CONFIG = sorted(p for p, c in LEAVES.items() if any("--config" in o.opts for o in c.params))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Commands run in-process configure logging (levels, handlers, redaction) for the process:
    undo it, so that later tests see the logging they set up themselves."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = {
        name: (lg.level, lg.propagate, lg.disabled, list(lg.handlers), list(lg.filters))
        for name, lg in logging.Logger.manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    try:
        yield
    finally:
        uninstall_redaction()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lg in list(logging.Logger.manager.loggerDict.items()):
            if not isinstance(lg, logging.Logger):
                continue
            was = loggers.get(name)
            if was is None:
                lg.setLevel(logging.NOTSET)
                lg.propagate, lg.disabled = True, False
                continue
            lg.setLevel(was[0])
            lg.propagate, lg.disabled = was[1], was[2]
            lg.handlers[:] = was[3]
            lg.filters[:] = was[4]


@pytest.fixture
def not_toml(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text("this is = = not TOML\n", encoding="utf-8")
    return path


def _invoke(args: list[str], tmp_path: Path) -> Result:
    env = {
        "FLAGSTREAM_BOOTSTRAP": "127.0.0.1:1",  # nothing listens: a case must fail before it
        "FLAGSTREAM_METRICS_ADDR": "127.0.0.1:0",
        "FLAGSTREAM_DATA_DIR": str(tmp_path / "data"),
    }
    return CliRunner().invoke(cli, args, env=env, input="")


def _assert_one_clear_line(result: Result, *names: str) -> None:
    assert result.exit_code != 0, result.output
    # an uncaught exception is a traceback for the user, whatever the exit code
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    for name in names:
        assert name in errors[0], (name, errors[0])


@pytest.mark.parametrize("path", WITH_CONFIG, ids=[" ".join(p) for p in WITH_CONFIG])
def test_a_config_file_that_is_not_toml_is_named(
    path: tuple[str, ...], not_toml: Path, tmp_path: Path
) -> None:
    result = _invoke([*path, "--config", str(not_toml)], tmp_path)
    _assert_one_clear_line(result, str(not_toml), "not valid TOML")


# one bad input per command (at least), with what its error line must name
CASES: list[tuple[tuple[str, ...], list[str], tuple[str, ...]]] = [
    (("worker",), ["--metrics-addr", "nonsense"], ("metrics_addr", "host:port")),
    (("worker",), ["--policy", "/nonexistent/policy.toml"], ("/nonexistent/policy.toml",)),
    (("worker",), ["--model", "/nonexistent/fast.onnx"], ("/nonexistent/fast.onnx",)),
    (("produce",), ["--topic", "two words"], ("--topic", "'two words'")),
    (("produce",), ["--file", "/nonexistent/events.jsonl"], ("--file",)),
    (("produce",), ["--rate", "-1"], ("--rate",)),
    (("tail",), ["--topic", ""], ("--topic", "topic name")),
    (("tail",), ["--count", "-2"], ("--count",)),
    (("classify",), ["--model", "/nonexistent/fast.onnx"], ("/nonexistent/fast.onnx",)),
    (("topics", "create"), ["--bootstrap", "no-port"], ("bootstrap", "host:port")),
    (("topics", "describe"), ["--bootstrap", "no-port"], ("bootstrap", "host:port")),
    (("lag-exporter",), ["--listen", "nonsense"], ("nonsense", "host:port")),
    (("lag-exporter",), ["--topic", "a/b"], ("--topic", "'a/b'")),
    (("lag-exporter",), ["--interval", "0"], ("--interval",)),
    (("model", "train"), ["--data-dir", "/nonexistent/data"], ("--data-dir", "/nonexistent/data")),
    (("model", "evaluate"), ["--model-path", "/nonexistent/m.onnx"], ("--model-path",)),
    (("model", "evaluate"), ["--max-per-set", "0"], ("--max-per-set",)),
    (("model", "calibrate"), ["--data-dir", "/nonexistent/data"], ("--data-dir",)),
    (("model", "export"), ["--out", "/nonexistent/dir/"], ("--out",)),
    (("bench",), ["--set", "no_such_setting=1"], ("--set", "no_such_setting")),
    (("bench",), ["--set", "batch_max=many"], ("--set", "batch_max")),
    (("bench",), ["--rates", "fast,faster"], ("--rates",)),
    (("signals", "import"), ["/nonexistent/list.csv"], ("/nonexistent/list.csv",)),
    (("signals", "import"), ["--list", "Bad Name"], ("--list", "'Bad Name'")),
    (("signals", "export"), ["--list", "a|b"], ("--list", "'a|b'")),
    (("signals", "remove"), ["--list", "acme"], ("--all", "--kind")),
]


@pytest.mark.parametrize(
    ("path", "args", "names"), CASES, ids=[f"{' '.join(p)} {' '.join(a)}" for p, a, _ in CASES]
)
def test_bad_input_gets_one_clear_line(
    path: tuple[str, ...], args: list[str], names: tuple[str, ...], tmp_path: Path
) -> None:
    _assert_one_clear_line(_invoke([*path, *args], tmp_path), *names)


def test_every_command_has_a_bad_input_case() -> None:
    assert set(LEAVES) <= {path for path, _, _ in CASES}, "add a case for each new command"


def test_a_setting_that_is_not_a_topic_name_is_refused_at_start_up(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["classify"], env={"FLAGSTREAM_DLQ_TOPIC": "dead letters"}, input=""
    )
    _assert_one_clear_line(result, "dlq_topic", "'dead letters'")
