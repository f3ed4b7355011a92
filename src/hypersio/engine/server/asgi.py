"""The ASGI driver of the Engine.IO server: one ASGI HTTP request or WebSocket, as a connection.

The uvloop driver feeds the engine :class:`~hypersio.engine.server.http.HttpConnection` objects
it parses itself; under an ASGI server (uvicorn, hypercorn) the server parses HTTP and WebSocket
frames and the application gets ``scope``/``receive``/``send``. :class:`AsgiConnection` presents
one such exchange to the same engine code as an ``HttpConnection`` would: a
:class:`~hypersio.engine.server.http.Request`, ``respond``/``fail``, ``hold`` for a long-poll, and
after an upgrade a corked output buffer that the session's WebSocket transport writes its frames
to. Nothing of the engine is implemented twice: routing, handshakes, sessions, heartbeats,
polling, the upgrade and broadcasts are the engine's own.

Why frames at all under ASGI: the engine's WebSocket transport, its sessions and the room walk
append complete server frames to the connection buffer (a broadcast appends one shared frame to
every recipient, in C). Here the buffer's "transport" splits what a loop turn buffered back into
messages (frames the engine built itself, never masked) and hands them to the ASGI ``send``; a
frame shared by a broadcast is split once for all its recipients.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from hypersio.engine.options import EngineOptions
from hypersio.engine.outlet import Corker, get_corker, logger
from hypersio.engine.server.http import HttpConnection, Request, RequestHandler
from hypersio.exceptions import WebSocketError
from hypersio.protocol.websocket import frames as wsframe

__all__ = ["AsgiConnection", "Receive", "Scope", "Send", "serve_http", "serve_websocket"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_OP_TEXT = wsframe.OP_TEXT
_OP_BINARY = wsframe.OP_BINARY
_OP_CLOSE = wsframe.OP_CLOSE
# The engine's own frames are bounded by the write buffer's hard limit; this only stops the
# splitter from refusing a large (legitimate) message.
_SPLIT_LIMIT = 1 << 40
_DENIAL = "websocket.http.response"  # the ASGI extension for an HTTP answer to a WebSocket
_PLAIN = [("Content-Type", "text/plain")]
_LAST_MESSAGES = frozenset(("websocket.close", "websocket.http.response.body"))

# The last split: (frames, messages). A broadcast appends the same frame object to every
# recipient's buffer, and a buffer holding one frame is handed over as that object, so the
# recipients of one broadcast reuse one split.
_last_split: tuple[bytes, list[tuple[int, Any]]] = (b"", [])


def _split_frames(data: bytes) -> list[tuple[int, Any]]:
    """The messages of ``data``, complete unmasked server frames the engine built."""
    global _last_split
    last = _last_split
    if last[0] is data:
        return last[1]
    messages = wsframe.FrameParser(max_message_size=_SPLIT_LIMIT, expect_masked=False).feed(data)
    _last_split = (data, messages)
    return messages


def request_of(scope: Scope) -> Request:
    """The engine's :class:`Request` for an ASGI ``http`` or ``websocket`` scope."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        previous = headers.get(name)
        headers[name] = value if previous is None else f"{previous}, {value}"
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope.get("path", "/")
    query = scope.get("query_string", b"")
    url = f"{path}?{query.decode('latin-1')}" if query else path
    client = scope.get("client") or ("", 0)
    secure = scope.get("scheme") in ("https", "wss")
    method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
    req = Request(method, url, headers, str(client[0]), int(client[1]), secure)
    req.upgrade = scope["type"] == "websocket"
    req.http_version = scope.get("http_version", "1.1")
    return req


class _AsgiTransport:
    """The asyncio-transport face of an :class:`AsgiConnection`, for the corked buffer."""

    __slots__ = ("conn",)

    def __init__(self, conn: AsgiConnection) -> None:
        self.conn = conn

    def write(self, data: bytes) -> None:
        """The buffer's flush: what the engine wrote this loop turn (WebSocket frames)."""
        self.conn.frames_out(data)

    def is_closing(self) -> bool:
        """True once nothing more may be sent on the exchange."""
        return self.conn.finished

    def close(self) -> None:
        """The engine closes the connection (after the close frame, or at shutdown)."""
        self.conn.finish(1000)

    def abort(self) -> None:
        """The engine drops the connection (a slow consumer, or shutdown's last pass)."""
        self.conn.finish(1011)

    def get_write_buffer_size(self) -> int:
        """Bytes handed over but not yet taken by the ASGI server."""
        return self.conn.pending_bytes

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """asyncio's transport introspection: nothing to tell."""
        return default


class AsgiConnection(HttpConnection):
    """One ASGI exchange (an HTTP request or a WebSocket) presented to the engine as a connection.

    The engine calls ``respond``/``fail`` to answer the request (``hold`` keeps a long-poll
    open), ``accept_upgrade`` and ``switch_to`` to turn a WebSocket scope into the stream of a
    WebSocket transport, then writes frames to the buffer as on any connection. ``finished``
    turns true when nothing more goes to the ASGI ``send``; ``pending_bytes`` counts what was
    handed over and not yet sent.
    """

    __slots__ = (
        "scope",
        "asgi_send",
        "answer",
        "held",
        "accepted",
        "finished",
        "pending_bytes",
        "_outbox",
        "_wake",
        "_early",
    )

    def __init__(
        self,
        handler: RequestHandler,
        options: EngineOptions,
        corker: Corker,
        loop: asyncio.AbstractEventLoop,
        scope: Scope,
        send: Send,
    ) -> None:
        super().__init__(handler, options, corker, loop, scope.get("scheme") in ("https", "wss"))
        client = scope.get("client") or ("", 0)
        self.address, self.port = str(client[0]), int(client[1])
        self.scope = scope
        self.asgi_send = send
        self.transport = _AsgiTransport(self)
        # HTTP: the answer (status, headers, body) once given; the exchange waits for it.
        self.answer: asyncio.Future[tuple[int, list[tuple[str, str]], bytes]] = loop.create_future()
        self.held: Any = None  # the polling transport holding the request (a long-poll)
        self.accepted = False  # WebSocket: the accept was sent
        self.finished = False
        self.pending_bytes = 0
        # WebSocket: the ASGI messages waiting for the sender, and its wake-up.
        self._outbox: collections.deque[Message] = collections.deque()
        self._wake: asyncio.Event = asyncio.Event()
        self._early: list[tuple[int, object]] = []  # received before the engine accepted

    def __repr__(self) -> str:
        return f"<AsgiConnection {self.scope['type']} {self.address}:{self.port}>"

    # ---- what the engine calls, as on an HttpConnection -------------------------------------
    def hold(self, holder: Any) -> None:
        """Keep the request unanswered (a long-poll GET); ``holder`` learns of a disconnect."""
        self.held = holder

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes = b"", close: bool = False) -> None:
        """Answer the request (``close`` is the ASGI server's business, ignored)."""
        self.held = None
        if self.answer.done():
            return
        self.answer.set_result((status, headers, body))
        if self.scope["type"] == "websocket" and not self.accepted:
            self._deny(status, headers, body)

    def fail(self, status: int, reason: str) -> None:
        """Log a bad request and answer it with ``status`` (this exchange only)."""
        logger.warning("%s: %s", self.peer, reason)
        holder, self.held = self.held, None
        if holder is not None:
            holder.held_connection_lost(self)
        if self.accepted:
            self.finish(1002)
        else:
            self.respond(status, _PLAIN, reason.encode("utf-8", "replace"))

    def accept_upgrade(self, response: bytes) -> None:
        """Accept the WebSocket: the ASGI server writes the ``101`` itself."""
        self.accepted = True
        self._queue_message({"type": "websocket.accept"}, 0)

    def switch_to(self, ws: Any) -> None:
        """The engine's WebSocket transport takes the exchange; what arrived before goes to it."""
        self.ws = ws
        early, self._early = self._early, []
        if early:
            ws.receive_messages(early)

    def abort(self) -> None:
        """Drop the exchange at once (slow consumer, or shutdown)."""
        self.write_closed = True
        self.finish(1011)

    # ---- the transport side -----------------------------------------------------------------
    def frames_out(self, data: bytes) -> None:
        """Turn the frames of one flush into ASGI ``websocket.send``/``websocket.close`` messages."""
        if self.finished:
            return
        try:
            messages = _split_frames(data)
        except WebSocketError:  # pragma: no cover - the engine's own frames always parse
            logger.exception("%s: unreadable outgoing frames", self.peer)
            self.finish(1011)
            return
        for opcode, payload in messages:
            if opcode == _OP_TEXT:
                self._queue_message({"type": "websocket.send", "text": payload}, len(payload))
            elif opcode == _OP_BINARY:
                self._queue_message({"type": "websocket.send", "bytes": payload}, len(payload))
            elif opcode == _OP_CLOSE:
                self.finish(payload[0])
                return
            # pings and pongs are the ASGI server's business

    def finish(self, code: int) -> None:
        """End the exchange: a WebSocket gets a close with ``code``; nothing is sent after it."""
        if self.finished:
            return
        self.finished = True
        self.write_closed = True
        if self.scope["type"] == "websocket":
            if not self.answer.done():
                self.answer.set_result((200, [], b""))
            self._outbox.append({"type": "websocket.close", "code": code})
            self._wake.set()
        elif not self.answer.done():
            # Shutdown's last pass over a request nobody answered.
            self.answer.set_result((503, _PLAIN, b"server shutting down"))

    def _queue_message(self, message: Message, size: int) -> None:
        self._outbox.append(message)
        self.pending_bytes += size
        self._wake.set()
        if self.pending_bytes > self.high_water and not self._paused_writing:
            self.pause_writing()

    def _deny(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Refuse a WebSocket before accepting it: an HTTP answer where the server can send one."""
        self.finished = True
        self.write_closed = True
        if _DENIAL in self.scope.get("extensions", {}):
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
            raw.append((b"content-length", str(len(body)).encode()))
            self._outbox.append({"type": "websocket.http.response.start", "status": status, "headers": raw})
            self._outbox.append({"type": "websocket.http.response.body", "body": body})
        else:
            self._outbox.append({"type": "websocket.close", "code": 1008})
        self._wake.set()

    async def run_sender(self) -> None:
        """Hand the queued ASGI messages to ``send``, in order, until the exchange ends."""
        outbox = self._outbox
        send = self.asgi_send
        while True:
            while outbox:
                message = outbox.popleft()
                size = len(message.get("text") or message.get("bytes") or "")
                try:
                    await send(message)
                except Exception:  # the client is gone (each ASGI server raises its own type)
                    outbox.clear()
                    self.finished = True
                    return
                self.pending_bytes -= size
                if self._paused_writing and self.pending_bytes <= self.high_water // 4:
                    self.resume_writing()
                if message["type"] in _LAST_MESSAGES:
                    outbox.clear()
                    return
            if self.finished and not outbox:
                return
            self._wake.clear()
            await self._wake.wait()

    def received(self, opcode: int, payload: object) -> None:
        """A message from the client; the engine's WebSocket transport parses nothing here."""
        ws = self.ws
        if ws is None:
            # allow_request may still be deciding; keep the order, bounded like a buffer
            self._early.append((opcode, payload))
            if len(self._early) > 1000:
                self.fail(400, "too many messages before the WebSocket handshake completed")
            return
        ws.receive_messages([(opcode, payload)])

    def lost(self) -> None:
        """The exchange is over: tell the long-poll or the WebSocket transport that used it."""
        self.closed = True
        self.write_closed = True
        self.finished = True
        self._wake.set()
        holder, self.held = self.held, None
        if holder is not None:
            holder.held_connection_lost(self)
        if self.ws is not None:
            self.ws.connection_lost()
        self.handler.connection_closed(self)


class _TooLarge(Exception):
    """The body passed ``max_http_buffer_size``."""


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body (None when the client went away); raises :class:`_TooLarge` past ``limit``."""
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.disconnect":
            return None
        if kind != "http.request":
            continue
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def serve_http(
    handler: RequestHandler, options: EngineOptions, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve one ASGI ``http`` request for the engine ``handler`` (its ``path`` is the engine's)."""
    loop = asyncio.get_running_loop()
    conn = AsgiConnection(handler, options, get_corker(loop), loop, scope, send)
    req = request_of(scope)
    handler.connection_opened(conn)
    try:
        length = req.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > options.max_http_buffer_size:
            handler.body_too_large(conn, req)
            conn.fail(413, f"body of {length} bytes over max_http_buffer_size")
        else:
            if req.method == "POST":
                handler.post_started(conn, req)
            try:
                body = await _read_body(receive, options.max_http_buffer_size)
            except _TooLarge:
                handler.body_too_large(conn, req)
                conn.fail(413, "body over max_http_buffer_size")
            else:
                if body is None:
                    if req.method == "POST":
                        handler.post_aborted(conn, req)
                    return
                req.body = body
                try:
                    handler.handle_request(conn, req)
                except Exception:
                    logger.exception("%s: error while handling %s %s", conn.peer, req.method, req.url)
                    conn.respond(500, _PLAIN, b"internal error")
        answer = conn.answer
        if not answer.done():
            # A long-poll: answered when the session has data, unless the client leaves first.
            watch = asyncio.ensure_future(_wait_disconnect(receive))
            try:
                await asyncio.wait((answer, watch), return_when=asyncio.FIRST_COMPLETED)
            finally:
                watch.cancel()
            if not answer.done():
                return
        status, headers, payload = answer.result()
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        if status != 204:
            raw.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})
    finally:
        conn.lost()


async def serve_websocket(
    handler: RequestHandler, options: EngineOptions, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve one ASGI ``websocket`` for the engine ``handler``: a new WebSocket session, or the
    probe of a polling session's upgrade."""
    first = await receive()
    if first["type"] != "websocket.connect":
        return
    loop = asyncio.get_running_loop()
    conn = AsgiConnection(handler, options, get_corker(loop), loop, scope, send)
    req = request_of(scope)
    # ASGI servers have checked the RFC 6455 handshake; some do not pass on its headers.
    req.headers.setdefault("upgrade", "websocket")
    req.headers.setdefault("connection", "Upgrade")
    req.headers.setdefault("sec-websocket-version", "13")
    req.headers.setdefault("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    handler.connection_opened(conn)
    sender = asyncio.ensure_future(conn.run_sender())
    try:
        try:
            handler.handle_upgrade(conn, req)
        except Exception:
            logger.exception("%s: error while handling a WebSocket upgrade", conn.peer)
            conn.fail(500, "internal error")
        if conn.finished and not conn.accepted:
            await sender  # refused (an HTTP answer or a close): nothing to receive
            return
        while True:
            # After our close the ASGI server still reports the disconnect: receive until then.
            message = await receive()
            kind = message["type"]
            if kind == "websocket.receive":
                text = message.get("text")
                if text is not None:
                    conn.received(_OP_TEXT, text)
                else:
                    conn.received(_OP_BINARY, message.get("bytes") or b"")
            elif kind == "websocket.disconnect":
                break
    finally:
        conn.lost()
        if not sender.done():
            # What is still queued cannot reach a client that left; a close we sent ends it.
            try:
                await asyncio.wait_for(asyncio.shield(sender), 1.0)
            except Exception:  # TimeoutError included: the client is not reading
                sender.cancel()
