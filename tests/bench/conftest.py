"""The benchmark's smoke test shares the integration tests' broker fixture."""

from __future__ import annotations

import pytest

from tests.integration.conftest import kafka_bootstrap  # noqa: F401 - re-exported fixture


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/bench/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)
