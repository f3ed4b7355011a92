"""Namespace: a named channel ("/", "/admin") with its own handlers, middlewares, sockets and rooms.

``sio.of("/admin")`` returns one. A namespace sits below the server: what it uses of the server is
:class:`ServerView` (implemented by ``hypersio.server.server.Server``); dynamic namespaces are
``hypersio.server.parent_namespace``.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar, overload

from hypersio.adapters.base import BroadcastOptions
from hypersio.adapters.memory import InMemoryAdapter
from hypersio.adapters.recovery import Recovery, SavedSession
from hypersio.events.acks import AckCallback, call_next_style, spawn, takes_extra_arg
from hypersio.events.emitter import EventEmitter
from hypersio.exceptions import ConnectError
from hypersio.server.broadcast import BroadcastOperator, room_set
from hypersio.server.connection import Connection
from hypersio.server.socket import ServerView as SocketServerView
from hypersio.server.socket import Socket

__all__ = ["AdapterFactory", "Middleware", "Namespace", "ServerView"]

Middleware = Callable[..., Any]
# Events of a namespace's own that another server may not trigger (socket.io's serverSideEmit
# refuses them on the sending side; they are refused here when received too).
_SERVER_SIDE_RESERVED = frozenset(("connect", "connection", "new_namespace", "disconnect", "disconnecting"))
F = TypeVar("F", bound=Callable[..., Any])
#: ``Server(adapter=...)``: called with each namespace, returns its adapter.
AdapterFactory = Callable[["Namespace"], InMemoryAdapter]


class ServerView(SocketServerView, Protocol):
    """What a namespace uses of its server: its sockets' view plus the adapter factory and the
    recovery settings in full."""

    @property
    def connection_state_recovery(self) -> Recovery | None:
        """The recovery settings, None when recovery is off."""
        ...

    @property
    def adapter_factory(self) -> AdapterFactory | None:
        """The ``adapter`` option (None: the in-memory adapter)."""
        ...

    @property
    def cleanup_empty_child_namespaces(self) -> bool:
        """Whether an emptied dynamic child namespace is removed."""
        ...

    def forget_namespace(self, nsp: Namespace) -> None:
        """Drop an emptied dynamic child namespace."""
        ...


class Namespace(EventEmitter):
    """One namespace: ``connection`` handlers, middlewares, its sockets and its adapter.

    Broadcast helpers (``to``, ``emit``, ``fetch_sockets`` ...) act on this namespace's sockets;
    the server's own helpers are those of the ``"/"`` namespace.
    """

    def __init__(self, server: ServerView, name: str) -> None:
        super().__init__()
        self.server = server
        self.name = name
        self.sockets: dict[str, Socket] = {}
        #: The connection middlewares, in order (``use``).
        self.middlewares: list[Middleware] = []
        # One id source for the acks of every socket and broadcast of the namespace, so a
        # broadcast can reuse one id for all recipients without clashing (as socket.io does).
        self.ack_ids = itertools.count()
        self.adapter: InMemoryAdapter = self._make_adapter()
        #: The dynamic namespace this one is a child of (None for a namespace of its own).
        self.parent: Any = None
        #: Called with each accepted socket before the ``connection`` handlers (the admin UI and
        #: the metrics watch sockets this way without taking a place among the user's handlers).
        self.socket_observers: list[Callable[[Socket], None]] = []

    def _make_adapter(self) -> InMemoryAdapter:
        factory = self.server.adapter_factory
        return factory(self) if factory else InMemoryAdapter(self)

    def __repr__(self) -> str:
        return f"<Namespace {self.name!r} sockets={len(self.sockets)}>"

    def next_ack_id(self) -> int:
        """A fresh ack id from the namespace's one id source (shared with its sockets)."""
        return next(self.ack_ids)

    # --- handlers and middlewares ---------------------------------------------------------------

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register a handler; ``"connection"`` (alias ``"connect"``) receives each new Socket."""
        return self._register("connection" if event == "connect" else event, handler, False)

    @overload
    def once(self, event: str) -> Callable[[F], F]: ...

    @overload
    def once(self, event: str, handler: F) -> F: ...

    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Like :meth:`on`, for one call only."""
        return self._register("connection" if event == "connect" else event, handler, True)

    def use(self, middleware: F) -> F:
        """Add a middleware ``fn(socket)`` (sync or async) run before ``connection``.

        Middlewares run in order; raising ``ConnectError(message, data)`` refuses the client
        with CONNECT_ERROR ``{"message", "data"}``; any other exception refuses it with its text
        as the message. Usable as a decorator (the function keeps its type). Code ported from JS
        may instead take ``fn(socket, next)`` and call ``next()`` or ``next(ConnectError(...))``.
        """
        self.middlewares.append(middleware)
        return middleware

    # --- broadcasting helpers -------------------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.adapter)

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target the sockets in ``rooms``."""
        # Built directly (not _operator().to()): a broadcast to a room pays this on every emit.
        return BroadcastOperator(self.adapter, BroadcastOptions(rooms=room_set(rooms)))

    def in_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Alias of :meth:`to`."""
        return self.to(rooms)

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target every socket but those in ``rooms``."""
        return self._operator().except_(rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        """Target every socket, allowing drops for clients that cannot take the packet now."""
        return self._operator().volatile

    @property
    def local(self) -> BroadcastOperator:
        """Target only this process's sockets (relevant with a cluster adapter)."""
        return self._operator().local

    def compress(self, flag: bool) -> BroadcastOperator:
        """Target every socket with the compression flag set."""
        return self._operator().compress(flag)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Target every socket, with an ack deadline."""
        return self._operator().timeout(seconds)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every socket of the namespace (trailing callable: see BroadcastOperator)."""
        self._operator().emit(event, *args)

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event to every socket of the namespace."""
        self._operator().emit("message", *args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit to every socket and wait for all acks (see BroadcastOperator.emit_with_ack)."""
        return await self._operator().emit_with_ack(event, *args)

    async def fetch_sockets(self) -> list[Socket]:
        """Every socket of the namespace."""
        return await self._operator().fetch_sockets()

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of the namespace join ``rooms``."""
        self._operator().sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of the namespace leave ``rooms``."""
        self._operator().sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of the namespace."""
        self._operator().disconnect_sockets(close)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send an event to this namespace's listeners on the other servers of a cluster.

        A trailing callable collects their answers as ``callback(err, responses)`` (see
        :meth:`BroadcastOperator.server_side_emit`); with one process there are no others.
        """
        self._operator().server_side_emit(event, *args)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send an event to the other servers' listeners and return one answer per server."""
        return await self._operator().server_side_emit_with_ack(event, *args)

    def on_server_side_emit(self, data: list[Any], ack: Callable[[Any], None] | None) -> None:
        """Another server's ``server_side_emit`` (called by the cluster adapter): the listeners
        of ``data[0]`` get ``data[1:]``, plus an ack callable when the sender waits for answers
        (its first argument, or a listener's return value, is this server's answer)."""
        if not data or not isinstance(data[0], str) or data[0] in _SERVER_SIDE_RESERVED:
            self.server.logger.warning("dropped a server-side emit from the cluster without a valid event name")
            return
        callback = None if ack is None else AckCallback(lambda args: ack(args[0] if args else None))
        self._dispatch_event(data[0], list(data[1:]), callback)

    # --- connection of a client (driven by the server) -------------------------------------------

    def add_client(self, conn: Connection, auth: Any) -> None:
        """A client asked to join: build its Socket, run middlewares, accept or refuse."""
        recovery = self.server.connection_state_recovery
        saved: SavedSession | None = None
        if recovery is not None and isinstance(auth, dict):
            pid, offset = auth.get("pid"), auth.get("offset")
            if isinstance(pid, str) and isinstance(offset, str):
                restored = self.adapter.restore_session(pid, offset)
                if inspect.isawaitable(restored):
                    # A cluster adapter reads the session from its store (Redis): wait for it.
                    conn.begin_connecting(self.name)
                    spawn(self._add_restored_client(conn, auth, restored), f"session recovery in {self.name}")
                    return
                saved = restored
        self._add_client(conn, auth, saved)

    async def _add_restored_client(self, conn: Connection, auth: Any, pending: Awaitable[SavedSession | None]) -> None:
        try:
            saved = await pending
        except Exception:
            self.server.logger.exception("restoring a session in namespace %s failed; connecting afresh", self.name)
            saved = None
        conn.end_connecting(self.name)
        if not conn.closed:
            self._add_client(conn, auth, saved)

    def _add_client(self, conn: Connection, auth: Any, saved: SavedSession | None) -> None:
        recovery = self.server.connection_state_recovery
        socket = Socket(self, conn, auth, saved)
        recovered = saved is not None and recovery is not None and recovery.skip_middlewares
        if not self.middlewares or recovered:
            self._accept(socket, conn)
            return
        conn.begin_connecting(self.name)
        spawn(self._run_middlewares(socket, conn), f"middlewares of {self.name}")

    async def _run_middlewares(self, socket: Socket, conn: Connection) -> None:
        try:
            for middleware in list(self.middlewares):
                if takes_extra_arg(middleware, 1):
                    await call_next_style(middleware, socket)
                else:
                    result = middleware(socket)
                    if inspect.isawaitable(result):
                        await result
                if conn.closed:
                    return
        except ConnectError as exc:
            conn.end_connecting(self.name)
            conn.refuse(self.name, exc.message, exc.data)
            return
        except Exception as exc:
            self.server.logger.exception("middleware of namespace %s raised", self.name)
            conn.end_connecting(self.name)
            conn.refuse(self.name, str(exc) or type(exc).__name__, None)
            return
        if not conn.end_connecting(self.name):
            return  # the client sent DISCONNECT while the middlewares ran: the join is called off
        if not conn.closed:
            self._accept(socket, conn)

    def _accept(self, socket: Socket, conn: Connection) -> None:
        socket.handle_connect()
        conn.namespace_joined()
        for observer in self.socket_observers:
            observer(socket)
        self._emit_reserved("connection", socket)

    def remove_socket(self, socket: Socket) -> None:
        """Forget a socket that disconnected (and, with ``cleanup_empty_child_namespaces``, an
        emptied child of a dynamic namespace)."""
        if self.sockets.get(socket.id) is socket:
            del self.sockets[socket.id]
        if not self.sockets and self.parent is not None and self.server.cleanup_empty_child_namespaces:
            self.parent.children.discard(self)
            self.server.forget_namespace(self)

    def notify_new_namespace(self, nsp: Namespace) -> None:
        """Run this namespace's ``new_namespace`` handlers with a namespace just created (the
        server calls it on ``"/"``, as socket.io emits ``new_namespace`` on the server)."""
        self._emit_reserved("new_namespace", nsp)
