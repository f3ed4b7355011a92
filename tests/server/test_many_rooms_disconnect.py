"""Issue 13 item 6: a socket in a huge number of rooms disconnecting held the loop (0.8 s for a
million rooms) while it left them one by one. It now leaves them in slices
(``adapters.memory.LEAVE_SLICE`` per loop turn): a canary's ticks stay on time, and since the
socket is marked gone at once, a broadcast to one of its rooms right after does not reach it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import hypersio
from hypersio.adapters import memory as adapter_mod

ROOMS = 300_000


@pytest.fixture(params=["c", "py"])
def rooms_twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    from _support import load_twin

    twin = load_twin("rooms", request.param)
    monkeypatch.setattr(adapter_mod, "Member", twin.Member)
    monkeypatch.setattr(adapter_mod, "_fanout_deliver", twin.deliver)
    monkeypatch.setattr(adapter_mod, "_leave_rooms", twin.leave_rooms)


@pytest.mark.usefixtures("rooms_twin")
async def test_leaving_300k_rooms_does_not_stall_the_loop() -> None:
    sio = hypersio.Server()
    adapter = sio.sockets.adapter
    joined: list[Any] = []
    left: list[tuple[str, str]] = []

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        joined.append(socket)

    await sio.listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sio.engine.port}"
    canary = hypersio.AsyncClient(url, transports=("websocket",), reconnection=False)
    crowded = hypersio.AsyncClient(url, transports=("websocket",), reconnection=False)
    lateness: list[float] = []
    reached: list[Any] = []
    canary.on("tick", lambda sent: lateness.append(time.monotonic() - sent))
    crowded.on("news", reached.append)
    await canary.connect()
    await crowded.connect()
    await asyncio.sleep(0.1)
    canary_socket, crowded_socket = joined
    rooms = [f"room-{i}" for i in range(ROOMS)]
    crowded_socket.join(rooms)
    canary_socket.join("room-7")
    assert len(adapter.rooms) >= ROOMS
    adapter.membership_observers.append(lambda room, sid, joined: joined or left.append((room, sid)))

    async def ticks() -> None:
        while True:
            sio.to(canary_socket.id).emit("tick", time.monotonic())
            await asyncio.sleep(0.05)

    ticker = asyncio.create_task(ticks())
    try:
        await asyncio.sleep(0.3)
        lateness.clear()
        sid = crowded_socket.id
        started = time.perf_counter()
        crowded_socket.disconnect()
        # It used to leave every room before returning: ~0.25 s here, 0.8 s for a million rooms.
        took = time.perf_counter() - started
        # Right after: no broadcast to one of its rooms may reach it, while it is still leaving them.
        assert sio.to("room-123").emit("news", 1) is None
        assert adapter.rooms.get("room-123"), "left already: the test would prove nothing"
        sio.to("room-7").emit("news", 2)
        for _ in range(200):
            await asyncio.sleep(0.05)
            if len(adapter.rooms) <= 2:
                break
        await asyncio.sleep(0.3)
        assert len(adapter.rooms) == 2, len(adapter.rooms)  # the canary's own room and room-7
        assert sid not in adapter.sids
        assert len(left) == ROOMS + 1  # the observers saw every room left (its own included)
    finally:
        ticker.cancel()
        await crowded.disconnect()
        await canary.disconnect()
        await sio.close()
    assert reached == [], "a broadcast reached the disconnected socket"
    assert took < 0.1, f"disconnect() held the loop {took:.3f}s"
    assert len(lateness) >= 5
    assert max(lateness) < 0.3, f"ticks up to {max(lateness):.3f}s late while the socket left its rooms"
