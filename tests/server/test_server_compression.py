"""``compress(False)`` and broadcasts on the real server: what crosses the socket, per emit kind.

A raw WebSocket client that negotiated permessage-deflate sees each frame's RSV1 bit; a raw
long-polling client sees each response's Content-Encoding. Socket.IO packets are checked after
inflating them with plain zlib.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import hypersio
from _support.eio_client import Harness, RawWs, raw_ws
from _support.fixtures import uvloop_loop_factories as pytest_asyncio_loop_factories  # noqa: F401
from hypersio.engine import message as engine_message

BIG = "payload " * 300  # 2,400 characters: over the 1 KiB thresholds


@pytest.fixture
async def app() -> AsyncIterator[tuple[hypersio.Server, Harness, list[hypersio.Socket]]]:
    sio = hypersio.Server(per_message_deflate=True, ping_interval=5, ping_timeout=5)
    sockets: list[hypersio.Socket] = []
    sio.on("connection", sockets.append)
    await sio.listen("127.0.0.1", 0)
    harness = Harness(sio.engine)
    yield sio, harness, sockets
    harness.close()
    await sio.close()


async def ws_client(harness: Harness) -> RawWs:
    ws = await raw_ws(harness, query="EIO=4&transport=websocket")
    await ws.message()  # the open packet
    ws.send(1, b"40")
    _, packet = await ws.message()
    assert isinstance(packet, str) and packet.startswith("40{")
    return ws


async def event(ws: RawWs) -> tuple[bool, list[Any]]:
    compressed, packet = await ws.message()
    assert isinstance(packet, str) and packet.startswith("42"), packet
    return compressed, json.loads(packet[2:])


async def test_socket_emit_compressed_unless_compress_false(app: Any) -> None:
    _, harness, sockets = app
    ws = await ws_client(harness)
    socket = sockets[0]
    socket.emit("e", BIG)
    assert await event(ws) == (True, ["e", BIG])
    socket.compress(False).emit("e", BIG)
    assert await event(ws) == (False, ["e", BIG])
    socket.volatile.compress(False).emit("v", BIG)
    assert await event(ws) == (False, ["v", BIG])
    socket.compress(False).volatile.emit("v2", BIG)
    assert await event(ws) == (False, ["v2", BIG])
    socket.volatile.emit("v3", BIG)
    assert await event(ws) == (True, ["v3", BIG])
    socket.compress(True).emit("small", "x")
    assert await event(ws) == (False, ["small", "x"])  # under the threshold


async def test_broadcast_compressed_once_and_compress_false(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    sio, harness, sockets = app
    clients = [await ws_client(harness) for _ in range(4)]
    calls: list[Any] = []
    real = engine_message.deflated_frame_of
    monkeypatch.setattr(engine_message, "deflated_frame_of", lambda *a: calls.append(a) or real(*a))
    sio.emit("all", BIG)
    frames = [await ws.frame() for ws in clients]
    assert len(calls) == 1  # one deflate for four recipients
    assert frames[0][0] == 0xC1 and all(f == frames[0] for f in frames)
    sio.compress(False).emit("all", BIG)
    assert [await event(ws) for ws in clients] == [(False, ["all", BIG])] * 4
    sio.volatile.compress(False).emit("vol", BIG)
    assert [await event(ws) for ws in clients] == [(False, ["vol", BIG])] * 4
    sockets[0].compress(False).broadcast.emit("peers", BIG)  # a socket's flags reach its broadcast
    assert [await event(ws) for ws in clients[1:]] == [(False, ["peers", BIG])] * 3
    sockets[0].broadcast.emit("peers", BIG)
    assert [await event(ws) for ws in clients[1:]] == [(True, ["peers", BIG])] * 3
    assert len(calls) == 2


async def test_polling_compress_false(app: Any) -> None:
    sio, harness, sockets = app
    sid = json.loads((await harness.get("EIO=4&transport=polling")).text[1:])["sid"]
    assert (await harness.post(f"EIO=4&transport=polling&sid={sid}", "40")).text == "ok"
    query = f"EIO=4&transport=polling&sid={sid}"
    gz = {"Accept-Encoding": "gzip"}
    connect = await harness.get(query, headers=gz)
    assert connect.text.startswith("40{")  # small: not compressed
    await asyncio.sleep(0)
    socket = sockets[0]
    socket.emit("e", BIG)
    res = await harness.get(query, headers=gz)
    assert res.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(res.body).decode()[2:]) == ["e", BIG]
    socket.compress(False).emit("e", BIG)
    res = await harness.get(query, headers=gz)
    assert "content-encoding" not in res.headers and json.loads(res.text[2:]) == ["e", BIG]
    sio.compress(False).emit("b", BIG)
    res = await harness.get(query, headers=gz)
    assert "content-encoding" not in res.headers and json.loads(res.text[2:]) == ["b", BIG]
    sio.emit("b", BIG)
    res = await harness.get(query, headers=gz)
    assert res.headers["content-encoding"] == "gzip"


def test_server_refuses_bad_settings_at_once() -> None:
    with pytest.raises(ValueError, match="http_compression"):
        hypersio.Server(http_compression={"threshold": "big"})  # type: ignore[dict-item]
    sio = hypersio.Server(http_compression={"threshold": 2048}, per_message_deflate={"threshold": 10})
    assert sio.engine.options.http_compression == 2048
    assert sio.engine.options.per_message_deflate == 10
    assert hypersio.Server().engine.options.per_message_deflate is None  # off by default
