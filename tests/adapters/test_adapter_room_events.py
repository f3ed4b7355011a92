"""The adapter's room events (socket.io's create-room, delete-room, join-room, leave-room)."""

from __future__ import annotations

import asyncio
from typing import Any

import hypersio


async def test_room_events_follow_joins_leaves_and_disconnects() -> None:
    sio = hypersio.Server()
    events: list[tuple[Any, ...]] = []
    adapter = sio.of("/").adapter
    adapter.on("create-room", lambda room: events.append(("create", room)))
    adapter.on("delete-room", lambda room: events.append(("delete", room)))
    adapter.on("join-room", lambda room, sid: events.append(("join", room, sid)))
    adapter.on("leave-room", lambda room, sid: events.append(("leave", room, sid)))
    sio.on("connection", lambda s: s.on("go", lambda room: s.join(room) or True))
    await sio.listen("127.0.0.1", 0)
    client = hypersio.AsyncClient(f"http://127.0.0.1:{sio.engine.port}", transports=("websocket",))
    try:
        await client.connect()
        sid = client.id
        assert await client.timeout(2).emit_with_ack("go", "lobby")
        assert ("create", sid) in events and ("join", sid, sid) in events
        assert events[-2:] == [("create", "lobby"), ("join", "lobby", sid)]
        events.clear()
        await client.disconnect()
        await asyncio.sleep(0.2)
        assert sorted(events) == sorted(
            [("delete", sid), ("delete", "lobby"), ("leave", sid, sid), ("leave", "lobby", sid)]
        )
    finally:
        await sio.close()
