"""Fixtures for the client tests: the official Node server per parser, and the transport matrix."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from client_node import NodeServer

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a dependency, but keep the suite usable
    uvloop = None  # type: ignore[assignment]


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """The client runs on uvloop when installed, as applications do; test it there."""
    if uvloop is None:
        return {"asyncio": asyncio.new_event_loop}
    return {"uvloop": uvloop.new_event_loop}


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
