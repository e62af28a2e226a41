"""The files flagstream ships with its code, found through ``importlib.resources``.

The JSON Schemas and the default policy live in the package itself. The two ONNX models stay
tracked under the checkout's ``models/`` (the training code writes them there); the wheel carries
them inside the package as ``streams/model_files/`` (pyproject.toml,
``[tool.hatch.build.targets.wheel.force-include]``). Run from a checkout or an editable install,
that folder does not exist and the checkout's ``models/`` beside the package is used: so the
defaults resolve the same whatever the working directory is.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from streams.errors import ConfigError

PACKAGE = "streams"
# inside the package (installed wheel) and inside the checkout's models/ (source tree)
MODEL_FILES = "model_files"
FAST_MODEL = "fast/flagstream-fast.onnx"
ENCODER_MODEL = "encoder/flagstream-encoder.onnx"
# inside the package, wherever it runs from
POLICY = "policy.default.toml"
SCHEMAS = ("schemas/event.v1.json", "schemas/flagged.v1.json", "schemas/campaign.v1.json")


def package_dir() -> Path:
    """The ``streams`` package's directory: ONNX Runtime and the policy loader read real files."""
    root = resources.files(PACKAGE)
    if not isinstance(root, Path):
        raise ConfigError(
            f"flagstream is imported from {root}, not from a directory: install it with pip "
            "(the wheel unpacked), not as a zip archive"
        )
    return root.resolve()


def package_file(name: str) -> Path:
    """A file of the package itself, e.g. ``package_file(POLICY)``."""
    return package_dir() / name


def model_file(name: str) -> Path:
    """A shipped model, e.g. ``model_file(FAST_MODEL)``: in the installed package, else in the
    source checkout the package is imported from."""
    packaged = package_dir() / MODEL_FILES / name
    checkout = package_dir().parent / "models" / name
    # a missing file is reported where it belongs: an installed package has no models/fast/
    return packaged if packaged.is_file() or not checkout.parent.is_dir() else checkout


def wheel_paths() -> tuple[str, ...]:
    """Where each shipped file is inside the wheel (tests/packaging checks the built wheel)."""
    return (
        *(f"{PACKAGE}/{MODEL_FILES}/{name}" for name in (FAST_MODEL, ENCODER_MODEL)),
        f"{PACKAGE}/{POLICY}",
        *(f"{PACKAGE}/{name}" for name in SCHEMAS),
    )
