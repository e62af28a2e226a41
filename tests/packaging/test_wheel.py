"""The wheel as a user gets it: built from the checkout, installed with its dependencies into a
fresh virtualenv, and run from a directory that has nothing to do with the source tree.

The checkout is kept out of the installed runs: no PYTHONPATH, no FLAGSTREAM_* settings, a
working directory in tmp_path, and the virtualenv's own ``flagstream`` script. The virtualenv has
no system site-packages, so a dependency missing from the wheel's metadata fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from kafka import KafkaProducer

from streams import shipped
from tests.support import (
    REPO,
    WorkerProcess,
    free_port,
    metric_sum,
    read_topic,
    wait_until,
    worker_env,
)

pytestmark = pytest.mark.packaging

CONSTRAINTS = REPO / "requirements" / "constraints.txt"
# a first install downloads the build backend and every dependency from the package index
INSTALL_TIMEOUT_S = 600.0
RUN_TIMEOUT_S = 120.0

PHISHING = (
    "Your bank account has been suspended. Verify your identity immediately at "
    "http://secure-login-verify.co/acc or it will be closed."
)
BENIGN = "see you at the team meeting tomorrow"


def _env(**extra: str) -> dict[str, str]:
    """This environment without what would point Python or flagstream at the checkout."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
        and not name.startswith("FLAGSTREAM_")
    }
    # as tests/conftest.py sets it for every worker the tests start: no load-dependent scores
    kept["FLAGSTREAM_CASCADE_MAX_BUSY"] = "1.0"
    return {**kept, **extra}


def _run(
    argv: Sequence[str | Path],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = RUN_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv],
        cwd=cwd,
        env=_env() if env is None else env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _checked(result: subprocess.CompletedProcess[str], what: str) -> str:
    assert result.returncode == 0, (
        f"{what} failed (exit {result.returncode}):\n{result.stderr[-3000:]}"
    )
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built as a user would, by pip with the pinned build backend."""
    out = tmp_path_factory.mktemp("dist")
    build: list[str | Path] = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps"]
    build += ["--build-constraint", CONSTRAINTS, "--wheel-dir", out, REPO]
    _checked(_run(build, cwd=out, timeout=INSTALL_TIMEOUT_S), "pip wheel")
    (built,) = out.glob("flagstream-*.whl")
    return built


@pytest.fixture(scope="module")
def venv_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ of a fresh virtualenv holding the wheel and its pinned dependencies only."""
    root = tmp_path_factory.mktemp("venv")
    _checked(_run([sys.executable, "-m", "venv", "--without-pip", root], cwd=root), "venv")
    python = root / "bin" / "python"
    # this pip installs into it (the virtualenv needs no pip of its own); --no-compile: byte-
    # compiling every dependency is most of an install's time, and Python compiles what it runs
    pip: list[str | Path] = [sys.executable, "-m", "pip", "--python", python]
    install = [*pip, "install", "--quiet", "--no-compile", "-c", CONSTRAINTS, wheel]
    _checked(_run(install, cwd=root, timeout=INSTALL_TIMEOUT_S), "pip install of the wheel")
    return root / "bin"


def _source_of(wheel_path: str) -> Path:
    """The checkout's file that a shipped file of the wheel is a copy of."""
    models = f"{shipped.PACKAGE}/{shipped.MODEL_FILES}/"
    if wheel_path.startswith(models):
        return REPO / "models" / wheel_path.removeprefix(models)
    return REPO / wheel_path


def test_the_wheel_installs_one_package_with_the_shipped_files(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        top_level = {name.split("/", 1)[0] for name in names}
        assert {t for t in top_level if not t.endswith(".dist-info")} == {"streams"}
        for path in shipped.wheel_paths():
            assert path in names, f"{path} is not in {wheel.name}"
            assert archive.read(path) == _source_of(path).read_bytes(), f"{path} differs"


def test_the_virtualenv_sees_the_wheel_not_the_checkout(venv_bin: Path, tmp_path: Path) -> None:
    probe = (
        "import json, importlib.util, streams, streams.settings as s;"
        "print(json.dumps({'streams': streams.__file__, 'model': str(s.DEFAULT_MODEL_PATH),"
        "'missing': [m for m in ('models', 'bench', 'pytest') if not importlib.util.find_spec(m)]}))"
    )
    seen = json.loads(_checked(_run([venv_bin / "python", "-c", probe], cwd=tmp_path), "probe"))
    site = venv_bin.parent / "lib"
    assert Path(seen["streams"]).is_relative_to(site)
    assert Path(seen["model"]).is_relative_to(site)
    # pytest: the shared virtualenv's packages are not visible (no system site-packages)
    assert seen["missing"] == ["models", "bench", "pytest"]
    _checked(
        _run([sys.executable, "-m", "pip", "--python", venv_bin / "python", "check"], cwd=tmp_path),
        "pip check",
    )


def test_the_installed_classify_labels_like_the_checkout(venv_bin: Path, tmp_path: Path) -> None:
    lines = "".join(
        json.dumps({"id": i, "text": text}) + "\n" for i, text in enumerate((PHISHING, BENIGN))
    )
    installed = _run([venv_bin / "flagstream", "classify"], cwd=tmp_path, stdin=lines)
    out = [json.loads(line) for line in _checked(installed, "installed classify").splitlines()]
    checkout = _run([sys.executable, "-m", "streams.cli", "classify"], cwd=REPO, stdin=lines)
    assert out == [
        json.loads(line) for line in _checked(checkout, "checkout classify").splitlines()
    ]
    phishing, benign = out
    assert (phishing["labels"], phishing["action"]) == (["scam"], "block")
    assert (benign["labels"], benign["action"]) == ([], "allow")
    # the encoder tier shipped too: the grey-zone row was re-scored by it
    assert phishing["decided_by"] == "accurate"


# command, its arguments, the extra it needs
CHECKOUT_COMMANDS = [
    ("model train", ("--sample", "0.01"), "train"),
    ("model export", (), "train"),
    ("model calibrate", (), "train"),
    ("model evaluate", ("--quick",), "train"),
    ("bench", ("--smoke",), "bench"),
]
checkout_commands = pytest.mark.parametrize(
    ("command", "args", "extra"), CHECKOUT_COMMANDS, ids=[c for c, _, _ in CHECKOUT_COMMANDS]
)


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    return line


@checkout_commands
def test_source_tree_commands_say_they_need_the_checkout(
    venv_bin: Path, tmp_path: Path, command: str, args: tuple[str, ...], extra: str
) -> None:
    flagstream = venv_bin / "flagstream"
    line = _one_error_line(_run([flagstream, *command.split(), *args], cwd=tmp_path))
    assert line.startswith(f"Error: flagstream {command} runs the ")
    assert "run it from a checkout of the source" in line
    assert f"pip install -e '.[{extra}]'" in line
    # the help still shows, and says where these commands run
    helped = _run([flagstream, command.split(maxsplit=1)[0], "--help"], cwd=tmp_path)
    assert "not from an installed wheel" in " ".join(_checked(helped, "--help").split())


@checkout_commands
def test_source_tree_commands_name_the_extra_they_miss(
    venv_bin: Path, tmp_path: Path, command: str, args: tuple[str, ...], extra: str
) -> None:
    # the checkout's code on the path, but the virtualenv has none of the extras' packages
    from_checkout = _run(
        [venv_bin / "python", "-m", "streams.cli", *command.split(), *args],
        cwd=tmp_path,
        env=_env(PYTHONPATH=str(REPO)),
    )
    line = _one_error_line(from_checkout)
    assert f"{command} needs the '{extra}' extra (" in line
    assert line.endswith(f"is not installed): pip install -e '.[{extra}]'")


@pytest.mark.integration
def test_the_installed_worker_gets_ready_and_flags(
    venv_bin: Path, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = worker_env(kafka_bootstrap, f"wheel-{uuid.uuid4().hex[:8]}")
    metrics_addr = f"127.0.0.1:{free_port()}"
    env = _env(
        **settings,
        FLAGSTREAM_METRICS_ADDR=metrics_addr,
        FLAGSTREAM_DATA_DIR=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [venv_bin / "flagstream", "worker"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    worker = WorkerProcess(process, f"http://{metrics_addr}/metrics", log_path)
    try:

        def ready() -> bool:
            assert worker.alive(), f"the worker exited:\n{worker.log()[-3000:]}"
            try:
                return worker.probe("/readyz") == 200
            except OSError:
                return False

        wait_until(ready, 120, "the installed worker's /readyz 200")
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
        event = {
            "event_id": "wheel-1",
            "type": "post",
            "created_at": "2026-12-02T06:00:00Z",
            "source": "tests",
            "author": {"id": "wheel-author"},
            "text": PHISHING,
        }
        try:
            producer.send(settings["FLAGSTREAM_INPUT_TOPIC"], json.dumps(event).encode())
            producer.flush(timeout=30)
        finally:
            producer.close(timeout=10)
        wait_until(
            lambda: metric_sum(worker.metrics(), "flagstream_events_consumed_total") >= 1,
            60,
            "the event consumed",
        )
    finally:
        code = worker.stop()
    assert code == 0, worker.log()[-3000:]
    (flagged,) = read_topic(kafka_bootstrap, settings["FLAGSTREAM_FLAGGED_TOPIC"])
    data = json.loads(flagged.value)
    assert (data["labels"], data["action"]) == (["scam"], "block")
