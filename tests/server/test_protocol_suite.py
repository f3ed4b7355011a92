"""The Socket.IO part of the official protocol test suite (socket.io-protocol test-suite.js),
re-expressed in Python over raw WebSockets against a hypersio server set up as that suite
expects: an ``auth`` event echoing ``handshake.auth`` on connection in ``/`` and ``/custom``,
``message`` echoed as ``message-back``, ``message-with-ack`` acknowledged with its arguments,
pingInterval 300 ms, pingTimeout 200 ms, connectTimeout 1000 ms.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

import hypersio

aiohttp = pytest.importorskip("aiohttp")
pytestmark = pytest.mark.timeout(10)


def suite_app() -> hypersio.Server:
    sio = hypersio.Server(ping_interval=0.3, ping_timeout=0.2, connect_timeout=1.0)
    for nsp in (sio.of("/"), sio.of("/custom")):

        @nsp.on("connection")
        def on_connection(socket: hypersio.Socket) -> None:
            socket.emit("auth", socket.handshake.auth)
            socket.on("message", lambda *args: socket.emit("message-back", *args))

            @socket.on("message-with-ack")
            def with_ack(*args: Any) -> None:
                args[-1](*args[:-1])

    return sio


@pytest.fixture
async def server() -> Any:
    sio = suite_app()
    await sio.listen("127.0.0.1", 0)
    try:
        yield sio
    finally:
        await sio.close()


class Raw:
    """A raw Engine.IO WebSocket client that answers pings and returns the other messages."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def recv(self) -> Any:
        while True:
            msg = await self.ws.receive(timeout=2)
            if msg.type == aiohttp.WSMsgType.TEXT and msg.data == "2":
                await self.ws.send_str("3")
                continue
            if msg.type == aiohttp.WSMsgType.TEXT:
                return msg.data
            if msg.type == aiohttp.WSMsgType.BINARY:
                return msg.data
            return None  # closed

    async def closed(self) -> bool:
        while True:
            data = await self.recv()
            if data is None:
                return True

    async def send(self, data: Any) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)


@pytest.fixture
async def raw(server: hypersio.Server) -> Any:
    async with aiohttp.ClientSession() as http:
        clients: list[Any] = []

        async def open_() -> Raw:
            ws = await http.ws_connect(f"http://127.0.0.1:{server.engine.port}/socket.io/?EIO=4&transport=websocket")
            clients.append(ws)
            r = Raw(ws)
            handshake = await r.recv()
            assert handshake.startswith("0{")
            return r

        yield open_
        for ws in clients:
            await ws.close()


async def connected(raw: Any) -> Raw:
    r = await raw()
    await r.send("40")
    assert (await r.recv()).startswith("40{")
    assert await r.recv() == '42["auth",{}]'
    return r


@pytest.mark.parametrize(
    ("connect", "prefix", "auth"),
    [
        ("40", "40", "{}"),
        ('40{"token":"123"}', "40", '{"token":"123"}'),
        ("40/custom,", "40/custom,", "{}"),
        ('40/custom,{"token":"abc"}', "40/custom,", '{"token":"abc"}'),
    ],
)
async def test_connect(raw: Any, connect: str, prefix: str, auth: str) -> None:
    r = await raw()
    await r.send(connect)
    data = await r.recv()
    assert data.startswith(prefix)
    handshake = json.loads(data[len(prefix) :])
    assert list(handshake) == ["sid"] and isinstance(handshake["sid"], str)
    nsp = prefix[2:]
    assert await r.recv() == f'42{nsp}["auth",{auth}]'


async def test_unknown_namespace(raw: Any) -> None:
    r = await raw()
    await r.send("40/random")
    assert await r.recv() == '44/random,{"message":"Invalid namespace"}'


async def test_invalid_handshake_closes(raw: Any) -> None:
    r = await raw()
    await r.send("4abc")
    assert await r.closed()


async def test_disconnect_custom_then_message_main(raw: Any) -> None:
    r = await connected(raw)
    await r.send("40/custom")
    assert (await r.recv()).startswith("40/custom,")
    assert await r.recv() == '42/custom,["auth",{}]'
    await r.send("41/custom")
    await r.send('42["message","message to main namespace"]')
    assert await r.recv() == '42["message-back","message to main namespace"]'


async def test_plain_message(raw: Any) -> None:
    r = await connected(raw)
    await r.send('42["message",1,"2",{"3":[true]}]')
    assert await r.recv() == '42["message-back",1,"2",{"3":[true]}]'


async def test_binary_message(raw: Any) -> None:
    r = await connected(raw)
    await r.send('452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    await r.send(b"\x01\x02\x03")
    await r.send(b"\x04\x05\x06")
    assert await r.recv() == '452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert await r.recv() == b"\x01\x02\x03"
    assert await r.recv() == b"\x04\x05\x06"


async def test_ack(raw: Any) -> None:
    r = await connected(raw)
    await r.send('42456["message-with-ack",1,"2",{"3":[false]}]')
    assert await r.recv() == '43456[1,"2",{"3":[false]}]'


async def test_binary_ack(raw: Any) -> None:
    r = await connected(raw)
    await r.send('452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    await r.send(b"\x01\x02\x03")
    await r.send(b"\x04\x05\x06")
    assert await r.recv() == '462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert await r.recv() == b"\x01\x02\x03"
    assert await r.recv() == b"\x04\x05\x06"


@pytest.mark.parametrize("bad", ["4abc", "42{}", '42abc["message-with-ack",1,"2",{"3":[false]}]'])
async def test_invalid_format_closes(raw: Any, bad: str) -> None:
    r = await connected(raw)
    await r.send(bad)
    assert await r.closed()


async def test_connect_timeout(raw: Any) -> None:
    r = await raw()
    loop_time = asyncio.get_running_loop().time
    t0 = loop_time()
    assert await r.closed()
    assert 0.8 < loop_time() - t0 < 2.0
