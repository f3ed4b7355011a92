"""hypersio's Engine.IO client against the official Node server: heartbeats on both transports."""

from __future__ import annotations

import asyncio

from _support.client_node import NodeServer
from hypersio.engine.client.client import EngineClient


async def test_heartbeat_with_node(node_env: dict[str, str]) -> None:
    server = NodeServer(node_env, extra_env={"HYPERSIO_PING_INTERVAL": "100", "HYPERSIO_PING_TIMEOUT": "100"})
    server.start()
    closed: list[str] = []
    try:
        for transports in (("websocket",), ("polling",)):
            client = EngineClient(server.url, path="/socket.io/", transports=transports)
            closed.clear()
            client.on_close = lambda reason, description: closed.append(reason)
            await client.open()
            assert client.ping_interval == 0.1 and client.ping_timeout == 0.1
            await asyncio.sleep(0.8)  # several ping rounds: each answered in time
            assert closed == [] and client.connected
            client.close()
            assert closed == ["forced close"]
    finally:
        server.stop()
