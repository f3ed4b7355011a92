"""Socket: one client's connection to one namespace, on the server side.

A ``Socket`` is created when a client's CONNECT for a namespace passes the middlewares, and is
handed to the namespace's ``connection`` handlers. It receives the client's events, emits to it,
joins and leaves rooms, and starts broadcasts that skip itself (``socket.to(room)``,
``socket.broadcast``).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hypersio.adapters.memory import BroadcastOptions
from hypersio.adapters.recovery import RECOVERABLE_REASONS
from hypersio.events.acks import PendingAcks, call_next_style, spawn, takes_extra_arg
from hypersio.events.dispatch import SocketAck, SocketRoute, on_event
from hypersio.events.emitter import EventEmitter, logger
from hypersio.exceptions import DisconnectedError
from hypersio.server.broadcast import RESERVED_EVENTS, BroadcastOperator, _room_set

if TYPE_CHECKING:  # pragma: no cover
    from hypersio.adapters.recovery import SavedSession
    from hypersio.server.connection import Connection
    from hypersio.server.namespace import Namespace
    from hypersio.server.server import Server

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)


@dataclass
class Handshake:
    """What the client sent when it connected: HTTP details of the first request and its auth.

    ``headers`` (lower-cased names), ``query`` (dict), ``auth`` (the CONNECT payload, ``{}``
    when none), ``address`` (peer IP), ``time`` (human-readable), ``issued`` (ms since the
    epoch), ``url``, ``secure`` (TLS), ``xdomain`` (an Origin header was sent). Items can also be
    read as ``handshake["query"]`` for code ported from python-socketio/JS.
    """

    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    auth: dict[str, Any] = field(default_factory=dict)
    address: str | None = None
    time: str = ""
    issued: int = 0
    url: str = ""
    secure: bool = False
    xdomain: bool = False

    def __getitem__(self, key: str) -> Any:
        """``handshake["query"]`` is ``handshake.query`` (for code written against dicts)."""
        return getattr(self, key)


def _build_handshake(session: Any, auth: Any) -> Handshake:
    req = getattr(session, "request", None)
    headers = dict(getattr(req, "headers", None) or {})
    issued_s = getattr(req, "time", None)
    if not isinstance(issued_s, (int, float)):
        issued_s = time.time()
    return Handshake(
        headers=headers,
        query=dict(getattr(req, "query", None) or {}),
        auth=auth if isinstance(auth, dict) else {},
        address=getattr(req, "address", None),
        time=time.strftime("%a %b %d %Y %H:%M:%S GMT", time.gmtime(issued_s)),
        issued=int(issued_s * 1000),
        url=getattr(req, "url", "") or "",
        secure=bool(getattr(req, "secure", False)),
        xdomain="origin" in headers,
    )


class Socket(EventEmitter):
    """A client connected to one namespace (see the module docstring and API.md "Socket")."""

    def __init__(self, nsp: Namespace, conn: Connection, auth: Any, saved: SavedSession | None = None) -> None:
        super().__init__()
        self.nsp = nsp
        self.server: Server = nsp.server
        self.client = conn
        self._session = conn.session
        self.handshake = _build_handshake(conn.session, auth)
        self.data: Any = {}
        self.connected = False
        self.recovered = False
        self._acks = PendingAcks(nsp._ack_ids)
        self._encode = nsp.server._parser.encode_packet
        self._nsp_name: str = nsp.name
        self._adapter = nsp.adapter
        self._recovering = nsp.server.connection_state_recovery is not None
        self._packet_middlewares: list[Callable[..., Any]] = []
        self._saved = saved
        if saved is not None:
            self.id: str = saved.sid
            self.pid: str | None = saved.pid
            self.data = saved.data
            self.recovered = True
        else:
            self.id = nsp.server._new_sid()
            self.pid = nsp.server._new_sid() if self._recovering else None
        # What the incoming-event path reads on every message, resolved once (hypersio.events.dispatch).
        self._route = SocketRoute(self)

    def __repr__(self) -> str:
        return f"<Socket id={self.id!r} nsp={self.nsp.name!r} connected={self.connected}>"

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in (a copy; its own id included while connected)."""
        return set(self._adapter.socket_rooms(self.id) or ())

    @property
    def conn(self) -> Any:
        """The underlying Engine.IO session (transport, request details)."""
        return self._session

    # --- sending ------------------------------------------------------------------------------

    def _send_packet(self, ptype: int, data: Any, ack_id: int | None = None, volatile: bool = False) -> None:
        if self._session.closed:
            return
        parts = self._encode(ptype, self._nsp_name, data, ack_id)
        send = self._session.send
        if len(parts) == 1:
            send(parts[0], volatile)
            return
        # Attachments must arrive with their packet: never drop part of one (not volatile).
        for part in parts:
            send(part, False)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` to this client; never blocks.

        A trailing callable asks the client for an ack and is called with the ack's arguments
        (``socket.emit("q", data, lambda answer: ...)``). Use :meth:`timeout` for a deadline.
        """
        self._emit(event, args, None, False)

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event (socket.io's ``send``)."""
        self._emit("message", args, None, False)

    def _emit(self, event: str, args: tuple[Any, ...], timeout: float | None, volatile: bool) -> None:
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        ack_id = None
        if args and callable(args[-1]):
            if not self.connected:
                return
            ack_id = self._acks.register_callback(args[-1], timeout)
            args = args[:-1]
        if self._any_outgoing:
            self._notify_outgoing(event, args)
        data = [event, *args]
        if self._recovering and ack_id is None and not volatile:
            # Stored with an offset so a reconnecting client can get it replayed.
            data = self._adapter.record_packet(data, BroadcastOptions(rooms=frozenset((self.id,))))
        if not self.connected:
            return  # the client left this namespace; with recovery the event waits in the store
        try:
            self._send_packet(EVENT, data, ack_id, volatile)
        except Exception:
            if ack_id is not None:
                self._acks.discard(ack_id)  # unencodable arguments: nobody will ever answer
            raise

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Send ``event`` and wait for the client's ack.

        Returns the ack's single argument, a tuple when the client answered with several, None
        with none. Raises ``AckTimeoutError`` after ``timeout()`` seconds without an answer and
        ``DisconnectedError`` if the socket disconnects first.
        """
        return await self._emit_with_ack(event, args, None, False)

    async def _emit_with_ack(self, event: str, args: tuple[Any, ...], timeout: float | None, volatile: bool) -> Any:
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        if not self.connected:
            raise DisconnectedError(f"socket {self.id} is not connected")
        ack_id, fut = self._acks.register_future(timeout)
        if self._any_outgoing:
            self._notify_outgoing(event, args)
        try:
            self._send_packet(EVENT, [event, *args], ack_id, volatile)
        except Exception:
            self._acks.discard(ack_id)
            raise
        return await fut

    def timeout(self, seconds: float) -> _FlaggedSocket:
        """Emit with a deadline: ``socket.timeout(5).emit(..., cb)`` / ``.emit_with_ack(...)``.

        The callback then receives ``(err, *args)``: ``err`` is None or ``AckTimeoutError``.
        """
        return _FlaggedSocket(self, float(seconds), False)

    @property
    def volatile(self) -> _FlaggedSocket:
        """Emit that may be dropped when the client cannot take it right now."""
        return _FlaggedSocket(self, None, True)

    def compress(self, flag: bool) -> _FlaggedSocket:
        """Emit with the compression flag (kept for API parity; frames are sent uncompressed)."""
        return _FlaggedSocket(self, None, False)

    # --- rooms and broadcasts -----------------------------------------------------------------

    def join(self, rooms: str | Iterable[str]) -> None:
        """Join one room or several (a list); joining twice is harmless."""
        self._adapter.add_all(self.id, _room_set(rooms))

    def leave(self, room: str) -> None:
        """Leave ``room``."""
        self._adapter.delete(self.id, room)

    def _operator(self, volatile: bool = False, timeout: float | None = None) -> BroadcastOperator:
        return BroadcastOperator(
            self._adapter,
            BroadcastOptions(except_rooms=frozenset((self.id,)), volatile=volatile, timeout=timeout),
        )

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to ``rooms``, skipping this socket."""
        return self._operator().to(rooms)

    def in_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Alias of :meth:`to`."""
        return self.to(rooms)

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast to everyone but this socket and ``rooms``."""
        return self._operator().except_(rooms)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Broadcast to every socket of the namespace but this one."""
        return self._operator()

    # --- per-packet middlewares ---------------------------------------------------------------

    def use(self, middleware: Callable[..., Any]) -> Callable[..., Any]:
        """Run ``middleware(event)`` on every incoming event before its handlers (socket.io's
        ``socket.use``); ``event`` is the list ``[name, *args]`` and may be changed in place.

        Sync or async; raising (or, JS style with a second parameter, calling ``next(err)``)
        stops the event and emits ``"error"`` on this socket with the exception (logged when
        nobody listens). Any-listeners run before middlewares, as in socket.io.
        """
        self._packet_middlewares.append(middleware)
        return middleware

    def _run_packet_middlewares(self, event: list[Any], ack: SocketAck | None) -> None:
        # Fast path: sync middlewares finish here; the first awaitable moves the rest to a task.
        for i, middleware in enumerate(self._packet_middlewares):
            try:
                if takes_extra_arg(middleware, 1):
                    spawn(self._finish_packet_middlewares(event, ack, i), "socket middleware")
                    return
                result = middleware(event)
            except Exception as exc:
                self._packet_refused(exc)
                return
            if inspect.isawaitable(result):
                spawn(self._finish_packet_middlewares(event, ack, i, result), "socket middleware")
                return
        self._dispatch_handlers(event[0], event[1:], ack)

    async def _finish_packet_middlewares(
        self, event: list[Any], ack: SocketAck | None, start: int, pending: Any = None
    ) -> None:
        try:
            if pending is not None:
                await pending
                start += 1
            for middleware in self._packet_middlewares[start:]:
                if takes_extra_arg(middleware, 1):
                    await call_next_style(middleware, event)
                else:
                    result = middleware(event)
                    if inspect.isawaitable(result):
                        await result
        except Exception as exc:
            self._packet_refused(exc)
            return
        if self.connected:
            self._dispatch_handlers(event[0], event[1:], ack)

    def _packet_refused(self, exc: BaseException) -> None:
        if self.has_listeners("error"):
            self._emit_reserved("error", exc)
        else:
            self.server.logger.warning("socket %s: middleware refused an event: %r (no 'error' handler)", self.id, exc)

    # --- disconnecting ------------------------------------------------------------------------

    def disconnect(self, close: bool = False) -> None:
        """Disconnect from this namespace (reason "server namespace disconnect").

        ``close=True`` closes the whole Engine.IO connection, disconnecting the client from
        every namespace it joined.
        """
        if not self.connected:
            return
        if close:
            self.client.disconnect_all()
            return
        self._send_packet(DISCONNECT, None)
        self._on_close("server namespace disconnect")

    # --- internal: driven by the Connection and the Namespace ---------------------------------

    def _on_packet(self, packet: Any) -> None:
        ptype = packet.type
        if ptype == EVENT or ptype == BINARY_EVENT:
            self._on_event(packet.data, packet.id)
        elif ptype == ACK or ptype == BINARY_ACK:
            self._acks.resolve(packet.id, packet.data)
        elif ptype == DISCONNECT:
            self._on_close("client namespace disconnect")
        else:
            self.server.logger.warning("unexpected packet type %s on socket %s; closing", ptype, self.id)
            self.client.close("parse error")

    def _on_event(self, data: list[Any], ack_id: int | None) -> None:
        """An incoming EVENT ``[name, *args]`` (``ack_id`` when the client wants an answer)."""
        on_event(self, data, ack_id)

    def _on_event_general(self, event: Any, data: list[Any], ack_id: int | None) -> None:
        """Every EVENT hypersio.events.dispatch's straight line does not take: any-listeners,
        middlewares, several or once handlers, numeric event names, no handler at all."""
        if type(event) is not str:
            event = str(event)  # the protocol allows numeric names; JS handlers key them as strings
        ack = None if ack_id is None else SocketAck(self, ack_id)
        if self._packet_middlewares:
            if self._any:
                self._dispatch_any(event, data[1:])
            self._run_packet_middlewares([event, *data[1:]], ack)
        else:
            self._dispatch_event(event, data[1:], ack)

    def _handler_failed(self, event: Any) -> None:
        """Called from inside the ``except`` block around a handler: log with the traceback."""
        logger.exception("error in handler for %r", event)

    def _answer_later(self, fn: Any, result: Any, event: Any, ack: SocketAck | None) -> None:
        """A handler returned an awaitable: run it as a task; its result becomes the ack."""
        task = spawn(result, f"handler for {event!r}", fn)
        if ack is not None:
            task.add_done_callback(ack.from_task)

    def _on_connect(self) -> None:
        """Accepted: join the own room (and recovered rooms), replay missed events, reply CONNECT."""
        self.connected = True
        self._adapter.add_all(self.id, (self.id,))
        self.nsp.sockets[self.id] = self
        self.client.sockets[self.nsp.name] = self
        payload: dict[str, Any] = {"sid": self.id}
        saved, self._saved = self._saved, None
        if saved is not None:
            self._adapter.add_all(self.id, saved.rooms)
            # socket.io replays missed events before the CONNECT reply.
            for data in saved.missed:
                self._send_packet(EVENT, data)
        if self.pid is not None:
            payload["pid"] = self.pid
        self._send_packet(CONNECT, payload)

    def _on_close(self, reason: str, description: Any = None) -> None:
        """Run the disconnect sequence once: disconnecting, leave rooms, forget, disconnect."""
        if not self.connected:
            return
        self._emit_reserved("disconnecting", reason, description)
        if self._recovering and reason in RECOVERABLE_REASONS:
            self._adapter.persist_session(
                {"sid": self.id, "pid": self.pid, "rooms": sorted(self.rooms), "data": self.data}
            )
        self.connected = False
        self._adapter.del_all(self.id)
        self.nsp._remove(self)
        self.client._remove(self)
        self._acks.cancel_all(DisconnectedError(f"socket disconnected: {reason}"))
        self._emit_reserved("disconnect", reason, description)


class _FlaggedSocket:
    """A socket seen through emit flags (timeout, volatile); returned by ``socket.timeout(t)``."""

    __slots__ = ("_socket", "_timeout", "_volatile")

    def __init__(self, socket: Socket, timeout: float | None, volatile: bool) -> None:
        self._socket = socket
        self._timeout = timeout
        self._volatile = volatile

    def emit(self, event: str, *args: Any) -> None:
        """Emit with these flags (see :meth:`Socket.emit` and :meth:`Socket.timeout`)."""
        self._socket._emit(event, args, self._timeout, self._volatile)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit with these flags and await the ack (see :meth:`Socket.emit_with_ack`)."""
        return await self._socket._emit_with_ack(event, args, self._timeout, self._volatile)

    def timeout(self, seconds: float) -> _FlaggedSocket:
        """These flags plus a deadline for the ack."""
        return _FlaggedSocket(self._socket, float(seconds), self._volatile)

    @property
    def volatile(self) -> _FlaggedSocket:
        """These flags plus volatile."""
        return _FlaggedSocket(self._socket, self._timeout, True)

    def compress(self, flag: bool) -> _FlaggedSocket:
        """These flags (compression is not applied)."""
        return self

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast with these flags to ``rooms``, skipping this socket."""
        return self._socket._operator(self._volatile, self._timeout).to(rooms)

    def in_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Alias of :meth:`to`."""
        return self.to(rooms)

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast with these flags to all but this socket and ``rooms``."""
        return self._socket._operator(self._volatile, self._timeout).except_(rooms)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Broadcast with these flags to all but this socket."""
        return self._socket._operator(self._volatile, self._timeout)
