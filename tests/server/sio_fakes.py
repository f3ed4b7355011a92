"""Fake Engine.IO session for the Socket.IO server unit tests (imported by conftest and tests)."""

from __future__ import annotations

import asyncio
import itertools
from types import SimpleNamespace
from typing import Any

from hypersio import parser

_ids = itertools.count()


class FakePrepared:
    """Stand-in for engine.PreparedMessage: keeps the encoded part."""

    def __init__(self, data: Any) -> None:
        self.data = data


class FakeSession:
    """Records sent Engine.IO messages; feeds messages to the Socket.IO layer."""

    def __init__(self, codec: Any, headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> None:
        self.id = f"eio{next(_ids)}"
        self.transport = "websocket"
        self.request = SimpleNamespace(
            headers=headers or {"user-agent": "test"},
            query=query or {"EIO": "4", "transport": "websocket"},
            address="127.0.0.1",
            url="/socket.io/?EIO=4&transport=websocket",
            secure=False,
            time=1_700_000_000.0,
        )
        self.codec = codec
        self.sent: list[tuple[Any, bool]] = []
        self.handlers: dict[str, list[Any]] = {}
        self.closed = False
        self.close_reason: str | None = None
        self._decoder = codec.Decoder()
        self._read = 0

    def on(self, event: str, handler: Any) -> None:
        self.handlers.setdefault(event, []).append(handler)

    def send(self, data: Any, volatile: bool = False) -> None:
        assert not self.closed, "send on a closed session"
        self.sent.append((data, volatile))

    def send_prepared(self, msg: FakePrepared, volatile: bool = False) -> None:
        assert not self.closed, "send_prepared on a closed session"
        self.sent.append((msg.data, volatile))

    def close(self, reason: str = "forced close", description: Any = None) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = reason
        for h in self.handlers.get("close", []):
            h(reason, description)

    # --- test helpers -------------------------------------------------------------------------

    def receive(self, data: Any) -> None:
        for h in self.handlers.get("message", []):
            h(data)

    def receive_packet(self, ptype: int, nsp: str = "/", data: Any = None, id: int | None = None) -> None:
        for part in self.codec.encode_packet(ptype, nsp, data, id):
            self.receive(part)

    def packets(self) -> list[Any]:
        """Decode everything sent since the last call."""
        out = []
        while self._read < len(self.sent):
            data, _ = self.sent[self._read]
            self._read += 1
            pkt = self._decoder.add(data)
            if pkt is not None:
                out.append(pkt)
        return out

    def events(self) -> list[list[Any]]:
        return [p.data for p in self.packets() if p.type == parser.EVENT or p.type == parser.BINARY_EVENT]


async def settle(turns: int = 5) -> None:
    """Let scheduled handler tasks run."""
    for _ in range(turns):
        await asyncio.sleep(0)
