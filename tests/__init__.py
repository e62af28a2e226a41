"""flagstream's tests; a package so that mypy and pytest tell the two conftest.py apart."""
