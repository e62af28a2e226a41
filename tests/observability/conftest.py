"""Fixtures of the observability tests: the local broker and a real Prometheus.

The broker is the one of deploy/local/kafka, as for tests/integration: a broker that already
runs is reused and left running; one started here is stopped at the end of the session.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.observability.queries import REPO, RULES_DIR
from tests.support import free_port, wait_until

KAFKA_SCRIPT = REPO / "deploy" / "local" / "kafka"
UP_TIMEOUT_S = 300.0
DOWN_TIMEOUT_S = 90.0
JOBS = ("flagstream-worker", "flagstream-lag-exporter")  # as in deploy/prometheus/prometheus.yml
INSTALL_HINT = "run .ci/install-ops-tools (installs the Debian prometheus package)"


def _kafka(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(KAFKA_SCRIPT), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of the local broker, started if needed."""
    up = _kafka("up", timeout=UP_TIMEOUT_S)
    if up.returncode != 0:
        pytest.fail(f"deploy/local/kafka up failed:\n{up.stderr}{up.stdout}", pytrace=False)
    bootstrap = up.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", bootstrap), f"unexpected address {bootstrap!r}"
    yield bootstrap
    if "already running" not in up.stderr:
        down = _kafka("down", timeout=DOWN_TIMEOUT_S)
        assert down.returncode == 0, f"deploy/local/kafka down failed:\n{down.stderr}"


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """The prometheus executable; its absence fails the test with the fix, never skips it."""
    found = shutil.which("prometheus")
    if found is None:
        pytest.fail(f"prometheus is not installed: {INSTALL_HINT}", pytrace=False)
    return found


@dataclass
class Prometheus:
    """A Prometheus server of this test, with a small client for its HTTP API."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    sd_dir: Path

    def set_targets(self, job: str, targets: list[str]) -> None:
        """Scrape ``targets`` (host:port) as ``job``; Prometheus sees the file change at once."""
        path = self.sd_dir / f"{job}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([{"targets": targets}]), encoding="utf-8")
        tmp.replace(path)  # atomic: Prometheus never reads half a file

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def api(self, path: str, **params: str | float) -> Any:
        """GET /api/v1/<path>; returns ``data``; raises with Prometheus' error on failure."""
        query = urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
        if body.get("status") != "success":
            raise PromQLError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.api("query", query=expr)["result"])

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return list(self.api("query_range", query=expr, start=start, end=end, step=step)["result"])

    def scalar(self, expr: str) -> float | None:
        """The value of a single-series instant query, or None when it returns nothing."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None


class PromQLError(AssertionError):
    """Prometheus refused a query (it does not parse, or failed to evaluate)."""


@pytest.fixture(scope="module")
def prometheus(
    prometheus_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Prometheus]:
    """Prometheus scraping every second, with our rules loaded, targets set by the test.

    The jobs are those of deploy/prometheus/prometheus.yml; their targets come from files
    (``Prometheus.set_targets``) because the processes pick their ports after Prometheus starts.
    """
    tmp_path = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
        "rule_files": [str(RULES_DIR / "*.yml")],
        "scrape_configs": [
            {"job_name": job, "file_sd_configs": [{"files": [str(tmp_path / f"{job}.json")]}]}
            for job in JOBS
        ],
    }
    for job in JOBS:
        (tmp_path / f"{job}.json").write_text("[]", encoding="utf-8")
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                prometheus_binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1d",
                "--log.level=warn",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    server = Prometheus(f"http://127.0.0.1:{port}", process, log_path, tmp_path)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited with {process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    try:
        wait_until(ready, 60, "prometheus /-/ready")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
