"""Issue 13's optional per-socket event rate limit: past it events are dropped and counted, or the
socket is disconnected, as configured; other sockets are not affected."""

from __future__ import annotations

import asyncio

import hypersio


async def _served(policy: str) -> tuple[hypersio.Server, list[str]]:
    sio = hypersio.Server(event_rate_limit=(10, 5, policy))
    seen: list[str] = []

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        socket.on("e", lambda who: seen.append(who))
        socket.on("echo", lambda x: x)

    await sio.listen("127.0.0.1", 0)
    return sio, seen


async def test_drop_policy_drops_past_the_burst_and_refills() -> None:
    sio, seen = await _served("drop")
    url = f"http://127.0.0.1:{sio.engine.port}"
    flooder = hypersio.AsyncClient(url, transports=("websocket",))
    calm = hypersio.AsyncClient(url, transports=("websocket",))
    try:
        await flooder.connect()
        await calm.connect()
        for _ in range(200):
            flooder.emit("e", "flood")
        await asyncio.sleep(0.3)
        flooded = seen.count("flood")
        assert 10 <= flooded <= 14  # the burst, plus what refilled meanwhile
        calm.emit("e", "calm")
        assert await calm.timeout(2).emit_with_ack("echo", 1) == 1
        assert seen.count("calm") == 1
        await asyncio.sleep(1.0)  # ~5 more tokens
        for _ in range(5):
            flooder.emit("e", "later")
        await asyncio.sleep(0.2)
        assert seen.count("later") >= 4 and flooder.connected
    finally:
        await flooder.disconnect()
        await calm.disconnect()
        await sio.close()


async def test_disconnect_policy_disconnects_the_flooder_only() -> None:
    sio, _ = await _served("disconnect")
    url = f"http://127.0.0.1:{sio.engine.port}"
    flooder = hypersio.AsyncClient(url, transports=("websocket",), reconnection=False)
    calm = hypersio.AsyncClient(url, transports=("websocket",))
    reasons: list[str] = []
    flooder.on("disconnect", lambda reason, *_: reasons.append(reason))
    try:
        await flooder.connect()
        await calm.connect()
        for _ in range(100):
            flooder.emit("e", "flood")
        await asyncio.sleep(0.3)
        assert reasons == ["io server disconnect"]
        assert await calm.timeout(2).emit_with_ack("echo", 2) == 2
    finally:
        await flooder.disconnect()
        await calm.disconnect()
        await sio.close()
