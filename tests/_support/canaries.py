"""Canary clients for the attack tests: two well-behaved clients (one over WebSocket, one over
long-polling) that must not notice an attack on the server beside them.

The server must put every socket whose auth has ``canary`` into the room ``canaries``. While
running, the server broadcasts a ``tick`` (its send time) to that room every 100 ms and asks each
canary for an ack once a second; the test then asserts on ``lateness`` (receive - send time of every
tick), ``failed_acks`` and ``answered``.
"""

from __future__ import annotations

import asyncio
import time

import hypersio


class Canaries:
    """The two canary clients of one attack test, with the server-side loops that probe them."""

    def __init__(self, sio: hypersio.Server) -> None:
        self.sio = sio
        self.clients: list[hypersio.AsyncClient] = []
        self.lateness: list[float] = []
        self.failed_acks: list[BaseException] = []
        self.answered = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self, port: int) -> None:
        """Connect one canary over WebSocket and one over long-polling to the server on ``port``."""
        for transports in (("websocket",), ("polling",)):
            client = hypersio.AsyncClient(
                f"http://127.0.0.1:{port}", transports=transports, auth={"canary": True}, reconnection=False
            )
            client.on("tick", lambda sent: self.lateness.append(time.monotonic() - sent))
            client.on("ask", lambda x: x)
            await client.connect()
            self.clients.append(client)

    def start(self) -> None:
        """Start the server's tick (every 100 ms) and ask (every second) loops."""
        self._tasks = [asyncio.create_task(self._ticks()), asyncio.create_task(self._asks())]

    async def _ticks(self) -> None:
        while True:
            self.sio.to("canaries").emit("tick", time.monotonic())
            await asyncio.sleep(0.1)

    async def _asks(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                self.answered += len(await self.sio.to("canaries").timeout(1.0).emit_with_ack("ask", 1))
            except hypersio.AckTimeoutError as exc:
                self.failed_acks.append(exc)

    def stop(self) -> None:
        """Stop the server's loops."""
        for task in self._tasks:
            task.cancel()

    async def disconnect(self) -> None:
        """Disconnect the canary clients."""
        for client in self.clients:
            await client.disconnect()
