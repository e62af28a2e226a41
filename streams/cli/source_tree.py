"""Commands whose code stays in the source tree, not in the wheel.

The wheel installs one import package, ``streams``: the training code (``models/``, behind the
'train' extra) and the benchmark (``bench/``, behind the 'bench' extra) would collide with other
projects' modules of those names, so they stay in the checkout. ``flagstream model ...`` and
``flagstream bench`` run them inside :func:`needs_source`, which ends the command with one line
naming the checkout or the extra it needs instead of a ModuleNotFoundError traceback.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

import click

from streams.settings import REPO_DIR


def checkout_root() -> Path | None:
    """The flagstream source checkout the running ``streams`` is imported from, if it is one."""
    try:
        with (REPO_DIR / "pyproject.toml").open("rb") as file:
            project = tomllib.load(file).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return REPO_DIR if project.get("name") == "flagstream" else None


@contextmanager
def needs_source(package: str, *, extra: str) -> Iterator[None]:
    """Run a block that imports and uses the checkout's ``package`` (``models``, ``bench``).

    Raises :class:`click.ClickException` (one line, exit status 1) when ``streams`` does not run
    from a checkout, when another module of that name would be imported instead of the
    checkout's, or when the block misses a dependency of ``extra``.
    """
    command = click.get_current_context().command_path
    install = f"pip install -e '.[{extra}]'"
    root = checkout_root()
    if root is None or not (root / package / "__init__.py").is_file():
        raise click.ClickException(
            f"{command} runs the {package}/ code of flagstream's source tree, which the installed "
            f"package does not include: run it from a checkout of the source ({install} there)"
        )
    spec = find_spec(package)
    found = Path(spec.origin).resolve().parent if spec is not None and spec.origin else None
    if found != root / package:
        where = "nothing" if found is None else str(found)
        raise click.ClickException(
            f"{command}: `import {package}` finds {where} instead of the checkout's "
            f"{root / package}: put {root} first on PYTHONPATH"
        )
    try:
        yield
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] in (package, "streams"):
            raise  # a module of our own is missing: a bug, not an install step
        raise click.ClickException(
            f"{command} needs the '{extra}' extra ({exc.name} is not installed): {install}"
        ) from None
