"""The client scenarios (tests/_support/client_scenarios.py) against hypersio's own Server instead of Node.

The test functions are imported unchanged; the ``server`` fixture below replaces the Node one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from _support.client_pyserver import PyServer

# The scenario tests run here with this module's ``server`` fixture.
from _support.client_scenarios import *  # noqa: F403

pytestmark = pytest.mark.timeout(10)


@pytest.fixture(params=["json", "msgpack"])
async def server(request: pytest.FixtureRequest) -> AsyncIterator[PyServer]:
    """hypersio.Server with the node_server.js scenarios, on a free 127.0.0.1 port."""
    srv = PyServer(request.param)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.mark.parametrize("kind", ["websocket", "polling", "upgrade"])
async def test_reconnects_to_restarted_server(kind: str) -> None:
    """hypersio.Server closes and a new one listens on the same port: the client comes back."""
    import asyncio
    from typing import Any

    import hypersio

    transports = {"websocket": ("websocket",), "polling": ("polling",), "upgrade": ("polling", "websocket")}[kind]
    first = PyServer()
    await first.start()
    client = hypersio.AsyncClient(first.url, transports=transports, reconnection_delay=0.05, reconnection_delay_max=0.2)
    second: PyServer | None = None
    try:
        await asyncio.wait_for(client.connect(), 5)
        admin = client.manager.socket("/admin")
        await asyncio.wait_for(admin.connect(), 5)
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[Any] = loop.create_future()
        client.once("disconnect", lambda reason, description: lost.set_result(reason))
        await first.stop()
        await asyncio.wait_for(lost, 5)
        echo: asyncio.Queue[Any] = asyncio.Queue()
        client.on("echo-back", lambda *args: echo.put_nowait(args))
        client.emit("echo", "while down", b"\x01")
        back: asyncio.Future[None] = loop.create_future()
        admin_back: asyncio.Future[None] = loop.create_future()
        client.once("connect", lambda: back.set_result(None))
        admin.once("connect", lambda: admin_back.set_result(None))
        await asyncio.sleep(0.3)
        second = PyServer()
        second.port = first.port
        await second.start()
        await asyncio.wait_for(asyncio.gather(back, admin_back), 5)
        assert await asyncio.wait_for(echo.get(), 3) == ("while down", b"\x01")
        assert (await admin.timeout(3).emit_with_ack("whoami"))["nsp"] == "/admin"
        await admin.disconnect()
        await client.disconnect()
    finally:
        await client.disconnect()
        if second is not None:
            await second.stop()
