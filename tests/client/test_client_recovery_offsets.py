"""With connection state recovery the server appends an offset to every event: the client keeps it
and hands its handlers the event's own arguments (issue 12's client fix), over a real hypersio server."""

from __future__ import annotations

import asyncio
from typing import Any

import hypersio


async def test_handlers_get_their_own_arguments_and_the_client_resumes() -> None:
    sio = hypersio.Server(connection_state_recovery=hypersio.Recovery(max_disconnection_duration=30))
    await sio.listen("127.0.0.1", 0)
    client = hypersio.AsyncClient(f"http://127.0.0.1:{sio.engine.port}", transports=("websocket",))
    fixed: list[tuple[Any, ...]] = []
    spread: list[tuple[Any, ...]] = []
    ended = asyncio.Event()

    def news(title: str, body: str) -> None:  # written for the event's two arguments
        fixed.append((title, body))
        if title == "missed":
            ended.set()

    client.on("news", news)
    client.on("raw", lambda *args: spread.append(args))
    try:
        await client.connect()
        sio.emit("news", "first", "text")
        sio.emit("raw", 1, "two")
        for _ in range(100):
            if fixed and spread:
                break
            await asyncio.sleep(0.02)
        assert fixed == [("first", "text")]
        # a *args handler sees everything, the offset included, as a JS handler would
        assert spread[0][:2] == (1, "two") and len(spread[0]) == 3 and isinstance(spread[0][2], str)
        sid = client.id
        # drop the transport (a recoverable reason), emit meanwhile, let the client reconnect
        socket = sio.sockets.sockets[sid]
        socket.conn.close()
        await asyncio.sleep(0.1)
        sio.emit("news", "missed", "while away")
        await asyncio.wait_for(ended.wait(), 10)
        assert client.recovered and client.id == sid
        assert fixed[-1] == ("missed", "while away")
    finally:
        await client.disconnect()
        await sio.close()
