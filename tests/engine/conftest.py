"""Fixtures for the Engine.IO server tests: a server factory on uvloop and an echo server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import uvloop
from eio_client import Harness, attach_echo

from hypersio.engine import Server


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], Any]]:
    """The engine runs on uvloop in production; test it there."""
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
