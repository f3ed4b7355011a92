"""Test clients for the cluster tests: a hypersio ``AsyncClient`` that records every event it gets."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import hypersio


@dataclass
class Client:
    """A test client and the events it received (``_disconnect`` for its disconnect)."""

    sio: hypersio.AsyncClient
    events: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait_for(self, event: str, timeout: float = 5.0) -> tuple[Any, ...]:
        """The args of the first ``event`` received (waits for it), consumed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, (name, args) in enumerate(self.events):
                if name == event:
                    del self.events[i]
                    return args
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {event!r}; got {self.events}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass

    async def nothing(self, event: str, wait: float = 0.3) -> None:
        """Assert that no ``event`` arrives within ``wait`` seconds."""
        await asyncio.sleep(wait)
        assert all(name != event for name, _ in self.events), self.events


async def connect_client(
    url: str, rooms: list[str], data: dict[str, Any] | None = None, nsp: str = "/", **options: Any
) -> Client:
    """A connected client of ``url`` + ``nsp`` that asks to join ``rooms`` and have ``data``
    (the test servers read both from the auth) and answers ``ask`` with ``{"answer": x + 1}``."""
    options.setdefault("transports", ("websocket",))
    options.setdefault("reconnection", False)
    sio = hypersio.AsyncClient(url + ("" if nsp == "/" else nsp), auth={"rooms": rooms, "data": data or {}}, **options)
    client = Client(sio)

    def record(event: str, *args: Any) -> None:
        client.events.append((event, args))
        client.changed.set()

    sio.on_any(record)
    sio.on("ask", lambda x: {"answer": x + 1})
    sio.on("disconnect", lambda *args: record("_disconnect", *args))
    await sio.connect()
    return client


def room_server(adapter: Any, **options: Any) -> hypersio.Server:
    """A server whose sockets join the rooms and take the data their auth names, on ``/`` and ``/admin``."""
    sio = hypersio.Server(adapter=adapter, **options)
    for name in ("/", "/admin"):

        @sio.of(name).on("connection")
        def on_connection(socket: hypersio.Socket) -> None:
            auth = socket.handshake.auth
            socket.join(auth.get("rooms", []))
            if auth.get("data"):
                socket.data = auth["data"]

    return sio
