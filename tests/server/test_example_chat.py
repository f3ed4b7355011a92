"""The chat example, driven by python-socketio's client (a third-party Socket.IO implementation)."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

import pytest

socketio = pytest.importorskip("socketio")

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "chat.py"


def load_chat() -> Any:
    spec = importlib.util.spec_from_file_location("chat_example", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(20)
async def test_chat_rooms_acks() -> None:
    chat = load_chat()
    sio = chat.sio
    await sio.listen("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sio.engine.port}"
    ann, bob = socketio.AsyncClient(), socketio.AsyncClient()
    inbox: asyncio.Queue[Any] = asyncio.Queue()
    bob.on("message", lambda msg: inbox.put_nowait(msg))
    try:
        await ann.connect(url, transports=["websocket"])
        await bob.connect(url, transports=["polling"])
        r1 = await ann.call("join", ("lobby", "ann"), timeout=5)
        r2 = await bob.call("join", ("lobby", "bob"), timeout=5)
        assert r1 == {"room": "lobby", "members": ["ann"]}
        assert r2["room"] == "lobby" and sorted(r2["members"]) == ["ann", "bob"]
        ack = await ann.call("message", "hello", timeout=5)
        assert ack["ok"] and isinstance(ack["id"], int)
        msg = await asyncio.wait_for(inbox.get(), 5)
        assert msg == {"id": ack["id"], "from": "ann", "text": "hello", "room": "lobby"}
        assert await bob.call("rooms", timeout=5) == ["lobby"]
        assert await ann.call("leave", timeout=5) == {"ok": True, "left": "lobby"}
        assert (await ann.call("message", "nobody hears", timeout=5))["ok"] is False
    finally:
        await ann.disconnect()
        await bob.disconnect()
        await sio.close()
