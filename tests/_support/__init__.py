"""Helpers the test modules import (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

from hypersio import _speedups


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a Python child process that must import the same hypersio as the tests.

    The tests may run against an installed wheel (CI) or a source tree on PYTHONPATH (development);
    pointing PYTHONPATH at the directory this process imported hypersio from covers both, where a
    hard-coded ``src/`` would make CI children import an unbuilt tree.
    """
    import hypersio

    package_root = str(Path(hypersio.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def load_twin(family: str, kind: str) -> ModuleType:
    """The ``kind`` ("c" or "py") twin of a family of ``hypersio._speedups.FAMILIES``.

    The compiled one is skipped when it was not built, or when HYPERSIO_NO_EXTENSIONS=1; with
    HYPERSIO_REQUIRE_EXTENSIONS=1 a missing compiled twin is an error instead.
    """
    base = _speedups.FAMILIES[family][0]
    if kind == "py":
        return importlib.import_module(f"{base}_py")
    if _speedups.NO_EXTENSIONS:
        pytest.skip("HYPERSIO_NO_EXTENSIONS=1: compiled twins are off in this run")
    try:
        return importlib.import_module(f"{base}_c")
    except ImportError as exc:
        if _speedups.REQUIRE_EXTENSIONS:
            raise
        pytest.skip(f"compiled module {base}_c not built: {exc}")
