"""WebSocket transport: RFC 6455 handshake checks and one Engine.IO packet per frame.

After the 101 answer the :class:`~hypersio.engine.server.http.HttpConnection` hands every received
byte to :meth:`WebSocketTransport.feed` (through its ``WebSocketReader``); outgoing frames go
through the connection's corked output buffer, so a burst of sends in one loop turn is a single
``transport.write``. With ``EngineOptions.per_message_deflate`` set and a client that offers it,
the handshake negotiates permessage-deflate (RFC 7692, :mod:`hypersio.protocol.websocket.deflate`):
messages from the threshold up are sent deflated, and the frame parser inflates what the client
compressed.
"""

from __future__ import annotations

import asyncio
import binascii
from typing import Any, cast

from hypersio.engine import outlet as fanout
from hypersio.engine.budget import INPUT_COUNTED_FROM
from hypersio.engine.message import PreparedMessage, deflated_frame_of, message_size
from hypersio.engine.options import EngineOptions
from hypersio.engine.outlet import logger
from hypersio.engine.ratelog import RateLimitedLog
from hypersio.engine.server.http import HttpConnection, Request
from hypersio.engine.server.protocols import TransportSession
from hypersio.exceptions import ParseError
from hypersio.protocol.engineio import packets as eio_parser
from hypersio.protocol.websocket import deflate as pmd
from hypersio.protocol.websocket import frames as wsframe

#: Messages of one connection handled per loop turn before the rest waits for the next turn
#: (defined with the compiled receive path, engine.outlet.WebSocketFeed, which applies it).
READ_BUDGET = fanout.READ_BUDGET
_OP_TEXT = wsframe.OP_TEXT
_OP_BINARY = wsframe.OP_BINARY
_OP_PING = wsframe.OP_PING
_OP_PONG = wsframe.OP_PONG
_OP_CLOSE = wsframe.OP_CLOSE
_build_frame = wsframe.build_frame
_message_frame = wsframe.message_frame
_decode_packet = eio_parser.decode_packet
_MESSAGE = eio_parser.MESSAGE
_deliver_messages = fanout.deliver_messages


# A client that sends garbage on purpose (zip bombs from many connections, say) costs the log a
# line every few seconds per close code, not one per connection.
_protocol_warnings = RateLimitedLog(logger, 10.0)


def check_handshake(req: Request) -> str | None:
    """Why ``req`` is not a valid RFC 6455 opening handshake, or None when it is."""
    headers = req.headers
    if req.method != "GET":
        return f"WebSocket handshake with method {req.method}"
    if headers.get("upgrade", "").lower() != "websocket":
        return "Upgrade header is not 'websocket'"
    if "upgrade" not in headers.get("connection", "").lower():
        return "Connection header does not contain 'upgrade'"
    if headers.get("sec-websocket-version") != "13":
        return "unsupported Sec-WebSocket-Version"
    key = headers.get("sec-websocket-key", "")
    try:
        if len(binascii.a2b_base64(key.encode("ascii"), strict_mode=True)) != 16:
            return "Sec-WebSocket-Key is not 16 bytes of base64"
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return "Sec-WebSocket-Key is not valid base64"
    return None


def handshake_response(
    req: Request, deflate: pmd.Deflate | None = None, extra: list[tuple[str, str]] | None = None
) -> bytes:
    """The ``101 Switching Protocols`` answer to a valid handshake (with the agreed
    permessage-deflate parameters, when there are some, and ``extra`` headers from the hooks)."""
    accept = wsframe.accept_key(req.headers["sec-websocket-key"])
    extensions = f"Sec-WebSocket-Extensions: {deflate.response_header}\r\n" if deflate is not None else ""
    more = "".join(f"{name}: {value}\r\n" for name, value in extra) if extra else ""
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n{extensions}{more}\r\n"
    ).encode("latin-1")


def accept_websocket(
    conn: HttpConnection, req: Request, options: EngineOptions, sid: str | None = None
) -> WebSocketTransport:
    """Answer the valid handshake ``req`` with its ``101`` and return the transport of the new
    WebSocket; permessage-deflate is negotiated here when the server allows it. ``sid``: the
    new session's id when this WebSocket opens one (its 101 is the handshake answer)."""
    deflate = None
    if options.per_message_deflate is not None:
        deflate = pmd.negotiate(req.headers.get("sec-websocket-extensions"))
    extra = None
    hooks = options.response_hooks
    if hooks is not None:
        extra = hooks.apply([], req, sid, True) or None
    conn.accept_upgrade(handshake_response(req, deflate, extra))  # the ASGI driver answers through its server
    return WebSocketTransport(conn, options, deflate)


class WebSocketTransport(fanout.WebSocketFeed):
    """One WebSocket connection carrying (or probing to carry) an Engine.IO session.

    ``session`` is set by the session it carries or probes for (None until then). ``deflate``:
    the permessage-deflate parameters agreed in the handshake, None without compression.
    Receiving starts in :meth:`feed` (the connection's ``data_received``), which the base class
    implements: compiled, it is the one step of every read between the event loop and the
    frame parser.
    """

    name = "websocket"

    # conn, session, _parser, _closed, _input_counted and _backlog are WebSocketFeed's fields.
    __slots__ = ("options", "deflate", "_upgrade_timer")
    conn: HttpConnection
    session: TransportSession | None

    def __init__(self, conn: HttpConnection, options: EngineOptions, deflate: pmd.Deflate | None = None) -> None:
        self.conn = conn
        self.options = options
        self.session = None  # the TransportSession it carries or probes for
        self.deflate = deflate
        self._parser = wsframe.FrameParser(
            options.max_http_buffer_size,
            True,
            deflate is not None,
            deflate is not None and deflate.client_no_context_takeover,
        )
        self._closed = False
        self._upgrade_timer: asyncio.TimerHandle | None = None
        self._backlog = None
        self._input_counted = False  # the memory budget counts this parser's unfinished message

    def __repr__(self) -> str:
        return f"<WebSocketTransport {self.conn.peer}>"

    # ---- receiving --------------------------------------------------------------------------
    def _count_input(self, pending: int) -> None:
        """``WebSocketFeed``: a large unfinished message (or one that just completed) is the
        memory budget's concern."""
        self._input_counted = pending >= INPUT_COUNTED_FROM
        self.options.budget.set_input(self.conn, pending if self._input_counted else 0)

    def _start_backlog(self, messages: list[Any]) -> None:
        """``WebSocketFeed``: one read held more than READ_BUDGET messages. Handle a share now
        (``messages`` keeps it), pause reading, and the rest in later loop turns, so one flooding
        client cannot hold the loop."""
        self._backlog = messages[READ_BUDGET:]
        del messages[READ_BUDGET:]
        self.conn.transport.pause_reading()
        asyncio.get_running_loop().call_soon(self._drain_backlog)

    def _drain_backlog(self) -> None:
        backlog = self._backlog
        if backlog is None:
            return
        if self._closed or self.conn.write_closed:
            self._backlog = None
            return
        if len(backlog) > READ_BUDGET:
            messages = backlog[:READ_BUDGET]
            del backlog[:READ_BUDGET]
            asyncio.get_running_loop().call_soon(self._drain_backlog)
        else:
            messages = backlog
            self._backlog = None
            if not self.conn.closed:
                self.conn.transport.resume_reading()
        self.receive_messages(messages)

    def receive_messages(self, messages: list[Any]) -> None:
        """Dispatch complete ``(opcode, payload)`` messages, as the frame parser returns them.

        :meth:`feed` calls it with what it parsed (a budget's worth per loop turn); a driver
        whose server parses the frames itself (ASGI: ``hypersio.engine.server.asgi``) calls it
        with the messages it receives.
        """
        if self._closed or self.conn.write_closed:
            return
        session = self.session
        if session is not None:
            # The hot path, every Socket.IO packet: MESSAGE frames on the open session this
            # WebSocket carries go straight to its handlers, in C (fanout.deliver_messages); it
            # returns where the general path below must take over.
            # (A Session is an Outlet, which deliver_messages reads in C; the protocol cannot say so.)
            start = _deliver_messages(session, self, messages)  # type: ignore[arg-type]
            if start:
                if start == len(messages):
                    return
                del messages[:start]
        for opcode, payload in messages:
            if self._closed:
                return
            if opcode == _OP_TEXT:
                try:
                    ptype, pdata = _decode_packet(payload)
                except ParseError as exc:
                    self._bad_packet(str(exc))
                    return
                self._dispatch(ptype, pdata)
            elif opcode == _OP_BINARY:
                self._dispatch(_MESSAGE, payload)
            elif opcode == _OP_PING:
                self.conn.write(_build_frame(_OP_PONG, payload))
            elif opcode == _OP_CLOSE:
                code, _reason = cast("tuple[int, str]", payload)  # what the frame parser makes of a close frame
                self._on_close_frame(code)
            # unsolicited pongs are allowed by RFC 6455 and mean nothing here

    def _dispatch(self, ptype: int, data: str | bytes | None) -> None:
        session = self.session
        if session is None:
            return
        if session.carrier is self:
            session.handle_packet(ptype, data)
        elif session.upgrading is self:
            session.handle_probe_packet(self, ptype, data)

    def _bad_packet(self, message: str) -> None:
        session = self.session
        logger.warning("%s: bad Engine.IO packet over WebSocket: %s", self.conn.peer, message)
        if session is not None and session.carrier is self:
            session.close("parse error", message)
        else:
            self._drop_probe()
            self.close(False, False)

    def _fail(self, code: int, message: str) -> None:
        """Protocol violation: close frame with ``code``, connection closed, session ended
        (logged, rate-limited per close code)."""
        _protocol_warnings(code, "%s: %s", self.conn.peer, message)
        self._send_close(code)
        session = self.session
        if session is not None and session.carrier is self:
            session.close("transport error", message)
        else:
            self._drop_probe()

    def _on_close_frame(self, code: int) -> None:
        self._send_close(code if code != wsframe.CLOSE_NO_STATUS else wsframe.CLOSE_NORMAL)
        session = self.session
        if session is not None and session.carrier is self:
            session.close("transport close", "the client closed the WebSocket")
        else:
            self._drop_probe()

    def connection_lost(self) -> None:
        """The TCP connection is gone (called by the HttpConnection)."""
        self._cancel_upgrade_timer()
        if self._closed:
            return
        self._closed = True
        session = self.session
        if session is not None and session.carrier is self:
            session.close("transport close", "connection lost")
        else:
            self._drop_probe()

    def _drop_probe(self) -> None:
        self._cancel_upgrade_timer()
        session = self.session
        if session is not None:
            session.upgrade_failed(self)

    # ---- sending ----------------------------------------------------------------------------
    @property
    def direct_out(self) -> HttpConnection | None:
        """The buffer that sends and broadcasts may append plain message frames to themselves
        (``Session.ws_out``), or None when every message must come through :meth:`send_message`
        or :meth:`send_prepared` (this connection compresses)."""
        return self.conn if self.deflate is None else None

    def send_message(self, data: str | bytes, volatile: bool, compress: bool = True) -> None:
        """Queue one message frame (the transport interface; ``Session.send`` normally appends
        the same frame to the connection buffer itself, in C). With permessage-deflate, a message
        of at least the threshold is deflated unless ``compress`` is False."""
        conn = self.conn
        if volatile and conn.congested():
            conn.volatile_dropped += 1
            return
        deflate = self.deflate
        if deflate is not None and compress and message_size(data) >= self.options.per_message_deflate:  # type: ignore[operator]
            conn.write(deflated_frame_of(data, deflate.server_window_bits))
        else:
            conn.write(_message_frame(data))

    def send_prepared(self, msg: PreparedMessage, volatile: bool) -> None:
        """Queue a prepared message's frame (broadcasts append it in hypersio.adapters.rooms instead,
        unless this connection compresses: then the deflated frame, built once per broadcast)."""
        conn = self.conn
        if volatile and conn.congested():
            conn.volatile_dropped += 1
            return
        deflate = self.deflate
        if deflate is not None and msg.compress and msg.size >= self.options.per_message_deflate:  # type: ignore[operator]
            conn.write(msg.deflated_frame(deflate.server_window_bits))
        else:
            conn.write(msg.ws_frame)

    def send_control(self, packet: str) -> None:
        """Queue an already-encoded text packet (``"2"``, ``"3probe"``, the open packet...)."""
        self.conn.write(_build_frame(_OP_TEXT, packet))

    def send_record(self, record: str) -> None:
        """Queue a record left over from long-polling (``"b…"`` records become binary frames)."""
        if record[:1] == "b":
            self.conn.write(_build_frame(_OP_BINARY, binascii.a2b_base64(record[1:])))
        else:
            self.conn.write(_build_frame(_OP_TEXT, record))

    def write_overflow(self, size: int) -> None:
        """The peer stopped reading and the hard limit is passed: drop the connection."""
        session = self.session
        logger.warning("%s: closing: %d bytes waiting to be sent (slow consumer)", self.conn.peer, size)
        self._closed = True
        self.conn.abort()
        if session is not None and session.carrier is self:
            session.close("transport error", "write buffer limit exceeded")
        else:
            self._drop_probe()

    @property
    def unfinished_input(self) -> int:
        """Bytes the frame parser holds for messages not complete yet (the memory budget's input)."""
        return 0 if self._closed else self._parser.pending

    def budget_close(self, kind: str) -> None:
        """The memory budget drops this connection (the budget logged why): the total of ``kind``
        over all connections is past its limit and this one holds among the most."""
        session = self.session
        self._closed = True
        self.conn.abort()
        if session is not None and session.carrier is self:
            session.close("transport error", f"memory budget exceeded ({kind})")
        else:
            self._drop_probe()

    # ---- closing and upgrade ----------------------------------------------------------------
    def close(self, graceful: bool, client_closed: bool) -> bool:
        """Close for the session (or end a probe): a normal close frame, then the connection."""
        self._send_close(wsframe.CLOSE_NORMAL)
        return False

    def _send_close(self, code: int) -> None:
        self._cancel_upgrade_timer()
        if self._closed:
            return
        self._closed = True
        self.conn.write(_build_frame(_OP_CLOSE, wsframe.build_close_payload(code)))
        self.conn.close_after_flush()

    def start_upgrade_timer(self) -> None:
        """Give the client ``upgrade_timeout`` seconds to finish the upgrade it started."""
        self._upgrade_timer = self.conn.loop.call_later(self.options.upgrade_timeout, self._on_upgrade_timeout)

    def _on_upgrade_timeout(self) -> None:
        self._upgrade_timer = None
        session = self.session
        if session is not None and session.upgrading is self:
            logger.warning("%s: session %s: upgrade not completed in time", self.conn.peer, session.id)
            session.upgrade_failed(self)
            self.close(False, False)

    def _cancel_upgrade_timer(self) -> None:
        timer, self._upgrade_timer = self._upgrade_timer, None
        if timer is not None:
            timer.cancel()

    def upgrade_done(self) -> None:
        """The client sent the upgrade packet: this WebSocket now carries the session."""
        self._cancel_upgrade_timer()
