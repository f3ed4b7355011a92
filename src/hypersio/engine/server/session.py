"""Session: one Engine.IO client, whatever transport carries it at the moment.

The session owns what outlives a transport: its id, the handshake request, the event handlers,
the heartbeat, and the upgrade from long-polling to WebSocket. Sending goes straight to the
current transport object (``carrier``), which appends to a corked output buffer.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hypersio.engine.message import PreparedMessage
from hypersio.engine.outlet import Outlet, logger
from hypersio.protocol.engineio import packets as eio_parser

if TYPE_CHECKING:
    from hypersio.engine.server.http import Request
    from hypersio.engine.server.server import Server

_MESSAGE = eio_parser.MESSAGE
_PING = eio_parser.PING
_PONG = eio_parser.PONG
_CLOSE = eio_parser.CLOSE
_UPGRADE = eio_parser.UPGRADE

# Reasons for which what is already queued is still delivered before the close; for the others
# (the peer is gone or misbehaved) it is discarded, as the official server does.
_GRACEFUL = frozenset(("forced close", "server shutting down"))

Handler = Callable[..., Any]


class Session(Outlet):
    """One Engine.IO session, handed to the server's ``connection`` handlers.

    ``send``/``send_prepared`` queue a message (they never block); ``on("message", h)`` and
    ``on("close", h)`` register callbacks receiving ``(data)`` and ``(reason, description)``.
    ``request`` is the handshake :class:`~hypersio.engine.server.http.Request`; ``transport`` is
    ``"polling"`` or ``"websocket"`` and changes when the client upgrades.

    The :class:`~hypersio.engine.outlet.Outlet` base holds ``closed`` and, while a WebSocket carries the
    session, that connection's output buffer (``ws_out``): a broadcast appends its frame there
    directly, without a call per recipient. It also holds the transport (``carrier``), the message
    handlers and the pong state, which the compiled receive path (``fanout.deliver_messages``)
    reads.
    """

    __slots__ = (
        "id",
        "server",
        "request",
        "transport",
        "close_reason",
        "_upgrading",
        "_probed",
        "_close_handlers",
        "_timer",
        "_timer_at",
        "_pong_grace",
        "_loop",
        "_tasks",
        "__weakref__",
    )

    def __init__(self, server: Server, sid: str, request: Request, tx: Any) -> None:
        self.id = sid
        self.server = server
        self.request = request
        self.transport: str = tx.name
        self.closed = False
        self.close_reason: str | None = None
        self.carrier = tx
        self.ws_out = tx.conn if tx.name == "websocket" else None
        self._upgrading: Any = None  # the WebSocket being probed, during an upgrade
        self._probed = False
        # Tuples: set once or twice per session, and an idle server holds one per client.
        self.message_handlers: tuple[Handler, ...] = ()
        self._close_handlers: tuple[Handler, ...] = ()
        self._timer: asyncio.TimerHandle | None = None  # only while lingering after a close
        self._timer_at = 0.0  # loop time of the heartbeat deadline
        self.awaiting_pong = False
        self._pong_grace = False
        self._loop = server._loop
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
    # message for a WebSocket-carried session without a Python call; other transports get it here.
    def _send_via_transport(self, data: str | bytes, volatile: bool) -> None:
        self.carrier.send_message(data, volatile)  # bytearray/memoryview are framed as bytes

    def send_prepared(self, msg: PreparedMessage, volatile: bool = False) -> None:
        """Queue a message encoded once for many sessions (broadcasts); see :class:`PreparedMessage`."""
        if not self.closed:
            self.carrier.send_prepared(msg, volatile)

    def close(self, reason: str = "forced close", description: Any = None) -> None:
        """Close the session: queued messages are delivered, then the client gets a close packet."""
        self._close(reason, description)

    # ---- heartbeat --------------------------------------------------------------------------
    # The deadline is an absolute loop time derived from the previous *scheduled* time, so a
    # late-running loop does not push the deadlines back: the session is gone at handshake +
    # ping_interval + ping_timeout when no pong comes. The server's Heartbeats heap calls
    # _on_timer when it passes (one loop timer for all sessions, not one each).
    def _start_heartbeat(self) -> None:
        self.awaiting_pong = False
        self._timer_at = self._loop.time() + self.server.ping_interval
        self.server._heartbeats.schedule(self)

    def _on_timer(self) -> None:
        """The heartbeat deadline passed (called by the server's :class:`Heartbeats`)."""
        if self.closed:
            return
        if self.awaiting_pong:
            self._close("ping timeout", None)
            return
        self.awaiting_pong = True
        self._pong_grace = False
        self.carrier.send_control("2")
        self._timer_at += self.server.ping_timeout
        self.server._heartbeats.schedule(self)

    def _on_pong(self) -> None:
        if self.awaiting_pong:
            self.awaiting_pong = False
            self._timer_at = self._loop.time() + self.server.ping_interval
            self.server._heartbeats.schedule(self)

    # ---- packets from the transports --------------------------------------------------------
    def _on_packet(self, ptype: int, data: str | bytes | None) -> None:
        if self.closed:
            return
        if self.awaiting_pong and not self._pong_grace and ptype != _PONG:
            # Traffic while a pong is due proves the client alive: like node 6.6, restart the
            # pong deadline once per ping (a pong stuck behind a large upload still counts).
            self._pong_grace = True
            self._timer_at = self._loop.time() + self.server.ping_timeout
            self.server._heartbeats.schedule(self)
        if ptype == _MESSAGE:
            for handler in self.message_handlers:
                self._call(handler, data)
        elif ptype == _PONG:
            self._on_pong()
        elif ptype == _PING:
            self._protocol_error("transport error", "invalid heartbeat direction: the client sent a ping")
        elif ptype == _CLOSE:
            self._close("transport close", "the client sent a close packet")
        # open, upgrade and noop packets mean nothing on an open session: ignored, as in node

    def _protocol_error(self, reason: str, description: str) -> None:
        logger.warning("%s: session %s: %s", self._peer(), self.id, description)
        self._close(reason, description)

    def _peer(self) -> str:
        return f"{self.request.address}:{self.request.port}"

    def _call(self, handler: Handler, *args: Any) -> None:
        try:
            result = handler(*args)
        except Exception:
            logger.exception("session %s: error in a handler", self.id)
            return
        if result is not None:
            self._adopt(result)

    def _adopt(self, result: Any) -> None:
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

    # ---- upgrade ----------------------------------------------------------------------------
    def _begin_upgrade(self, ws: Any) -> None:
        self._upgrading = ws
        self._probed = False
        ws.session = self

    def _on_probe_packet(self, ws: Any, ptype: int, data: str | bytes | None) -> None:
        if ptype == _PING and data == "probe":
            ws.send_control("3probe")
            self._probed = True
            # The client pauses polling once it has the probe answer; release its pending GET.
            self.carrier.release_for_upgrade()
        elif ptype == _UPGRADE:
            self._complete_upgrade(ws)
        else:
            logger.warning("%s: session %s: unexpected packet %d during upgrade", self._peer(), self.id, ptype)
            self._upgrade_failed(ws)
            ws.close(False, False)

    def _complete_upgrade(self, ws: Any) -> None:
        old = self.carrier
        self._upgrading = None
        ws.upgrade_done()
        records = old.discard()
        self.carrier = ws
        self.ws_out = ws.conn
        self.transport = ws.name
        # What was queued for polling and not yet polled goes first, in order, on the WebSocket.
        for record in records:
            ws.send_record(record)

    def _upgrade_failed(self, ws: Any) -> None:
        if self._upgrading is ws:
            self._upgrading = None
            self._probed = False
            self.carrier.upgrade_aborted()

    # ---- closing ----------------------------------------------------------------------------
    def _close(self, reason: str, description: Any = None) -> None:
        if self.closed:
            return
        self.closed = True
        self.ws_out = None
        self.close_reason = reason
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        probing, self._upgrading = self._upgrading, None
        if probing is not None:
            probing.close(False, False)
        linger = self.carrier.close(reason in _GRACEFUL, reason == "transport close")
        if linger:
            # Polling without a pending GET: keep the sid routable so the next GET can still
            # deliver the queued messages and the close packet, for a bounded time.
            self._timer = self._loop.call_later(self.server.ping_timeout, self._unregister)
        else:
            self._unregister()
        for handler in self._close_handlers:
            self._call(handler, reason, description)

    def _unregister(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.server._forget(self)
