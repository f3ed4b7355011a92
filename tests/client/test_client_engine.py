"""The Engine.IO client session against a scripted fake server (heartbeat, bad input) and Node."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

import hypersio
from hypersio import wsframe
from hypersio.client.manager import Backoff
from hypersio.engine.client.client import EngineClient, EngineConnectError

pytestmark = pytest.mark.timeout(10)

Script = Callable[["FakeWebSocket"], Awaitable[None]]


class FakeWebSocket:
    """The server end of one WebSocket, driven by a test script."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = wsframe.FrameParser(expect_masked=True)
        self.pending: list[tuple[int, Any]] = []
        self.query = ""

    async def handshake(self) -> None:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.query = lines[0].split(" ")[1]
        key = next(line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("sec-websocket-key"))
        self.writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + wsframe.accept_key(key).encode() + b"\r\n\r\n"
        )

    def send(self, text: str) -> None:
        self.writer.write(wsframe.build_frame(wsframe.OP_TEXT, text))

    def open(self, ping_interval: int = 25000, ping_timeout: int = 20000, sid: str = "fake") -> None:
        info = {
            "sid": sid,
            "upgrades": [],
            "pingInterval": ping_interval,
            "pingTimeout": ping_timeout,
            "maxPayload": 1000000,
        }
        self.send("0" + json.dumps(info))

    async def receive(self, timeout: float = 3.0) -> tuple[int, Any]:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("client closed")
            self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)


@pytest.fixture
async def fake_server() -> AsyncIterator[Callable[[Script], Awaitable[str]]]:
    """``url = await fake_server(script)``: each connection runs ``script(ws)`` after the 101
    (``handshake=False``: before anything, to script the HTTP answer itself)."""
    servers: list[asyncio.base_events.Server] = []
    tasks: set[asyncio.Task[None]] = set()

    async def start(script: Script, handshake: bool = True) -> str:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            ws = FakeWebSocket(reader, writer)
            try:
                if handshake:
                    await ws.handshake()
                await script(ws)
            except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.ensure_future(handle(reader, writer))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for task in list(tasks):
        task.cancel()
    for server in servers:
        server.close()
        await server.wait_closed()


async def test_answers_pings_and_sends_messages(fake_server: Any) -> None:
    got: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()

    async def script(ws: FakeWebSocket) -> None:
        assert "EIO=4" in ws.query and "transport=websocket" in ws.query
        ws.open()
        ws.send("2")
        await got.put(await ws.receive())
        ws.send("4hello")
        await got.put(await ws.receive())
        await got.put(await ws.receive())
        await asyncio.sleep(5)

    url = await fake_server(script)
    client = EngineClient(url, transports=("websocket",))
    messages: list[Any] = []
    client.on_message = messages.append
    await client.open()
    assert client.sid == "fake" and client.transport == "websocket"
    assert await got.get() == (wsframe.OP_TEXT, "3")
    client.send("text")
    client.send(b"\x00\x01")
    assert await got.get() == (wsframe.OP_TEXT, "4text")
    assert await got.get() == (wsframe.OP_BINARY, b"\x00\x01")
    assert messages == ["hello"]
    client.close()
    assert not client.connected


async def test_ping_timeout_closes(fake_server: Any) -> None:
    async def script(ws: FakeWebSocket) -> None:
        ws.open(ping_interval=100, ping_timeout=100)
        await asyncio.sleep(5)  # never pings

    url = await fake_server(script)
    client = EngineClient(url, transports=("websocket",))
    closed = asyncio.get_running_loop().create_future()
    client.on_close = lambda reason, description: closed.set_result(reason)
    await client.open()
    start = asyncio.get_running_loop().time()
    assert await asyncio.wait_for(closed, 2) == "ping timeout"
    assert 0.15 <= asyncio.get_running_loop().time() - start < 1.0


async def test_bad_engine_packet_closes_with_parse_error(fake_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def script(ws: FakeWebSocket) -> None:
        ws.open()
        await asyncio.sleep(0.05)
        ws.send("9garbage")
        await asyncio.sleep(5)

    url = await fake_server(script)
    client = EngineClient(url, transports=("websocket",))
    closed = asyncio.get_running_loop().create_future()
    client.on_close = lambda reason, description: closed.set_result(reason)
    await client.open()
    assert await asyncio.wait_for(closed, 2) == "parse error"
    assert any("9" in r.getMessage() or "packet" in r.getMessage() for r in caplog.records)


async def test_bad_handshake_refused(fake_server: Any) -> None:
    async def script(ws: FakeWebSocket) -> None:
        ws.send('0{"no sid": true}')
        await asyncio.sleep(5)

    url = await fake_server(script)
    client = EngineClient(url, transports=("websocket",), timeout=2)
    with pytest.raises(EngineConnectError):
        await client.open()
    assert not client.connected


async def test_bad_socketio_packet_closes_and_reconnects(fake_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    connections: list[int] = []

    async def script(ws: FakeWebSocket) -> None:
        connections.append(1)
        ws.open(sid=f"s{len(connections)}")
        _kind, text = await ws.receive()
        assert text == "40"
        ws.send(f'40{{"sid":"sock{len(connections)}"}}')
        if len(connections) == 1:
            ws.send("42{}")  # an EVENT whose payload is not an array: invalid
        await asyncio.sleep(5)

    url = await fake_server(script)
    client = hypersio.AsyncClient(url, transports=("websocket",), reconnection_delay=0.05, reconnection_delay_max=0.1)
    reasons: list[str] = []
    client.on("disconnect", lambda reason, description: reasons.append(reason))
    ids: list[str | None] = []
    client.on("connect", lambda: ids.append(client.id))
    await asyncio.wait_for(client.connect(), 3)
    for _ in range(100):
        if client.id == "sock2":
            break
        await asyncio.sleep(0.02)
    assert reasons == ["parse error"]
    assert ids == ["sock1", "sock2"]
    assert client.connected and client.id == "sock2"
    assert any("invalid Socket.IO packet" in r.getMessage() for r in caplog.records)
    await client.disconnect()


async def test_v2_style_connect_reply_refused(fake_server: Any) -> None:
    async def script(ws: FakeWebSocket) -> None:
        ws.open()
        await ws.receive()
        ws.send("40")  # no sid: a Socket.IO v2 server
        await asyncio.sleep(5)

    url = await fake_server(script)
    client = hypersio.AsyncClient(url, transports=("websocket",))
    with pytest.raises(hypersio.ConnectError, match="v2"):
        await asyncio.wait_for(client.connect(), 3)


def test_backoff_schedule() -> None:
    backoff = Backoff(min_delay=1.0, max_delay=5.0, jitter=0.0)
    assert [backoff.duration() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    backoff.reset()
    assert backoff.duration() == 1.0
    jittered = Backoff(min_delay=1.0, max_delay=100.0, jitter=0.5)
    for expected in (1.0, 2.0, 4.0):
        value = jittered.duration()
        assert expected * 0.5 <= value <= expected * 1.5


def test_engine_client_url_and_options() -> None:
    client = EngineClient("https://example.com/ignored", path="socket.io", query={"a": 1}, headers={"X": "y"})
    assert client.host == "example.com" and client.port == 443 and client.ssl is True
    assert client.host_header == "example.com"
    target = client.target("websocket")
    assert target.startswith("/socket.io/?") and "a=1" in target and "EIO=4" in target
    assert "transport=websocket" in target
    assert "t=" in client.target("polling")
    assert EngineClient("ws://h:81").host_header == "h:81"
    with pytest.raises(ValueError):
        EngineClient("ftp://h")
    with pytest.raises(ValueError):
        EngineClient("http://h", transports=("carrier-pigeon",))


def test_unknown_parser_refused() -> None:
    with pytest.raises(ValueError):
        hypersio.AsyncClient("http://localhost", parser="yaml")


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nnope!",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: d3Jvbmc=\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n" + b"X-Pad: " + b"a" * 70000 + b"\r\n\r\n",
        b"NOT HTTP AT ALL\r\n\r\n",
    ],
    ids=["refused", "wrong-accept", "huge-head", "garbage"],
)
async def test_bad_websocket_handshakes_refused(fake_server: Any, answer: bytes) -> None:
    async def script(ws: FakeWebSocket) -> None:
        await ws.reader.readuntil(b"\r\n\r\n")
        ws.writer.write(answer)
        await asyncio.sleep(5)

    url = await fake_server(script, handshake=False)
    client = EngineClient(url, transports=("websocket",), timeout=3)
    start = asyncio.get_running_loop().time()
    with pytest.raises(EngineConnectError):
        await client.open()
    assert asyncio.get_running_loop().time() - start < 2  # refused at once, not by the timeout


async def test_websocket_close_frame_from_server(fake_server: Any) -> None:
    async def script(ws: FakeWebSocket) -> None:
        ws.open()
        await asyncio.sleep(0.05)
        ws.writer.write(wsframe.build_frame(wsframe.OP_CLOSE, wsframe.build_close_payload(1001, "bye")))
        kind, _payload = await ws.receive()
        assert kind == wsframe.OP_CLOSE  # the client answers the closing handshake
        await asyncio.sleep(5)

    url = await fake_server(script)
    client = EngineClient(url, transports=("websocket",))
    closed = asyncio.get_running_loop().create_future()
    client.on_close = lambda reason, description: closed.set_result((reason, description))
    await client.open()
    reason, description = await asyncio.wait_for(closed, 2)
    assert reason == "transport close" and "1001" in description


async def test_polling_error_status_refused(fake_server: Any) -> None:
    async def script(ws: FakeWebSocket) -> None:
        await ws.reader.readuntil(b"\r\n\r\n")
        body = b'{"code":0,"message":"Transport unknown"}'
        ws.writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        await asyncio.sleep(5)

    url = await fake_server(script, handshake=False)
    client = EngineClient(url, transports=("polling",), timeout=3)
    with pytest.raises(EngineConnectError, match="Transport unknown"):
        await client.open()


async def test_garbage_polling_payload_closes_with_parse_error(fake_server: Any) -> None:
    async def script(ws: FakeWebSocket) -> None:
        while True:
            head = (await ws.reader.readuntil(b"\r\n\r\n")).decode()
            request_line = head.split("\r\n")[0]
            length = 0
            for line in head.split("\r\n")[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":")[1])
            if length:
                await ws.reader.readexactly(length)
            if request_line.startswith("POST"):
                body = b"ok"
            elif "sid=" not in request_line:
                body = b'0{"sid":"p","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
            else:
                await asyncio.sleep(0.05)
                body = b"4fine\x1e\x1e9nonsense"  # an empty record and an unknown type
            ws.writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    url = await fake_server(script, handshake=False)
    client = EngineClient(url, transports=("polling",))
    closed = asyncio.get_running_loop().create_future()
    client.on_close = lambda reason, description: closed.set_result(reason)
    messages: list[Any] = []
    client.on_message = messages.append
    await client.open()
    assert await asyncio.wait_for(closed, 2) == "parse error"
    assert messages == []  # a bad payload is rejected whole


async def test_disconnect_during_connect_fails_connect(fake_server: Any) -> None:
    async def script(ws: FakeWebSocket) -> None:
        ws.open()
        await ws.receive()  # the CONNECT, never answered
        await asyncio.sleep(5)

    url = await fake_server(script)
    client = hypersio.AsyncClient(url, transports=("websocket",))
    connecting = asyncio.ensure_future(client.connect())
    await asyncio.sleep(0.2)
    assert not connecting.done()
    await client.disconnect()
    with pytest.raises(hypersio.ConnectError, match="disconnect"):
        await asyncio.wait_for(connecting, 2)
    assert not client.active and client.manager.engine is None


async def test_odd_packets_after_connect(fake_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def script(ws: FakeWebSocket) -> None:
        ws.open()
        await ws.receive()
        ws.send('40{"sid":"odd"}')
        ws.send('4399["late ack nobody waits for"]')
        ws.send('42/other,["for a namespace we did not join"]')
        ws.send('42["real",1]')
        await asyncio.sleep(0.1)
        ws.send('44{"message":"changed my mind","data":7}')
        await asyncio.sleep(5)

    url = await fake_server(script)
    client = hypersio.AsyncClient(url, transports=("websocket",))
    real: list[Any] = []
    errors: list[Any] = []
    reasons: list[str] = []
    client.on("real", real.append)
    client.on("connect_error", errors.append)
    client.on("disconnect", lambda reason, description: reasons.append(reason))
    await asyncio.wait_for(client.connect(), 3)
    for _ in range(100):
        if reasons:
            break
        await asyncio.sleep(0.02)
    assert real == [1]
    assert reasons == ["io server disconnect"]
    assert len(errors) == 1 and errors[0].message == "changed my mind" and errors[0].data == 7
    assert not client.connected and not client.active
    assert client.manager.engine is None
