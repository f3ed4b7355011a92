"""Shared fixtures: the compiled/pure twin switch and the interop (Node) helpers.

Every codec test takes a twin fixture (`parser_twin`, `msgpack_twin`, `eio_twin`, `wsframe_twin`)
parametrized over the compiled module and the pure-Python one. The compiled variant is skipped
when it was not built, unless HYPERSIO_REQUIRE_EXTENSIONS=1 (as CI sets) makes that a failure.
"""

from __future__ import annotations

import importlib
import os
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from hypersio import _speedups

JS_DIR = Path(__file__).parent / "js"
NODE_MODULES = JS_DIR / "node_modules"


def _twin(stem: str, kind: str) -> ModuleType:
    if kind == "py":
        return importlib.import_module(f"hypersio.{stem}_py")
    if _speedups.NO_EXTENSIONS:
        pytest.skip("HYPERSIO_NO_EXTENSIONS=1: compiled twins are off in this run")
    try:
        return importlib.import_module(f"hypersio.{stem}_c")
    except ImportError as exc:
        if _speedups.REQUIRE_EXTENSIONS:
            raise
        pytest.skip(f"compiled module hypersio.{stem}_c not built: {exc}")


@pytest.fixture(params=["c", "py"])
def parser_twin(request: pytest.FixtureRequest) -> ModuleType:
    return _twin("_parser", request.param)


@pytest.fixture(params=["c", "py"])
def msgpack_twin(request: pytest.FixtureRequest) -> ModuleType:
    return _twin("_msgpack_parser", request.param)


@pytest.fixture(params=["c", "py"])
def eio_twin(request: pytest.FixtureRequest) -> ModuleType:
    return _twin("_eio_parser", request.param)


@pytest.fixture(params=["c", "py"])
def wsframe_twin(request: pytest.FixtureRequest) -> ModuleType:
    return _twin("_wsframe", request.param)


def node_available() -> bool:
    """True when node and the npm packages of tests/js are installed."""
    return shutil.which("node") is not None and (NODE_MODULES / "socket.io").is_dir()


@pytest.fixture(scope="session")
def node_env() -> dict[str, str]:
    """Environment for node subprocesses: NODE_PATH points at tests/js/node_modules."""
    if not node_available():
        if os.environ.get("HYPERSIO_REQUIRE_INTEROP"):
            pytest.fail("node or tests/js/node_modules missing (run: npm ci --prefix tests/js)")
        pytest.skip("node or tests/js/node_modules missing (run: npm ci --prefix tests/js)")
    env = dict(os.environ)
    env["NODE_PATH"] = str(NODE_MODULES)
    return env

