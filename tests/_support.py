"""Helpers the test modules import (fixtures live in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path


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
