"""Shared fixtures: the compiled/pure twin switch and the interop (Node) helpers.

Every twin family of `hypersio._speedups.FAMILIES` has a fixture `<family>_twin` (`json_twin`,
`msgpack_twin`, `engineio_twin`, `websocket_twin`, `outlet_twin`, `rooms_twin`, `dispatch_twin`)
parametrized over the compiled module and the pure-Python one. The compiled variant is skipped
when it was not built, unless HYPERSIO_REQUIRE_EXTENSIONS=1 (as CI sets) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from _support import load_twin
from hypersio import _speedups

JS_DIR = Path(__file__).parent / "js"
NODE_MODULES = JS_DIR / "node_modules"


def _twin_fixture(family: str) -> Any:
    @pytest.fixture(params=["c", "py"], name=f"{family}_twin")
    def fixture(request: pytest.FixtureRequest) -> ModuleType:
        return load_twin(family, request.param)

    fixture.__doc__ = f"The {family} twin family, parametrized over the compiled and the pure module."
    return fixture


# One fixture per twin family of the registry: websocket_twin, engineio_twin, json_twin, ...
for _family in _speedups.FAMILIES:
    globals()[f"{_family}_twin"] = _twin_fixture(_family)


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


REDIS_URL = os.environ.get("HYPERSIO_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis the cluster tests use (127.0.0.1:6379 unless HYPERSIO_TEST_REDIS says otherwise).

    Missing Redis or redis-py skips, unless HYPERSIO_REQUIRE_REDIS=1 (as CI sets) makes it a failure.
    """
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:
        message = f"Redis at {REDIS_URL} is not usable ({exc}); the cluster tests need it and redis-py"
        if os.environ.get("HYPERSIO_REQUIRE_REDIS"):
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL
