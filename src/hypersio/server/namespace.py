"""Namespace: a named channel ("/", "/admin") with its own handlers, middlewares, sockets and rooms.

``sio.of("/admin")`` returns one; ``sio.of(re.compile(r"^/team-\\d+$"))`` or
``sio.of(lambda name, auth: ...)`` returns a :class:`ParentNamespace` that creates a child
namespace per concrete name a client asks for (socket.io's dynamic namespaces).
"""

from __future__ import annotations

import inspect
import itertools
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from hypersio.adapters.memory import BroadcastOptions, InMemoryAdapter
from hypersio.events.acks import call_next_style, spawn, takes_extra_arg
from hypersio.events.emitter import EventEmitter
from hypersio.exceptions import ConnectError
from hypersio.server.broadcast import BroadcastOperator, _room_set

if TYPE_CHECKING:  # pragma: no cover
    from hypersio.server.connection import Connection
    from hypersio.server.server import Server
    from hypersio.server.socket import Socket

Middleware = Callable[..., Any]


class Namespace(EventEmitter):
    """One namespace: ``connection`` handlers, middlewares, its sockets and its adapter.

    Broadcast helpers (``to``, ``emit``, ``fetch_sockets`` ...) act on this namespace's sockets;
    the server's own helpers are those of the ``"/"`` namespace.
    """

    def __init__(self, server: Server, name: str) -> None:
        super().__init__()
        self.server = server
        self.name = name
        self.sockets: dict[str, Socket] = {}
        self._middlewares: list[Middleware] = []
        # One id source for the acks of every socket and broadcast of the namespace, so a
        # broadcast can reuse one id for all recipients without clashing (as socket.io does).
        self._ack_ids = itertools.count()
        adapter_factory = server._adapter_factory
        self.adapter: InMemoryAdapter = adapter_factory(self) if adapter_factory else InMemoryAdapter(self)

    def __repr__(self) -> str:
        return f"<Namespace {self.name!r} sockets={len(self.sockets)}>"

    def _next_ack_id(self) -> int:
        return next(self._ack_ids)

    # --- handlers and middlewares ---------------------------------------------------------------

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register a handler; ``"connection"`` (alias ``"connect"``) receives each new Socket."""
        return super().on("connection" if event == "connect" else event, handler)

    def once(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Like :meth:`on`, for one call only."""
        return super().once("connection" if event == "connect" else event, handler)

    def use(self, middleware: Middleware) -> Middleware:
        """Add a middleware ``fn(socket)`` (sync or async) run before ``connection``.

        Middlewares run in order; raising ``ConnectError(message, data)`` refuses the client
        with CONNECT_ERROR ``{"message", "data"}``; any other exception refuses it with its text
        as the message. Usable as a decorator. Code ported from JS may instead take
        ``fn(socket, next)`` and call ``next()`` or ``next(ConnectError(...))``.
        """
        self._middlewares.append(middleware)
        return middleware

    # --- broadcasting helpers -------------------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.adapter)

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target the sockets in ``rooms``."""
        # Built directly (not _operator().to()): a broadcast to a room pays this on every emit.
        return BroadcastOperator(self.adapter, BroadcastOptions(rooms=_room_set(rooms)))

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
        """Send an event to the other servers of a cluster (nothing happens with one process)."""
        self.adapter.server_side_emit([event, *args])

    # --- internal: connection of a client ---------------------------------------------------------

    def _add_client(self, conn: Connection, auth: Any) -> None:
        """A client asked to join: build its Socket, run middlewares, accept or refuse."""
        from hypersio.server.socket import Socket

        recovery = self.server.connection_state_recovery
        saved = None
        if recovery is not None and isinstance(auth, dict):
            pid, offset = auth.get("pid"), auth.get("offset")
            if isinstance(pid, str) and isinstance(offset, str):
                saved = self.adapter.restore_session(pid, offset)
        socket = Socket(self, conn, auth, saved)
        if not self._middlewares or (saved is not None and recovery.skip_middlewares):
            self._accept(socket)
            return
        conn._connecting.add(self.name)
        spawn(self._run_middlewares(socket), f"middlewares of {self.name}")

    async def _run_middlewares(self, socket: Socket) -> None:
        conn = socket.client
        try:
            for middleware in list(self._middlewares):
                if takes_extra_arg(middleware, 1):
                    await call_next_style(middleware, socket)
                else:
                    result = middleware(socket)
                    if inspect.isawaitable(result):
                        await result
                if conn.closed:
                    return
        except ConnectError as exc:
            conn._connecting.discard(self.name)
            conn._refuse(self.name, exc.message, exc.data)
            return
        except Exception as exc:
            self.server.logger.exception("middleware of namespace %s raised", self.name)
            conn._connecting.discard(self.name)
            conn._refuse(self.name, str(exc) or type(exc).__name__, None)
            return
        conn._connecting.discard(self.name)
        if not conn.closed:
            self._accept(socket)

    def _accept(self, socket: Socket) -> None:
        socket._on_connect()
        socket.client._joined()
        self._emit_reserved("connection", socket)

    def _remove(self, socket: Socket) -> None:
        if self.sockets.get(socket.id) is socket:
            del self.sockets[socket.id]


class ParentNamespace(Namespace):
    """A dynamic namespace: a regex or ``fn(name, auth) -> bool`` matching many concrete names.

    Handlers and middlewares registered on it are copied to each child created for a matching
    name (as in socket.io, registrations made after a child exists do not reach that child);
    ``emit`` and the other broadcast helpers reach the sockets of every child.
    """

    _counter = itertools.count()

    def __init__(self, server: Server, matcher: re.Pattern[str] | Callable[[str, Any], Any]) -> None:
        super().__init__(server, f"/_{next(ParentNamespace._counter)}")
        self.matcher = matcher
        self.children: set[Namespace] = set()

    async def matches(self, name: str, auth: Any) -> bool:
        """Whether ``name`` (with the client's ``auth``) belongs to this dynamic namespace."""
        if isinstance(self.matcher, re.Pattern):
            # socket.io tests the regex unanchored (RegExp.test), so this searches too.
            return self.matcher.search(name) is not None
        result = self.matcher(name, auth)
        if inspect.isawaitable(result):
            result = await result
        return bool(result)

    def create_child(self, name: str) -> Namespace:
        """The concrete namespace for ``name``, registered on the server."""
        child = Namespace(self.server, name)
        child._middlewares = list(self._middlewares)
        for event, entries in self._handlers.items():
            child._handlers[event] = entries
        child._once_events = set(self._once_events)
        child._any = self._any
        child._any_outgoing = self._any_outgoing
        self.children.add(child)
        self.server._nsps[name] = child
        return child

    def _operator(self) -> BroadcastOperator:
        # Broadcasts from the parent reach the sockets of every child namespace.
        return BroadcastOperator(_ChildrenAdapter(self))  # type: ignore[arg-type]

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target the sockets in ``rooms`` in every child namespace."""
        return self._operator().to(rooms)


class _ChildrenAdapter:
    """Adapter face of a ParentNamespace: each operation is applied to every child's adapter."""

    def __init__(self, parent: ParentNamespace) -> None:
        self.nsp = parent
        self._parent = parent

    def _adapters(self) -> list[Any]:
        return [child.adapter for child in list(self._parent.children)]

    def broadcast(self, data: list[Any], opts: Any) -> None:
        for adapter in self._adapters():
            adapter.broadcast(data, opts)

    def broadcast_with_ack(self, data: list[Any], opts: Any, on_client: Callable[..., None]) -> int:
        return sum(adapter.broadcast_with_ack(data, opts, on_client) for adapter in self._adapters())

    async def fetch_sockets(self, opts: Any) -> list[Any]:
        result: list[Any] = []
        for adapter in self._adapters():
            result.extend(await adapter.fetch_sockets(opts))
        return result

    def add_sockets(self, opts: Any, rooms: list[str]) -> None:
        for adapter in self._adapters():
            adapter.add_sockets(opts, rooms)

    def del_sockets(self, opts: Any, rooms: list[str]) -> None:
        for adapter in self._adapters():
            adapter.del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: Any, close: bool) -> None:
        for adapter in self._adapters():
            adapter.disconnect_sockets(opts, close)
