"""Session: one Engine.IO client, whatever transport carries it at the moment.

The session owns what outlives a transport: its id, the handshake request, the event handlers,
the heartbeat, and the upgrade from long-polling to WebSocket. Sending goes straight to the
current transport object (``carrier``), which appends to a corked output buffer.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from hypersio.engine.message import PreparedMessage
from hypersio.engine.options import EngineOptions
from hypersio.engine.outlet import Outlet, logger
from hypersio.engine.server.heartbeat import Heartbeats
from hypersio.engine.server.http import Request
from hypersio.engine.server.polling import Polling
from hypersio.engine.server.websocket import WebSocketTransport
from hypersio.protocol.engineio import packets as eio_parser

_MESSAGE = eio_parser.MESSAGE
_PING = eio_parser.PING
_PONG = eio_parser.PONG
_CLOSE = eio_parser.CLOSE
_UPGRADE = eio_parser.UPGRADE

# Reasons for which what is already queued is still delivered before the close; for the others
# (the peer is gone or misbehaved) it is discarded, as the official server does.
_GRACEFUL = frozenset(("forced close", "server shutting down"))

Handler = Callable[..., Any]
Transport = Polling | WebSocketTransport


class Session(Outlet):
    """One Engine.IO session, handed to the server's ``connection`` handlers.

    ``send``/``send_prepared`` queue a message (they never block); ``on("message", h)`` and
    ``on("close", h)`` register callbacks receiving ``(data)`` and ``(reason, description)``.
    ``request`` is the handshake :class:`~hypersio.engine.server.http.Request`; ``transport`` is
    ``"polling"`` or ``"websocket"`` and changes when the client upgrades; ``upgrading`` is the
    WebSocket transport being probed during an upgrade (else None); ``heartbeat_at`` is the loop
    time of the next heartbeat deadline; ``close_reason`` is set once closed.

    The :class:`~hypersio.engine.outlet.Outlet` base holds ``id``, ``closed`` and, while a WebSocket
    carries the session, that connection's output buffer (``ws_out``): a broadcast appends its
    frame there directly, without a call per recipient. It also holds the transport (``carrier``),
    the message handlers and the pong state, which the compiled receive path
    (``outlet.deliver_messages``) reads.

    The server creates it with its :class:`~hypersio.engine.options.EngineOptions`, its
    :class:`~hypersio.engine.server.heartbeat.Heartbeats` and ``on_closed``, called with the
    session once it is closed and may be forgotten. The methods below the public API are what the
    transports (:class:`~hypersio.engine.server.protocols.TransportSession`), the heartbeats
    (:class:`~hypersio.engine.server.heartbeat.Timed`) and the server call.
    """

    __slots__ = (
        "request",
        "transport",
        "close_reason",
        "upgrading",
        "heartbeat_at",
        "_options",
        "_heartbeats",
        "_on_closed",
        "_probed",
        "_close_handlers",
        "_timer",
        "_pong_grace",
        "_loop",
        "_tasks",
        "__weakref__",
    )

    def __init__(
        self,
        sid: str,
        request: Request,
        tx: Transport,
        options: EngineOptions,
        heartbeats: Heartbeats,
        on_closed: Callable[[Session], None],
    ) -> None:
        self.id = sid
        self.request = request
        self.transport: str = tx.name
        self.closed = False
        self.close_reason: str | None = None
        self.carrier = tx
        self.ws_out = tx.direct_out if isinstance(tx, WebSocketTransport) else None
        self.upgrading: WebSocketTransport | None = None  # the WebSocket being probed, during an upgrade
        self.heartbeat_at = 0.0  # loop time of the heartbeat deadline
        self._options = options
        self._heartbeats = heartbeats
        self._on_closed = on_closed
        self._probed = False
        # Tuples: set once or twice per session, and an idle server holds one per client.
        self.message_handlers: tuple[Handler, ...] = ()
        self._close_handlers: tuple[Handler, ...] = ()
        self._timer: asyncio.TimerHandle | None = None  # only while lingering after a close
        self.awaiting_pong = False
        self._pong_grace = False
        self._loop = heartbeats.loop
        self._tasks: set[asyncio.Task[Any]] | None = None
        tx.session = self

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<Session {self.id} {self.transport} {state}>"

    # ---- public API -------------------------------------------------------------------------
    def on(self, event: str, handler: Handler | None = None) -> Any:
        """Register ``handler`` for ``"message"`` (``h(data)``) or ``"close"`` (``h(reason, description)``).

        Works as a decorator when ``handler`` is omitted. Handlers may be coroutine functions; they
        then run as tasks.
        """
        if handler is None:
            return lambda h: self.on(event, h)
        if event == "message":
            self.message_handlers = (*self.message_handlers, handler)
        elif event == "close":
            self._close_handlers = (*self._close_handlers, handler)
        else:
            raise ValueError(f"unknown Engine.IO session event {event!r} (expected 'message' or 'close')")
        return handler

    # send(data, volatile=False) is inherited from Outlet: compiled, it frames and buffers a
    # message for a WebSocket-carried session without a Python call; otherwise it calls
    # carrier.send_message (bytearray/memoryview are framed as bytes).

    def send_uncompressed(self, data: str | bytes, volatile: bool = False) -> None:
        """:meth:`send`, but the message is never compressed (``compress(False)`` on an emit):
        no permessage-deflate for it, and it does not make its long-polling response compressed."""
        if not self.closed:
            self.carrier.send_message(data, volatile, False)

    def send_prepared(self, msg: PreparedMessage, volatile: bool = False) -> None:
        """Queue a message encoded once for many sessions (broadcasts); see :class:`PreparedMessage`."""
        if not self.closed:
            self.carrier.send_prepared(msg, volatile)

    def close(self, reason: str = "forced close", description: Any = None) -> None:
        """Close the session: queued messages are delivered, then the client gets a close packet.

        The close handlers get ``(reason, description)``; a second call does nothing. The
        transports close with the other JavaScript reasons ("transport close", "transport
        error", "parse error", "ping timeout"): the peer is gone or broke the protocol, so what
        is still queued for long-polling is dropped, as the official server does.
        """
        if self.closed:
            return
        self.closed = True
        self.ws_out = None
        self.close_reason = reason
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        probing, self.upgrading = self.upgrading, None
        if probing is not None:
            probing.close(False, False)
        linger = self.carrier.close(reason in _GRACEFUL, reason == "transport close")
        if linger:
            # Polling without a pending GET: keep the sid routable so the next GET can still
            # deliver the queued messages and the close packet, for a bounded time.
            self._timer = self._loop.call_later(self._options.ping_timeout, self.unregister)
        else:
            self.unregister()
        for handler in self._close_handlers:
            self.run_handler(handler, reason, description)

    def run_handler(self, handler: Handler, *args: Any) -> None:
        """Call ``handler(*args)`` for this session: an exception is logged, an awaitable result
        runs as a task of the session (see :meth:`adopt`)."""
        try:
            result = handler(*args)
        except Exception:
            logger.exception("session %s: error in a handler", self.id)
            return
        if result is not None:
            self.adopt(result)

    def adopt(self, result: Any) -> None:
        """Run a handler's awaitable result as a task the session keeps until it ends."""
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(result)
            if self._tasks is None:
                self._tasks = set()
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if self._tasks is not None:
            self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("session %s: error in a handler", self.id, exc_info=task.exception())

    @property
    def peer(self) -> str:
        """``host:port`` of the client of the handshake, for log lines."""
        return f"{self.request.address}:{self.request.port}"

    # ---- heartbeat --------------------------------------------------------------------------
    # The deadline is an absolute loop time derived from the previous *scheduled* time, so a
    # late-running loop does not push the deadlines back: the session is gone at handshake +
    # ping_interval + ping_timeout when no pong comes. The server's Heartbeats heap calls
    # on_heartbeat when it passes (one loop timer for all sessions, not one each).
    def start_heartbeat(self) -> None:
        """Set the first heartbeat deadline, ``ping_interval`` from now (the handshake was sent)."""
        self.awaiting_pong = False
        self.heartbeat_at = self._loop.time() + self._options.ping_interval
        self._heartbeats.schedule(self)

    def on_heartbeat(self) -> None:
        """The heartbeat deadline passed (called by the server's :class:`Heartbeats`): ping, or
        close with "ping timeout" when the last ping went unanswered."""
        if self.closed:
            return
        if self.awaiting_pong:
            self.close("ping timeout", None)
            return
        self.awaiting_pong = True
        self._pong_grace = False
        self.carrier.send_control("2")
        self.heartbeat_at += self._options.ping_timeout
        self._heartbeats.schedule(self)

    def _on_pong(self) -> None:
        if self.awaiting_pong:
            self.awaiting_pong = False
            self.heartbeat_at = self._loop.time() + self._options.ping_interval
            self._heartbeats.schedule(self)

    # ---- packets from the transports --------------------------------------------------------
    def handle_packet(self, ptype: int, data: str | bytes | None) -> None:
        """An Engine.IO packet arrived on the carrier (called by the transports)."""
        if self.closed:
            return
        if self.awaiting_pong and not self._pong_grace and ptype != _PONG:
            # Traffic while a pong is due proves the client alive: like node 6.6, restart the
            # pong deadline once per ping (a pong stuck behind a large upload still counts).
            self._pong_grace = True
            self.heartbeat_at = self._loop.time() + self._options.ping_timeout
            self._heartbeats.schedule(self)
        if ptype == _MESSAGE:
            for handler in self.message_handlers:
                self.run_handler(handler, data)
        elif ptype == _PONG:
            self._on_pong()
        elif ptype == _PING:
            self.protocol_error("transport error", "invalid heartbeat direction: the client sent a ping")
        elif ptype == _CLOSE:
            self.close("transport close", "the client sent a close packet")
        # open, upgrade and noop packets mean nothing on an open session: ignored, as in node

    def protocol_error(self, reason: str, description: str) -> None:
        """The client broke the protocol: log ``description`` and close for ``reason``."""
        logger.warning("%s: session %s: %s", self.peer, self.id, description)
        self.close(reason, description)

    # ---- upgrade ----------------------------------------------------------------------------
    def begin_upgrade(self, ws: WebSocketTransport) -> None:
        """The client opened ``ws`` to upgrade this polling session: probe it."""
        self.upgrading = ws
        self._probed = False
        ws.session = self

    def handle_probe_packet(self, ws: WebSocketTransport, ptype: int, data: str | bytes | None) -> None:
        """A packet arrived on ``ws``, the WebSocket being probed (called by it)."""
        if ptype == _PING and data == "probe":
            ws.send_control("3probe")
            self._probed = True
            # The client pauses polling once it has the probe answer; release its pending GET.
            self.carrier.release_for_upgrade()
        elif ptype == _UPGRADE:
            self._complete_upgrade(ws)
        else:
            logger.warning("%s: session %s: unexpected packet %d during upgrade", self.peer, self.id, ptype)
            self.upgrade_failed(ws)
            ws.close(False, False)

    def _complete_upgrade(self, ws: WebSocketTransport) -> None:
        old = self.carrier
        self.upgrading = None
        ws.upgrade_done()
        records = old.discard()
        self.carrier = ws
        self.ws_out = ws.direct_out
        self.transport = ws.name
        self._options.stats.upgrades += 1
        # What was queued for polling and not yet polled goes first, in order, on the WebSocket.
        for record in records:
            ws.send_record(record)

    def upgrade_failed(self, ws: WebSocketTransport) -> None:
        """The probe over ``ws`` ended without an upgrade: polling goes on as before."""
        if self.upgrading is ws:
            self.upgrading = None
            self._probed = False
            self.carrier.upgrade_aborted()

    # ---- closing ----------------------------------------------------------------------------
    def unregister(self) -> None:
        """Forget the closed session now: its id is no longer routable (``on_closed``)."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self._on_closed(self)
