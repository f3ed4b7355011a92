"""The Socket.IO layer on the real Engine.IO server, driven by raw WebSocket clients (aiohttp).

These check what the fake session cannot: that a malformed packet closes only the offending
connection on the wire, that binary attachments are reassembled from real frames, and that
the connect timeout closes a session that never joins a namespace.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import hypersio

aiohttp = pytest.importorskip("aiohttp")


async def _open(session: Any, port: int) -> Any:
    ws = await session.ws_connect(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket")
    msg = await ws.receive(timeout=2)
    assert msg.data.startswith("0{")
    return ws


async def _join(ws: Any) -> str:
    await ws.send_str("40")
    msg = await ws.receive(timeout=2)
    assert msg.data.startswith("40{")
    return json.loads(msg.data[2:])["sid"]


@pytest.mark.timeout(15)
async def test_parse_error_binary_and_connect_timeout() -> None:
    sio = hypersio.Server(connect_timeout=0.3, ping_interval=20, ping_timeout=20)
    reasons: list[str] = []
    got_bin: list[Any] = []

    @sio.on("connection")
    def on_conn(socket: hypersio.Socket) -> None:
        socket.on("disconnect", lambda reason, desc: reasons.append(reason))
        socket.on("ping", lambda: socket.emit("pong", "ok"))

        @socket.on("bin")
        def on_bin(data: Any) -> int:
            got_bin.append(data)
            return len(data["b"])

    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    try:
        async with aiohttp.ClientSession() as http:
            bad, good = await _open(http, port), await _open(http, port)
            await _join(bad)
            await _join(good)
            await bad.send_str('42{"not":"an array"}')
            msg = await bad.receive(timeout=2)
            while msg.type == aiohttp.WSMsgType.TEXT:  # queued packets (close "1") come first
                msg = await bad.receive(timeout=2)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
            for _ in range(50):
                if reasons:
                    break
                await asyncio.sleep(0.01)
            assert reasons == ["parse error"]

            await good.send_str('42["ping"]')
            assert (await good.receive(timeout=2)).data == '42["pong","ok"]'
            await good.send_str('451-7["bin",{"b":{"_placeholder":true,"num":0}}]')
            await good.send_bytes(b"\x00\x01\x02")
            assert (await good.receive(timeout=2)).data == "437[3]"
            assert got_bin == [{"b": b"\x00\x01\x02"}]

            idle = await _open(http, port)
            t0 = asyncio.get_running_loop().time()
            msg = await idle.receive(timeout=3)
            while msg.type == aiohttp.WSMsgType.TEXT:
                msg = await idle.receive(timeout=3)
            assert 0.2 < asyncio.get_running_loop().time() - t0 < 2.5
            assert not good.closed
            await good.close()
    finally:
        await sio.close()
