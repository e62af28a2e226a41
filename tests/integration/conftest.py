"""Fixtures for tests that need the real local Kafka broker started by deploy/local/kafka.

One broker serves the whole session. A broker that already runs (``make test`` starts one, and
so may a developer) is reused and left running; one this session started is stopped at its end.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol

import pytest
from kafka import KafkaAdminClient
from kafka.errors import UnknownTopicOrPartitionError

from tests.support import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO_ROOT / "deploy" / "local" / "kafka"
INTEGRATION_DIR = Path(__file__).resolve().parent

# deploy/local/kafka waits up to 150 s for the broker itself; the rest covers its lock and
# a first run that still has to fetch the jars from Maven Central.
UP_TIMEOUT_S = 300.0
DOWN_TIMEOUT_S = 90.0
TOPIC_READY_TIMEOUT_MS = 30_000
# printed on stderr by `deploy/local/kafka up` when it reuses a running broker
_ALREADY_RUNNING = "already running"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected under tests/integration as ``integration``."""
    for item in items:
        if item.path.is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)


def run_kafka_script(
    *args: str, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``deploy/local/kafka ARGS`` and return its result, whatever its exit code."""
    return subprocess.run(
        [str(KAFKA_SCRIPT), *args],
        cwd=REPO_ROOT,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def kafka_script() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_kafka_script``: ``kafka_script("status", timeout=30, env=...)`` for tests of the script."""
    return run_kafka_script


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address ("127.0.0.1:<port>") of the local broker, started if needed."""
    up = run_kafka_script("up", timeout=UP_TIMEOUT_S)
    if up.returncode != 0:
        pytest.fail(
            f"deploy/local/kafka up failed (exit {up.returncode}):\n{up.stderr}{up.stdout}",
            pytrace=False,
        )
    bootstrap = up.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"127\.0\.0\.1:\d+", bootstrap), f"unexpected address {bootstrap!r}"
    started_here = _ALREADY_RUNNING not in up.stderr
    yield bootstrap
    if started_here:
        down = run_kafka_script("down", timeout=DOWN_TIMEOUT_S)
        assert down.returncode == 0, f"deploy/local/kafka down failed:\n{down.stderr}"


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    """One admin client for the session, connected to the local broker."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="flagstream-tests")
    yield admin
    admin.close()


class NewTopics(Protocol):
    """Creates ``count`` fresh topics with ``partitions`` partitions each; returns their names."""

    def __call__(self, count: int = 1, *, partitions: int = 1) -> list[str]: ...


@pytest.fixture
def new_topics(
    kafka_admin: KafkaAdminClient, request: pytest.FixtureRequest
) -> Iterator[NewTopics]:
    """Factory for uniquely named topics on the local broker, deleted after the test.

    Names start with the test's name, so a topic left behind by a crashed run says where it came
    from. The factory returns once every partition has a leader, so producers and consumers can
    use the topics at once.
    """
    stem = re.sub(r"[^a-zA-Z0-9._-]+", "-", request.node.name)[:150].strip("-")
    created: list[str] = []

    def create(count: int = 1, *, partitions: int = 1) -> list[str]:
        if count < 1 or partitions < 1:
            raise ValueError(
                f"new_topics needs count >= 1 and partitions >= 1, got {count}, {partitions}"
            )
        names = [f"test-{stem}-{uuid.uuid4().hex[:10]}" for _ in range(count)]
        kafka_admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": 1} for name in names}
        )
        created.extend(names)
        # CreateTopics returns before every partition has a leader in the broker's metadata
        kafka_admin.wait_for_topics(names, timeout_ms=TOPIC_READY_TIMEOUT_MS)
        return names

    yield create
    # a test may have deleted some of them itself
    with contextlib.suppress(UnknownTopicOrPartitionError):
        if created:
            kafka_admin.delete_topics(created)


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A broker of this test's own, and the environment that starts and stops it."""
    env = {
        **os.environ,
        "FLAGSTREAM_KAFKA_PORT": str(free_port()),
        "FLAGSTREAM_KAFKA_CONTROLLER_PORT": str(free_port()),
        "FLAGSTREAM_KAFKA_DIR": str(tmp_path / "kafka"),
        "FLAGSTREAM_KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m",
        "FLAGSTREAM_KAFKA_START_TIMEOUT": "240",  # a loaded machine starts a broker slowly
    }
    try:
        up = run_kafka_script("up", timeout=300, env=env)
        assert up.returncode == 0, up.stderr
        yield up.stdout.strip().splitlines()[-1], env
    finally:  # also when it failed to start in time: it may still be running
        run_kafka_script("down", timeout=90, env=env)
