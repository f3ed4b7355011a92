"""Socket: one client's connection to one namespace, on the server side.

A ``Socket`` is created when a client's CONNECT for a namespace passes the middlewares, and is
handed to the namespace's ``connection`` handlers. It receives the client's events, emits to it,
joins and leaves rooms, and starts broadcasts that skip itself (``socket.to(room)``,
``socket.broadcast``).

The socket sits below its namespace, connection and server in ``hypersio.server``: what it uses
of them is declared here (:class:`NamespaceView`, :class:`ConnectionView`, :class:`ServerView`)
and implemented there, so this module imports none of them.
"""

from __future__ import annotations

import inspect
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Protocol, TypeVar

from hypersio.adapters.base import BroadcastOptions
from hypersio.adapters.base import ServerView as AdapterServerView
from hypersio.adapters.memory import InMemoryAdapter
from hypersio.adapters.recovery import RECOVERABLE_REASONS, SavedSession
from hypersio.events.acks import PendingAcks, call_next_style, spawn, takes_extra_arg
from hypersio.events.dispatch import SocketAck, SocketRoute, on_event
from hypersio.events.emitter import EventEmitter, logger
from hypersio.events.targets import Encode
from hypersio.exceptions import DisconnectedError
from hypersio.protocol.socketio.packet import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    DISCONNECT,
    EVENT,
    RESERVED_EVENTS,
)
from hypersio.server.broadcast import BroadcastOperator, room_set

__all__ = ["ConnectionView", "EventRateLimit", "Handshake", "NamespaceView", "ServerView", "Socket", "new_sid"]

F = TypeVar("F", bound=Callable[..., Any])


def new_sid() -> str:
    """A fresh random socket id (20 URL-safe characters, as socket.io's base64id)."""
    return secrets.token_urlsafe(15)


class ServerView(AdapterServerView, Protocol):
    """What a socket uses of its server: the adapter's view plus the logger."""

    @property
    def logger(self) -> logging.Logger:
        """Where the server logs."""
        ...

    @property
    def event_rate_limit(self) -> tuple[float, float, str] | None:
        """``(burst, per_second, policy)`` for each socket's incoming events, or None."""
        ...


class _RateLimited(Exception):
    """Raised by :class:`EventRateLimit` to stop one event (handled without a log line each)."""


class EventRateLimit:
    """A socket's token bucket for incoming events: ``burst`` at once, then ``rate`` per second.

    Past it the ``policy`` applies: ``"drop"`` drops the event and counts it (``dropped``; the
    first drop of a socket is logged), ``"disconnect"`` disconnects the socket with the reason
    "server namespace disconnect" after logging why. Installed as the socket's first packet
    middleware, so sockets without a limit keep the compiled dispatch path.
    """

    __slots__ = ("burst", "rate", "policy", "tokens", "last", "dropped")

    def __init__(self, burst: float, rate: float, policy: str) -> None:
        if policy not in ("drop", "disconnect"):
            raise ValueError("event_rate_limit policy must be 'drop' or 'disconnect'")
        self.burst = float(burst)
        self.rate = float(rate)
        self.policy = policy
        self.tokens = float(burst)
        self.last = time.monotonic()
        self.dropped = 0

    def __call__(self, event: list[Any]) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return
        self.dropped += 1
        raise _RateLimited()


class NamespaceView(Protocol):
    """What a socket uses of its namespace (``hypersio.server.namespace.Namespace``), plus the
    broadcast helpers a handler reaches through ``socket.nsp``."""

    @property
    def name(self) -> str:
        """The namespace name."""
        ...

    @property
    def server(self) -> ServerView:
        """The server."""
        ...

    @property
    def adapter(self) -> InMemoryAdapter:
        """The namespace's rooms and broadcasts."""
        ...

    @property
    def sockets(self) -> dict[str, Socket]:
        """Socket id -> connected socket; the socket enters itself when accepted."""
        ...

    @property
    def ack_ids(self) -> Iterator[int]:
        """The namespace's one ack id source, shared by its sockets and broadcasts."""
        ...

    def remove_socket(self, socket: Socket) -> None:
        """Forget a socket that disconnected."""
        ...

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every socket of the namespace."""
        ...

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target the sockets of the namespace in ``rooms``."""
        ...

    def in_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Alias of :meth:`to`."""
        ...

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target every socket of the namespace but those in ``rooms``."""
        ...


class ConnectionView(Protocol):
    """What a socket uses of its client connection (``hypersio.server.connection.Connection``)."""

    @property
    def session(self) -> Any:
        """The Engine.IO session."""
        ...

    @property
    def sockets(self) -> dict[str, Socket]:
        """Namespace name -> joined socket; the socket enters itself when accepted."""
        ...

    def disconnect_all(self) -> None:
        """Disconnect every namespace of the connection, then close it."""
        ...

    def close(self, reason: str = "forced close") -> None:
        """Close the Engine.IO session."""
        ...

    def remove_socket(self, socket: Socket) -> None:
        """Forget a socket that disconnected."""
        ...


_NO_STRINGS: dict[str, str] = {}  # shared stand-in for a handshake without request headers or query


class Handshake:
    """What the client sent when it connected: HTTP details of the first request and its auth.

    ``headers`` (lower-cased names), ``query`` (dict), ``auth`` (the CONNECT payload, ``{}``
    when none), ``address`` (peer IP), ``time`` (human-readable), ``issued`` (ms since the
    epoch), ``url``, ``secure`` (TLS), ``xdomain`` (an Origin header was sent). Items can also be
    read as ``handshake["query"]`` for code ported from python-socketio/JS.

    ``headers`` and ``query`` are the handshake request's own dicts (``socket.request.headers``),
    not copies: an idle server holds one handshake per socket, and two copies of the headers were
    a tenth of the memory of an idle connection. ``time`` is formatted from ``issued`` when read.
    """

    __slots__ = ("headers", "query", "auth", "address", "issued", "url", "secure", "_time", "_xdomain")

    def __init__(
        self,
        headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
        address: str | None = None,
        time: str = "",
        issued: int = 0,
        url: str = "",
        secure: bool = False,
        xdomain: bool | None = None,
    ) -> None:
        self.headers: dict[str, str] = headers if headers is not None else {}
        self.query: dict[str, Any] = query if query is not None else {}
        self.auth: dict[str, Any] = auth if auth is not None else {}
        self.address = address
        self.issued = issued
        self.url = url
        self.secure = secure
        self._time = time or None  # formatted on first read
        self._xdomain = xdomain  # None: derived from the headers

    @property
    def time(self) -> str:
        """When the handshake arrived, as socket.io writes it (``Tue Dec 01 2026 10:00:00 GMT``)."""
        if self._time is None:
            self._time = time.strftime("%a %b %d %Y %H:%M:%S GMT", time.gmtime(self.issued / 1000))
        return self._time

    @property
    def xdomain(self) -> bool:
        """True when the handshake request carried an ``Origin`` header (a cross-origin client)."""
        return self._xdomain if self._xdomain is not None else "origin" in self.headers

    def __getitem__(self, key: str) -> Any:
        """``handshake["query"]`` is ``handshake.query`` (for code written against dicts)."""
        return getattr(self, key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Handshake):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in _HANDSHAKE_KEYS)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value (as the dataclass it was)

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={getattr(self, k)!r}" for k in _HANDSHAKE_KEYS)
        return f"Handshake({fields})"


_HANDSHAKE_KEYS = ("headers", "query", "auth", "address", "time", "issued", "url", "secure", "xdomain")


def _build_handshake(session: Any, auth: Any) -> Handshake:
    req = getattr(session, "request", None)
    issued_s = getattr(req, "time", None)
    if not isinstance(issued_s, (int, float)):
        issued_s = time.time()
    headers = getattr(req, "headers", None)
    query = getattr(req, "query", None)
    return Handshake(
        headers=headers if isinstance(headers, dict) else dict(headers or _NO_STRINGS),
        query=query if isinstance(query, dict) else dict(query or _NO_STRINGS),
        auth=auth if isinstance(auth, dict) else {},
        address=getattr(req, "address", None),
        issued=int(issued_s * 1000),
        url=getattr(req, "url", "") or "",
        secure=bool(getattr(req, "secure", False)),
    )


#: ``Socket._data`` until the application first reads ``socket.data``.
_NO_DATA: Any = object()


class Socket(EventEmitter):
    """A client connected to one namespace (see the module docstring and API.md "Socket").

    Besides the API of API.md, a socket has the fields the layers below read (it is their
    :class:`~hypersio.events.targets.DispatchTarget` and :class:`~hypersio.adapters.base.SocketView`):
    ``session`` (the Engine.IO session), ``encode`` (the codec's ``encode_packet``), ``nsp_name``,
    ``packet_middlewares``, ``acks`` (the acks it waits for) and ``route`` (what the incoming
    dispatch reads on every message, resolved once); they keep their identity for its life.
    The ``handle_*`` methods are how its connection and namespace drive it.
    """

    def __init__(self, nsp: NamespaceView, conn: ConnectionView, auth: Any, saved: SavedSession | None = None) -> None:
        super().__init__()
        self.nsp = nsp
        self.server = nsp.server
        self.client = conn
        self.session: Any = conn.session
        self.handshake = _build_handshake(conn.session, auth)
        # ``data`` is made on first use (the property below): an idle socket whose application
        # never touches it does not hold an empty dict (64 bytes).
        self._data: Any = _NO_DATA
        self.connected = False
        self.recovered = False
        self.acks = PendingAcks(nsp.ack_ids)
        self.encode: Encode = nsp.server.parser.encode_packet
        self.nsp_name: str = nsp.name
        self._adapter = nsp.adapter
        self._recovering = nsp.server.connection_state_recovery is not None
        self.packet_middlewares: list[Callable[..., Any]] = []
        rate_limit = getattr(nsp.server, "event_rate_limit", None)
        if rate_limit is not None:
            self.packet_middlewares.append(EventRateLimit(*rate_limit))
        self._saved = saved
        # ``socket.volatile`` is immutable, so one view serves every volatile emit of the socket.
        self._volatile_view: _FlaggedSocket | None = None
        if saved is not None:
            self.id: str = saved.sid
            self.pid: str | None = saved.pid
            self._data = saved.data
            self.recovered = True
        else:
            self.id = new_sid()
            self.pid = new_sid() if self._recovering else None
        self.route = SocketRoute(self)

    def __repr__(self) -> str:
        return f"<Socket id={self.id!r} nsp={self.nsp.name!r} connected={self.connected}>"

    @property
    def data(self) -> Any:
        """Arbitrary data of the application for this socket (a dict unless replaced), shared
        with ``fetch_sockets`` and kept across a recovered connection, as socket.io's ``socket.data``."""
        data = self._data
        if data is _NO_DATA:
            data = self._data = {}
        return data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in (a copy; its own id included while connected)."""
        return set(self._adapter.socket_rooms(self.id) or ())

    @property
    def conn(self) -> Any:
        """The underlying Engine.IO session (transport, request details)."""
        return self.session

    @property
    def request(self) -> Any:
        """The HTTP request that opened the connection (``method``, ``url``, ``path``,
        ``query``, ``headers``, ``address``), as socket.io's ``socket.request``."""
        return getattr(self.session, "request", None)

    # --- sending ------------------------------------------------------------------------------

    def _send_packet(
        self, ptype: int, data: Any, ack_id: int | None = None, volatile: bool = False, compress: bool = True
    ) -> None:
        if self.session.closed:
            return
        parts = self.encode(ptype, self.nsp_name, data, ack_id)
        send = self.session.send if compress else self.session.send_uncompressed
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

    def _emit(
        self, event: str, args: tuple[Any, ...], timeout: float | None, volatile: bool, compress: bool = True
    ) -> None:
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        ack_id = None
        if args and callable(args[-1]):
            if not self.connected:
                return
            ack_id = self.acks.register_callback(args[-1], timeout)
            args = args[:-1]
        data = [event, *args]
        if self._recovering and ack_id is None and not volatile:
            # Stored with an offset so a reconnecting client can get it replayed.
            recorded = self._adapter.record_packet(
                data, BroadcastOptions(rooms=frozenset((self.id,)), compress=compress)
            )
            if recorded is None:
                # A cluster adapter stores it first (a stream entry) and delivers it itself, through
                # the fan-out, which tells the outgoing listeners.
                return
            data = recorded
        if self.any_outgoing_listeners:
            self.notify_outgoing(event, args)
        if not self.connected:
            return  # the client left this namespace; with recovery the event waits in the store
        try:
            self._send_packet(EVENT, data, ack_id, volatile, compress)
        except Exception:
            if ack_id is not None:
                self.acks.discard(ack_id)  # unencodable arguments: nobody will ever answer
            raise
        self._adapter.events_sent += 1

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Send ``event`` and wait for the client's ack.

        Returns the ack's single argument, a tuple when the client answered with several, None
        with none. Raises ``AckTimeoutError`` after ``timeout()`` seconds without an answer and
        ``DisconnectedError`` if the socket disconnects first.
        """
        return await self._emit_with_ack(event, args, None, False)

    async def _emit_with_ack(
        self, event: str, args: tuple[Any, ...], timeout: float | None, volatile: bool, compress: bool = True
    ) -> Any:
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        if not self.connected:
            raise DisconnectedError(f"socket {self.id} is not connected")
        ack_id, fut = self.acks.register_future(timeout)
        if self.any_outgoing_listeners:
            self.notify_outgoing(event, args)
        try:
            self._send_packet(EVENT, [event, *args], ack_id, volatile, compress)
        except Exception:
            self.acks.discard(ack_id)
            raise
        self._adapter.events_sent += 1
        return await fut

    def timeout(self, seconds: float) -> _FlaggedSocket:
        """Emit with a deadline: ``socket.timeout(5).emit(..., cb)`` / ``.emit_with_ack(...)``.

        The callback then receives ``(err, *args)``: ``err`` is None or ``AckTimeoutError``.
        """
        return _FlaggedSocket(self._emit, self._emit_with_ack, self._operator, float(seconds), False)

    @property
    def volatile(self) -> _FlaggedSocket:
        """Emit that may be dropped when the client cannot take it right now."""
        view = self._volatile_view
        if view is None:
            view = self._volatile_view = _FlaggedSocket(self._emit, self._emit_with_ack, self._operator, None, True)
        return view

    def compress(self, flag: bool) -> _FlaggedSocket:
        """Emit with the compression flag: ``compress(False)`` sends the packet uncompressed (no
        permessage-deflate, and it does not make a long-polling response compressed)."""
        return _FlaggedSocket(self._emit, self._emit_with_ack, self._operator, None, False, bool(flag))

    # --- rooms and broadcasts -----------------------------------------------------------------

    def join(self, rooms: str | Iterable[str]) -> None:
        """Join one room or several (a list); joining twice is harmless."""
        self._adapter.add_all(self.id, room_set(rooms))

    def leave(self, room: str) -> None:
        """Leave ``room``."""
        self._adapter.delete(self.id, room)

    def _operator(
        self, volatile: bool = False, timeout: float | None = None, compress: bool = True
    ) -> BroadcastOperator:
        return BroadcastOperator(
            self._adapter,
            BroadcastOptions(except_rooms=frozenset((self.id,)), volatile=volatile, timeout=timeout, compress=compress),
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

    def use(self, middleware: F) -> F:
        """Run ``middleware(event)`` on every incoming event before its handlers (socket.io's
        ``socket.use``); ``event`` is the list ``[name, *args]`` and may be changed in place.

        Sync or async; raising (or, JS style with a second parameter, calling ``next(err)``)
        stops the event and emits ``"error"`` on this socket with the exception (logged when
        nobody listens). Any-listeners run before middlewares, as in socket.io. Usable as a
        decorator (the function keeps its type).
        """
        self.packet_middlewares.append(middleware)
        return middleware

    def _run_packet_middlewares(self, event: list[Any], ack: SocketAck | None) -> None:
        # Fast path: sync middlewares finish here; the first awaitable moves the rest to a task.
        for i, middleware in enumerate(self.packet_middlewares):
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
            for middleware in self.packet_middlewares[start:]:
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
        if isinstance(exc, _RateLimited):
            limit = self.packet_middlewares[0]
            assert isinstance(limit, EventRateLimit)
            if limit.policy == "disconnect":
                self.server.logger.warning("socket %s sent events faster than event_rate_limit; disconnecting", self.id)
                self.disconnect()
            elif limit.dropped == 1:
                self.server.logger.warning("socket %s sends events faster than event_rate_limit; dropping", self.id)
            return
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
        self.handle_close("server namespace disconnect")

    # --- driven by the Connection, the Namespace and the incoming dispatch ------------------------

    def handle_packet(self, packet: Any) -> None:
        """A decoded packet for this socket that the incoming dispatch did not take."""
        ptype = packet.type
        if ptype == EVENT or ptype == BINARY_EVENT:
            on_event(self, packet.data, packet.id)
        elif ptype == ACK or ptype == BINARY_ACK:
            self.acks.resolve(packet.id, packet.data)
        elif ptype == DISCONNECT:
            self.handle_close("client namespace disconnect")
        else:
            self.server.logger.warning("unexpected packet type %s on socket %s; closing", ptype, self.id)
            self.client.close("parse error")

    def dispatch_general(self, event: Any, data: list[Any], ack_id: int | None) -> None:
        """Every EVENT hypersio.events.dispatch's straight line does not take: any-listeners,
        middlewares, several or once handlers, numeric event names, no handler at all."""
        if type(event) is not str:
            event = str(event)  # the protocol allows numeric names; JS handlers key them as strings
        ack = None if ack_id is None else SocketAck(self, ack_id)
        if self.packet_middlewares:
            if self.any_listeners:
                self._dispatch_any(event, data[1:])
            self._run_packet_middlewares([event, *data[1:]], ack)
        else:
            self._dispatch_event(event, data[1:], ack)

    def handler_failed(self, event: Any) -> None:
        """Called from inside the ``except`` block around a handler: log with the traceback."""
        logger.exception("error in handler for %r", event)

    def answer_later(self, fn: Callable[..., Any], result: Any, event: Any, ack: SocketAck | None) -> None:
        """A handler returned an awaitable: run it as a task; its result becomes the ack."""
        task = spawn(result, f"handler for {event!r}", fn)
        if ack is not None:
            task.add_done_callback(ack.from_task)

    def handle_connect(self) -> None:
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

    def handle_close(self, reason: str, description: Any = None) -> None:
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
        self.nsp.remove_socket(self)
        self.client.remove_socket(self)
        self.acks.cancel_all(DisconnectedError(f"socket disconnected: {reason}"))
        self._emit_reserved("disconnect", reason, description)


class _FlaggedSocket:
    """A socket seen through emit flags (timeout, volatile, compress); returned by
    ``socket.timeout(t)``, ``socket.volatile`` and ``socket.compress(flag)``.

    It holds the socket's emit paths as bound methods, handed in by the socket.
    """

    __slots__ = ("_emit", "_emit_with_ack", "_operator", "_timeout", "_volatile", "_compress")

    def __init__(
        self,
        emit: Callable[[str, tuple[Any, ...], float | None, bool, bool], None],
        emit_with_ack: Callable[[str, tuple[Any, ...], float | None, bool, bool], Awaitable[Any]],
        operator: Callable[[bool, float | None, bool], BroadcastOperator],
        timeout: float | None,
        volatile: bool,
        compress: bool = True,
    ) -> None:
        self._emit = emit
        self._emit_with_ack = emit_with_ack
        self._operator = operator
        self._timeout = timeout
        self._volatile = volatile
        self._compress = compress

    def emit(self, event: str, *args: Any) -> None:
        """Emit with these flags (see :meth:`Socket.emit` and :meth:`Socket.timeout`)."""
        self._emit(event, args, self._timeout, self._volatile, self._compress)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Emit with these flags and await the ack (see :meth:`Socket.emit_with_ack`)."""
        return await self._emit_with_ack(event, args, self._timeout, self._volatile, self._compress)

    def timeout(self, seconds: float) -> _FlaggedSocket:
        """These flags plus a deadline for the ack."""
        return _FlaggedSocket(
            self._emit, self._emit_with_ack, self._operator, float(seconds), self._volatile, self._compress
        )

    @property
    def volatile(self) -> _FlaggedSocket:
        """These flags plus volatile."""
        return _FlaggedSocket(self._emit, self._emit_with_ack, self._operator, self._timeout, True, self._compress)

    def compress(self, flag: bool) -> _FlaggedSocket:
        """These flags, compressed or not (see :meth:`Socket.compress`)."""
        return _FlaggedSocket(
            self._emit, self._emit_with_ack, self._operator, self._timeout, self._volatile, bool(flag)
        )

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast with these flags to ``rooms``, skipping this socket."""
        return self._operator(self._volatile, self._timeout, self._compress).to(rooms)

    def in_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Alias of :meth:`to`."""
        return self.to(rooms)

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Broadcast with these flags to all but this socket and ``rooms``."""
        return self._operator(self._volatile, self._timeout, self._compress).except_(rooms)

    @property
    def broadcast(self) -> BroadcastOperator:
        """Broadcast with these flags to all but this socket."""
        return self._operator(self._volatile, self._timeout, self._compress)
