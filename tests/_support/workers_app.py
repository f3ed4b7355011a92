"""The application the workers tests serve with ``python -m hypersio serve _support.workers_app:sio
--workers 2``: short heartbeats, and events that let a client drive cluster-wide operations."""

from __future__ import annotations

import os
from typing import Any

import hypersio

sio = hypersio.Server(ping_interval=0.5, ping_timeout=1.5)


@sio.on("connection")
def on_connection(socket: hypersio.Socket) -> None:
    socket.join(socket.handshake.auth.get("rooms", []))

    @socket.on("pid")
    def pid() -> int:
        return os.getpid()

    @socket.on("broadcast")
    def broadcast(event: str, arg: Any = None) -> bool:
        sio.emit(event, arg)
        return True  # an answer, so the client knows it was sent

    @socket.on("to_room")
    def to_room(room: str, event: str, arg: Any = None) -> bool:
        sio.to(room).emit(event, arg)
        return True

    @socket.on("servers")
    async def servers() -> int:
        return await sio.sockets.adapter.server_count()

    @socket.on("fetch")
    async def fetch(room: str) -> list[str]:
        return sorted(s.id for s in await sio.in_(room).fetch_sockets())

    @socket.on("acks")
    async def acks() -> list[Any]:
        return list(await sio.timeout(3).emit_with_ack("ask", 1))

    @socket.on("join_all")
    def join_all(room: str) -> bool:
        sio.sockets_join(room)
        return True
