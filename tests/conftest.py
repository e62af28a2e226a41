"""Fixtures every test may use. Broker fixtures live in tests/integration/conftest.py."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

# kafka-python 3.0 loads its protocol schemas with importlib.resources.open_text/read_text at
# import time, which Python 3.11/3.12 flag as deprecated; with warnings as errors that would
# fail collection of every module importing kafka. Import it once here, ignoring only that.
with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message=r"(open|read)_text is deprecated", category=DeprecationWarning
    )
    import kafka  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository's root directory (absolute), whatever the working directory is."""
    return REPO_ROOT
