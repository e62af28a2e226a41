"""The command line: every command has help, and start-up problems stop with the fix."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli.main import COMMANDS, cli


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def _worker(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the worker; it must fail before it ever contacts a broker (none is given)."""
    full = {
        **os.environ,
        "FLAGSTREAM_BOOTSTRAP": "127.0.0.1:1",
        "FLAGSTREAM_METRICS_ADDR": "127.0.0.1:0",
        "FLAGSTREAM_DATA_DIR": str(tmp_path / "data"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker"],
        check=False,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bad_policy_stops_start_up_with_file_key_and_fix(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('version = "x"\n[labels.hate]\nreview = 1.7\n', encoding="utf-8")
    result = _worker({"FLAGSTREAM_POLICY_PATH": str(policy)}, tmp_path)
    assert result.returncode == 1
    assert f"{policy}: 'labels.hate.review' threshold 1.7 is outside 0..1" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_model_stops_start_up_with_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    result = _worker({"FLAGSTREAM_MODEL_PATH": str(missing)}, tmp_path)
    assert result.returncode == 1
    assert str(missing) in result.stderr
    assert "FLAGSTREAM_MODEL_PATH" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_model_stops_start_up(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07this is not an onnx graph" * 10)
    result = _worker({"FLAGSTREAM_MODEL_PATH": str(corrupt)}, tmp_path)
    assert result.returncode == 1
    assert str(corrupt) in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_names_it(tmp_path: Path) -> None:
    result = _worker({"FLAGSTREAM_BATCH_MAX": "lots"}, tmp_path)
    assert result.returncode == 1
    assert "batch_max" in result.stderr
    assert "Traceback" not in result.stderr


def test_busy_metrics_port_names_the_setting(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = _worker({"FLAGSTREAM_METRICS_ADDR": f"127.0.0.1:{port}"}, tmp_path)
    assert result.returncode == 1
    assert "--metrics-addr or FLAGSTREAM_METRICS_ADDR" in result.stderr
