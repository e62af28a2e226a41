"""The packaging tests build the wheel once per module and share the integration tests' broker."""

from __future__ import annotations

from tests.integration.conftest import kafka_bootstrap  # noqa: F401 - re-exported fixture
