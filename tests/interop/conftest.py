"""Everything that talks to the official Node packages (marker ``interop``): the JS codecs, engine.io-client,
socket.io-client and the socket.io server. They need node and ``npm ci --prefix tests/js``; without them
they skip, unless HYPERSIO_REQUIRE_INTEROP=1 makes that a failure.
"""

import pytest

from _support.fixtures import echo, make_server, server, transports  # noqa: F401  (fixtures)
from _support.fixtures import uvloop_loop_factories as pytest_asyncio_loop_factories  # noqa: F401


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this folder carries the ``interop`` marker, whether or not its module says so."""
    for item in items:
        if "/interop/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.interop)
