"""streams/shipped.py names the files pyproject.toml ships, and finds them in the checkout."""

from __future__ import annotations

import tomllib

from streams import shipped
from streams.settings import DEFAULT_ENCODER_PATH, DEFAULT_MODEL_PATH, DEFAULT_POLICY_PATH
from tests.support import REPO


def test_the_wheel_maps_the_tracked_models_where_shipped_looks() -> None:
    with (REPO / "pyproject.toml").open("rb") as file:
        wheel = tomllib.load(file)["tool"]["hatch"]["build"]["targets"]["wheel"]
    models = {
        f"models/{name}": f"{shipped.PACKAGE}/{shipped.MODEL_FILES}/{name}"
        for name in (shipped.FAST_MODEL, shipped.ENCODER_MODEL)
    }
    assert wheel["force-include"] == models
    assert set(models.values()) <= set(shipped.wheel_paths())
    assert wheel["packages"] == [shipped.PACKAGE]


def test_from_the_checkout_the_defaults_are_the_tracked_files() -> None:
    assert DEFAULT_MODEL_PATH == REPO / "models" / shipped.FAST_MODEL
    assert DEFAULT_ENCODER_PATH == REPO / "models" / shipped.ENCODER_MODEL
    assert DEFAULT_POLICY_PATH == REPO / "streams" / shipped.POLICY
    for name in shipped.SCHEMAS:
        assert shipped.package_file(name).is_file(), name
    assert all(p.is_file() for p in (DEFAULT_MODEL_PATH, DEFAULT_ENCODER_PATH, DEFAULT_POLICY_PATH))
