"""Fixtures and hooks every test may use. Broker fixtures live in tests/integration/conftest.py."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# `make test` (and so CI) sets this: there every prerequisite is installed, so a skipped test
# means a missing install step, and it must fail rather than pass unnoticed
REQUIRE_ALL = os.environ.get("FLAGSTREAM_REQUIRE_ALL_TESTS", "0") == "1"

# Tests compare what a worker published with what the same models decide offline. The encoder
# tier's governor degrades batches when the encoder is busier than its share of a core, which on
# a test machine running broker, producers and several workers would make that comparison depend
# on load; a share of 1 never degrades (the governor itself has unit tests). Worker processes the
# tests start inherit this.
os.environ.setdefault("FLAGSTREAM_CASCADE_MAX_BUSY", "1.0")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under FLAGSTREAM_REQUIRE_ALL_TESTS=1 (install what it needs): {report.longrepr}"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root directory (absolute), whatever the working directory is."""
    return REPO_ROOT
