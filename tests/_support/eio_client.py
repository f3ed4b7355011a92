"""Raw Engine.IO test clients: HTTP/1.1 and WebSocket spoken by hand over asyncio streams.

The tests check bytes on the wire, not the behaviour of another library.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import zlib
from typing import Any

from hypersio import wsframe
from hypersio.engine import Server

TIMEOUT = 3.0
DEFLATE_TAIL = b"\x00\x00\xff\xff"
OFFER = "permessage-deflate; client_max_window_bits"  # the permessage-deflate offer of ws and browsers


class Response:
    """A parsed HTTP response."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.body[:80]!r}>"


async def read_response(reader: asyncio.StreamReader) -> Response:
    """Read one HTTP/1.1 response with a Content-Length body (what the engine sends)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await asyncio.wait_for(reader.readexactly(length), TIMEOUT) if length else b""
    return Response(status, headers, body)


def build_request(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {url} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class HttpClient:
    """Raw HTTP/1.1 client on one keep-alive TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def request(
        self, method: str, url: str, body: bytes | str = b"", headers: dict[str, str] | None = None
    ) -> Response:
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.writer.write(build_request(method, url, body, headers))
        return await read_response(self.reader)

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_response(self) -> Response:
        return await read_response(self.reader)

    async def at_eof(self, timeout: float = TIMEOUT) -> bool:
        """True once the server closed the connection (any unread bytes are discarded)."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    def close(self) -> None:
        self.writer.close()


class WsClient:
    """Raw WebSocket client: masked frames out, unmasked frames parsed in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, leftover: bytes) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = wsframe.FrameParser(max_message_size=1 << 26, expect_masked=False)
        self.pending: list[tuple[int, Any]] = []
        if leftover:
            self.pending.extend(self.parser.feed(leftover))

    def send_text(self, text: str) -> None:
        self.writer.write(wsframe.build_frame(wsframe.OP_TEXT, text, mask=True))

    def send_binary(self, data: bytes) -> None:
        self.writer.write(wsframe.build_frame(wsframe.OP_BINARY, data, mask=True))

    def send_frame(self, opcode: int, payload: bytes | str) -> None:
        self.writer.write(wsframe.build_frame(opcode, payload, mask=True))

    async def recv(self, timeout: float = TIMEOUT) -> tuple[int, Any]:
        """The next message (opcode, payload); raises EOFError when the server closed TCP."""
        async with asyncio.timeout(timeout):
            while not self.pending:
                data = await self.reader.read(65536)
                if not data:
                    raise EOFError("connection closed")
                self.pending.extend(self.parser.feed(data))
        return self.pending.pop(0)

    async def recv_packet(self, timeout: float = TIMEOUT) -> str | bytes:
        """The next data message (text or binary), skipping nothing."""
        opcode, payload = await self.recv(timeout)
        assert opcode in (wsframe.OP_TEXT, wsframe.OP_BINARY), (opcode, payload)
        return payload

    async def closed(self, timeout: float = TIMEOUT) -> tuple[int, str] | None:
        """Read until the server's close frame and EOF; the close (code, reason) if one came."""
        close = None
        try:
            while True:
                opcode, payload = await self.recv(timeout)
                if opcode == wsframe.OP_CLOSE:
                    close = payload
        except (EOFError, ConnectionError):
            return close

    def close(self) -> None:
        self.writer.close()


class Harness:
    """Opens clients against one running engine server."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    def url(self, query: str = "") -> str:
        return f"{self.server.path}?{query}" if query else self.server.path

    async def http(self) -> HttpClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers.append(writer)
        return HttpClient(reader, writer)

    async def get(self, query: str, headers: dict[str, str] | None = None) -> Response:
        client = await self.http()
        try:
            return await client.request("GET", self.url(query), headers=headers)
        finally:
            client.close()

    async def post(self, query: str, body: bytes | str, headers: dict[str, str] | None = None) -> Response:
        client = await self.http()
        try:
            return await client.request("POST", self.url(query), body, headers)
        finally:
            client.close()

    async def handshake(self) -> dict[str, Any]:
        """Open a polling session; its open packet's fields."""
        res = await self.get("EIO=4&transport=polling")
        assert res.status == 200, res
        assert res.text[0] == "0"
        return json.loads(res.text[1:])

    async def ws_upgrade_request(
        self, query: str, extra: dict[str, str] | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writers.append(writer)
        key = base64.b64encode(os.urandom(16)).decode()
        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
        }
        headers.update(extra or {})
        writer.write(build_request("GET", self.url(query), headers=headers))
        return reader, writer, key.encode()

    async def ws(self, query: str = "EIO=4&transport=websocket") -> WsClient:
        """Open a WebSocket and check the 101 answer."""
        reader, writer, key = await self.ws_upgrade_request(query)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 101 "), head
        accept = wsframe.accept_key(key.decode())
        assert f"Sec-WebSocket-Accept: {accept}".encode() in head
        return WsClient(reader, writer, b"")

    async def ws_session(self) -> tuple[WsClient, dict[str, Any]]:
        """A session opened directly on WebSocket, with its open packet's fields."""
        client = await self.ws()
        packet = await client.recv_packet()
        assert isinstance(packet, str) and packet[0] == "0"
        return client, json.loads(packet[1:])

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


def attach_echo(harness: Harness) -> None:
    harness.sessions = []  # type: ignore[attr-defined]
    harness.closes = []  # type: ignore[attr-defined]

    def on_connection(session: Any) -> None:
        harness.sessions.append(session)  # type: ignore[attr-defined]
        session.on("message", session.send)
        session.on("close", lambda reason, description: harness.closes.append((session.id, reason)))  # type: ignore[attr-defined]

    harness.server.on("connection", on_connection)


def split_payload(text: str) -> list[str]:
    return text.split("\x1e")


class RawWs:
    """A WebSocket client that shows each received frame's first byte and raw payload."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes) -> None:
        self.reader = reader
        self.writer = writer
        self.head = head.decode("latin-1")

    @property
    def extensions(self) -> str | None:
        for line in self.head.split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "sec-websocket-extensions":
                return value.strip()
        return None

    async def frame(self) -> tuple[int, bytes]:
        """The next frame: (first byte, payload as it crossed the socket)."""
        async with asyncio.timeout(TIMEOUT):
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack(">H", await self.reader.readexactly(2))
            elif n == 127:
                (n,) = struct.unpack(">Q", await self.reader.readexactly(8))
            return b0, await self.reader.readexactly(n)

    async def message(self) -> tuple[bool, str | bytes]:
        """The next data message: (compressed?, its content inflated with plain zlib)."""
        b0, payload = await self.frame()
        assert b0 & 0x80 and b0 & 0x0F in (1, 2), hex(b0)
        compressed = bool(b0 & 0x40)
        if compressed:
            payload = zlib.decompressobj(-15).decompress(payload + DEFLATE_TAIL)  # fresh: no context taken over
        return compressed, payload.decode() if b0 & 0x0F == 1 else payload

    def send(self, opcode: int, payload: bytes, compressed: bool = False) -> None:
        if compressed:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = (c.compress(payload) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
        self.writer.write(wsframe.build_frame(opcode, payload, mask=True, rsv1=compressed))


async def raw_ws(harness: Harness, offer: str | None = OFFER, query: str = "EIO=4&transport=websocket") -> RawWs:
    extra = {"Sec-WebSocket-Extensions": offer} if offer is not None else None
    reader, writer, _key = await harness.ws_upgrade_request(query, extra)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return RawWs(reader, writer, head)
