"""Fixtures shared by several test folders; each folder's conftest.py imports the ones it uses.

- ``make_server`` / ``echo``: a listening Engine.IO server on 127.0.0.1 and its :class:`Harness`.
- ``server``: the official Node Socket.IO server (tests/js/node_server.js), one per parser and module.
- ``transports``: the client transport matrix (websocket only, polling only, polling upgraded).
- ``uvloop_loop_factories``: the pytest-asyncio hook that runs a folder's tests on uvloop, as
  applications run (a conftest exposes it as ``pytest_asyncio_loop_factories``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import uvloop

from _support.client_node import NodeServer
from _support.eio_client import Harness, attach_echo
from hypersio.engine import Server


def uvloop_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """hypersio runs on uvloop in production; test it there."""
    return {"uvloop": uvloop.new_event_loop}


MakeServer = Callable[..., Awaitable[Harness]]


@pytest.fixture
async def make_server() -> AsyncIterator[MakeServer]:
    """``await make_server(**Server kwargs)`` → a listening server's :class:`Harness`; closed at teardown."""
    harnesses: list[Harness] = []

    async def factory(**kwargs: Any) -> Harness:
        server = Server(**kwargs)
        await server.listen("127.0.0.1", 0)
        harness = Harness(server)
        harnesses.append(harness)
        return harness

    yield factory
    for harness in harnesses:
        harness.close()
        await asyncio.wait_for(harness.server.close(), 5)


@pytest.fixture
async def echo(make_server: MakeServer) -> Harness:
    """A server that echoes every message and records sessions and close reasons."""
    harness = await make_server(ping_interval=5.0, ping_timeout=5.0)
    attach_echo(harness)
    return harness


TRANSPORTS = {
    "websocket": ("websocket",),
    "polling": ("polling",),
    "upgrade": ("polling", "websocket"),
}


@pytest.fixture(scope="module", params=["json", "msgpack"])
def server(request: pytest.FixtureRequest, node_env: dict[str, str]) -> Iterator[NodeServer]:
    """One official Node Socket.IO server per parser and test module (tests/js/node_server.js)."""
    server = NodeServer(node_env, request.param)
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=list(TRANSPORTS))
def transports(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """Each transport choice: websocket only, polling only, polling upgraded to websocket."""
    return TRANSPORTS[request.param]
