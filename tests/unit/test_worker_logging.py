"""The worker's logging at WARNING: no library's debug record is built (Faust's spinner would set
the root logger to DEBUG, and every debug call would then cost a record and its redaction)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from faust.worker import Worker

from streams.app import create_app
from streams.cli.worker import service_worker
from streams.settings import Settings


@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_warning_level_worker_builds_no_debug_records(
    tmp_path: Path, root_logging: logging.Logger
) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    worker = service_worker(app, "WARNING")
    worker._setup_logging()
    assert root_logging.level == logging.WARNING
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("faust").isEnabledFor(logging.INFO)


def test_faust_s_own_worker_would_log_everything(
    tmp_path: Path, root_logging: logging.Logger
) -> None:
    """Why service_worker exists: when this fails, Faust stopped doing it; drop the override."""
    app = create_app(Settings(data_dir=tmp_path))
    plain = Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False)
    plain._setup_logging()
    assert root_logging.level == logging.DEBUG
    assert logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
