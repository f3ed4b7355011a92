"""A WebSocket client connection (RFC 6455) for the Engine.IO client's websocket transport.

The opening handshake is an HTTP/1.1 GET parsed with httptools; once the server answers 101
with the right ``Sec-WebSocket-Accept``, the rest of the stream is fed to our frame parser.
Client frames are masked (the RFC requires it). Outgoing frames written during one event-loop
turn are joined and written once at the end of the turn, so a burst of emits costs one syscall.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import ssl as _ssl
from collections.abc import Callable
from typing import Any, cast

import httptools

from hypersio.engine.client.http import build_request
from hypersio.exceptions import WebSocketError
from hypersio.protocol.websocket import frames as wsframe

__all__ = ["WebSocketConnection", "open_websocket"]

logger = logging.getLogger("hypersio.client.client")

# Bytes allowed before the handshake completes (headers of a 101 are a few hundred bytes).
MAX_HANDSHAKE_SIZE = 65536


class WebSocketConnection(asyncio.Protocol):
    """One client WebSocket. Set ``on_message(opcode, data)`` and ``on_close(reason)`` to listen.

    ``on_message`` receives ``(wsframe.OP_TEXT, str)`` or ``(wsframe.OP_BINARY, bytes)``;
    ``on_close`` runs once with "transport close" (orderly or EOF) or "transport error".
    """

    def __init__(self, key: str, max_message_size: int) -> None:
        self.transport: asyncio.Transport | None = None
        self.on_message: Callable[[int, Any], None] = self._hold_message
        self.on_close: Callable[[str, str], None] = self._hold_close
        # Frames may follow the 101 in the same read, before the owner has set its handlers.
        self._held: list[tuple[int, Any]] = []
        self._held_close: tuple[str, str] | None = None
        self.closed = False
        loop = asyncio.get_running_loop()
        self.handshake_done: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()  # resolved when TCP is gone
        self._key = key
        self._http = httptools.HttpResponseParser(self)
        self._status = 0
        self._accept = ""
        self._frames = wsframe.FrameParser(max_message_size=max_message_size, expect_masked=False)
        self._out: list[bytes] = []
        self._close_sent = False
        self._head_size = 0

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio callback: keep the transport frames are written to."""
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        """asyncio callback: parse the handshake response first, then WebSocket frames."""
        if not self.handshake_done.done():
            try:
                self._http.feed_data(data)
            except httptools.HttpParserUpgrade as exc:
                offset = exc.args[0] if exc.args else len(data)
                self._finish_handshake()
                rest = data[offset:]
                if rest and not self.closed:
                    self._feed(rest)
                return
            except httptools.HttpParserError as exc:
                self._handshake_failed(f"malformed HTTP response to the WebSocket handshake: {exc}")
                return
            self._head_size += len(data)
            if self._head_size > MAX_HANDSHAKE_SIZE and not self.handshake_done.done():
                self._handshake_failed("the WebSocket handshake response is too large")
            return
        self._feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """asyncio callback: end the session with "transport close" (or "transport error")."""
        if not self.lost.done():
            self.lost.set_result(None)
        if not self.handshake_done.done():
            self.handshake_done.set_exception(ConnectionError("connection closed during the WebSocket handshake"))
        self._closed("transport close" if exc is None else "transport error", str(exc or "connection closed"))

    # --- httptools callbacks (handshake only) -----------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        """httptools callback: keep Sec-WebSocket-Accept to verify the handshake."""
        if name.lower() == b"sec-websocket-accept":
            self._accept = value.decode("latin-1").strip()

    def on_headers_complete(self) -> None:
        """httptools callback: note the handshake status code."""
        self._status = self._http.get_status_code()

    def on_message_complete(self) -> None:
        """httptools callback: a complete non-101 response means the server refused the upgrade."""
        if self._status != 101:
            self._handshake_failed(f"WebSocket handshake refused with HTTP {self._status}")

    def _finish_handshake(self) -> None:
        if self._status != 101:
            self._handshake_failed(f"WebSocket handshake refused with HTTP {self._status}")
        elif self._accept != wsframe.accept_key(self._key):
            self._handshake_failed("WebSocket handshake: wrong Sec-WebSocket-Accept")
        elif not self.handshake_done.done():
            self.handshake_done.set_result(None)

    def _handshake_failed(self, message: str) -> None:
        if not self.handshake_done.done():
            self.handshake_done.set_exception(ConnectionError(message))
        self.abort()

    def _hold_message(self, opcode: int, data: Any) -> None:
        self._held.append((opcode, data))

    def _hold_close(self, reason: str, description: str) -> None:
        self._held_close = (reason, description)

    def set_handlers(self, on_message: Callable[[int, Any], None], on_close: Callable[[str, str], None]) -> None:
        """Install the message and close handlers, replaying anything that arrived before."""
        self.on_message = on_message
        self.on_close = on_close
        held, self._held = self._held, []
        for opcode, data in held:
            on_message(opcode, data)
        if self._held_close is not None:
            reason, description = self._held_close
            self._held_close = None
            on_close(reason, description)

    # --- frames -----------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        try:
            messages = self._frames.feed(data)
        except WebSocketError as exc:
            logger.error("WebSocket protocol error from the server: %s", exc)
            self._send_close(exc.code, "")
            self._closed("transport error", str(exc))
            self.abort()
            return
        for opcode, payload in messages:
            if self.closed:
                return
            if opcode == wsframe.OP_TEXT or opcode == wsframe.OP_BINARY:
                self.on_message(opcode, payload)
            elif opcode == wsframe.OP_PING:
                self._write(wsframe.build_frame(wsframe.OP_PONG, payload, mask=True))  # type: ignore[arg-type]
            elif opcode == wsframe.OP_CLOSE:
                code, reason = cast("tuple[int, str]", payload)  # what the frame parser makes of a close frame
                self._send_close(code if code not in (wsframe.CLOSE_NO_STATUS,) else wsframe.CLOSE_NORMAL, "")
                self._closed("transport close", f"WebSocket closed by the server ({code} {reason})".strip())
                if self.transport is not None:
                    self.transport.close()
                return

    def send(self, data: str | bytes) -> None:
        """Queue one message (text for str, binary for bytes); written at the end of this loop turn."""
        if self.closed:
            return
        opcode = wsframe.OP_TEXT if isinstance(data, str) else wsframe.OP_BINARY
        self._write(wsframe.build_frame(opcode, data, mask=True))

    def _write(self, frame: bytes) -> None:
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(frame)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def _send_close(self, code: int, reason: str) -> None:
        if self._close_sent or self.transport is None or self.transport.is_closing():
            return
        self._close_sent = True
        self._flush()
        try:
            payload = wsframe.build_close_payload(code, reason)
        except Exception:
            payload = wsframe.build_close_payload(wsframe.CLOSE_NORMAL, "")
        self.transport.write(wsframe.build_frame(wsframe.OP_CLOSE, payload, mask=True))

    def close(self) -> None:
        """Send a close frame (after anything queued) and close the TCP connection; no callback."""
        if self.closed:
            return
        self.closed = True
        self._send_close(wsframe.CLOSE_NORMAL, "")
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        """Drop the connection at once, without a closing handshake; no callback."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _closed(self, reason: str, description: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.on_close(reason, description)


async def open_websocket(
    host: str,
    port: int,
    target: str,
    headers: list[tuple[str, str]],
    ssl: bool | _ssl.SSLContext | None = None,
    timeout: float = 20.0,
    max_message_size: int = 100_000_000,
) -> WebSocketConnection:
    """Connect to ``ws(s)://host:port`` + ``target`` and complete the opening handshake.

    Raises ConnectionError (or asyncio.TimeoutError) when the server refuses or is unreachable.
    """
    loop = asyncio.get_running_loop()
    key = base64.b64encode(os.urandom(16)).decode()
    kwargs: dict[str, Any] = {}
    if ssl:
        kwargs["ssl"] = ssl if isinstance(ssl, _ssl.SSLContext) else _ssl.create_default_context()
        kwargs["server_hostname"] = host
    host_header = host if port in (80, 443) else f"{host}:{port}"

    async def connect() -> WebSocketConnection:
        _, conn = await loop.create_connection(lambda: WebSocketConnection(key, max_message_size), host, port, **kwargs)
        request = build_request(
            "GET",
            host_header,
            target,
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", key),
                ("Sec-WebSocket-Version", "13"),
                *headers,
            ],
        )
        try:
            assert conn.transport is not None
            conn.transport.write(request)
            await conn.handshake_done
        except BaseException:
            conn.abort()  # cancelled by the timeout or refused: never leak the socket
            raise
        return conn

    return await asyncio.wait_for(connect(), timeout)
