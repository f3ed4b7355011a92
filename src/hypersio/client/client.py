"""The Socket.IO client: :class:`AsyncClient` (one namespace) and :func:`connect`.

An ``AsyncClient`` is the Python face of socket.io-client's ``Socket``: it joins one namespace
over a :class:`~hypersio.client.manager.Manager` (the Engine.IO connection, shared with the
other namespaces of ``client.manager``), sends events with or without acknowledgements, buffers
what is emitted while disconnected, retries unacknowledged packets when asked to, and rejoins its
namespace after the manager reconnects.

    async with hypersio.AsyncClient("http://localhost:3000") as client:
        client.on("news", print)
        answer = await client.timeout(5).emit_with_ack("hello", "world")
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from hypersio.client.manager import Manager
from hypersio.client.retry import RetryQueue
from hypersio.engine.client.client import EngineConnectError
from hypersio.events.acks import AckCallback, PendingAcks, run_callback, unpack_ack_args
from hypersio.events.dispatch import HandlerEntry
from hypersio.events.emitter import EventEmitter
from hypersio.exceptions import ConnectError, DisconnectedError
from hypersio.protocol.socketio.packet import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    RESERVED_EVENTS,
)

__all__ = ["AsyncClient", "connect", "Manager"]

logger = logging.getLogger("hypersio.client.client")

_UNSET: Any = object()

# The client's emit paths, (event, args, volatile, timeout), as a flagged view calls them.
_Emit = Callable[[str, tuple[Any, ...], bool, Any], None]
_EmitWithAck = Callable[[str, tuple[Any, ...], bool, Any], Awaitable[Any]]


class _Flags:
    """Per-emit modifiers (``volatile``, ``timeout``, ``compress``) on a client; chainable.

    ``client.volatile``, ``client.timeout(5)`` and ``client.compress(False)`` return one of
    these; it has ``emit`` and ``emit_with_ack`` and the same modifiers, and never changes the
    client itself (so concurrent tasks cannot leak flags into each other's emits). It holds the
    client's emit paths as bound methods, handed in by the client.
    """

    __slots__ = ("_emit", "_emit_with_ack", "_volatile", "_timeout", "_compress")

    def __init__(
        self,
        emit: _Emit,
        emit_with_ack: _EmitWithAck,
        volatile: bool = False,
        timeout: Any = _UNSET,
        compress: bool = True,
    ) -> None:
        self._emit = emit
        self._emit_with_ack = emit_with_ack
        self._volatile = volatile
        self._timeout = timeout
        self._compress = compress

    @property
    def volatile(self) -> _Flags:
        """The same emit, dropped instead of buffered when it cannot leave at once."""
        return _Flags(self._emit, self._emit_with_ack, True, self._timeout, self._compress)

    def timeout(self, seconds: float) -> _Flags:
        """The same emit, whose ack fails with AckTimeoutError after ``seconds``."""
        return _Flags(self._emit, self._emit_with_ack, self._volatile, float(seconds), self._compress)

    def compress(self, flag: bool) -> _Flags:
        """Accepted for API parity; hypersio negotiates no WebSocket compression."""
        return _Flags(self._emit, self._emit_with_ack, self._volatile, self._timeout, bool(flag))

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with these flags (see :meth:`AsyncClient.emit`)."""
        self._emit(event, args, self._volatile, self._timeout)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Send ``event`` and wait for its ack (see :meth:`AsyncClient.emit_with_ack`)."""
        return await self._emit_with_ack(event, args, self._volatile, self._timeout)


class AsyncClient(EventEmitter):
    """A Socket.IO client connected to one namespace of a server.

    ``url`` is the server address; a path after the host names the namespace
    (``"http://host:3000/admin"``). The options are those of the JS client in Python
    spelling, with seconds instead of milliseconds:

    * ``transports``: ``("polling", "websocket")`` starts on long-polling and upgrades;
      ``("websocket",)`` goes straight to WebSocket; ``("polling",)`` never upgrades.
    * ``path``: the server's Socket.IO path. ``auth``: a dict sent when joining the namespace,
      or a (coroutine) function returning one, called on every (re)connection.
    * ``parser``: ``"json"`` or ``"msgpack"`` (must match the server). ``headers``/``query``:
      extra HTTP headers and query parameters on every Engine.IO request.
    * ``reconnection``, ``reconnection_attempts`` (None = forever), ``reconnection_delay``,
      ``reconnection_delay_max``, ``randomization_factor``: the backoff after a lost connection.
    * ``ack_timeout``: the default ack timeout; ``retries``: how many times an unacknowledged
      emit is sent again (at-least-once delivery, one packet at a time, as the JS client).
    * ``timeout``: how long :meth:`connect` may take; ``ssl``: an ``ssl.SSLContext`` for https.

    Reserved events: ``connect``, ``connect_error`` (a ConnectError), ``disconnect``
    (reason, description). The ``handle_*`` methods are how its manager drives it
    (:class:`~hypersio.client.manager.NamespaceSocket`).
    """

    def __init__(
        self,
        url: str = "http://localhost",
        *,
        transports: Iterable[str] = ("polling", "websocket"),
        path: str = "/socket.io/",
        auth: Mapping[str, Any] | Callable[[], Any] | None = None,
        parser: str | ModuleType = "json",
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
        reconnection: bool = True,
        reconnection_attempts: int | None = None,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        ack_timeout: float | None = None,
        retries: int = 0,
        timeout: float = 20.0,
        upgrade: bool = True,
        ssl: Any = None,
    ) -> None:
        parts = urlsplit(url)
        merged_query = dict(parse_qsl(parts.query))
        merged_query.update(query or {})

        def new_socket(manager: Manager[AsyncClient], nsp: str, auth: Any, /, **options: Any) -> AsyncClient:
            # Another namespace of this manager: this client's options are its defaults.
            return self._attached(manager, nsp, auth, **{"ack_timeout": ack_timeout, "retries": retries, **options})

        manager: Manager[AsyncClient] = Manager(
            url,
            socket_factory=new_socket,
            transports=transports,
            path=path,
            parser=parser,
            headers=headers,
            query=merged_query,
            reconnection=reconnection,
            reconnection_attempts=reconnection_attempts,
            reconnection_delay=reconnection_delay,
            reconnection_delay_max=reconnection_delay_max,
            randomization_factor=randomization_factor,
            timeout=timeout,
            upgrade=upgrade,
            ssl=ssl,
        )
        nsp = parts.path.rstrip("/") or "/"
        self._setup(manager, nsp, auth, ack_timeout, retries)
        manager.nsps[nsp] = self

    @classmethod
    def _attached(
        cls, manager: Manager[AsyncClient], nsp: str, auth: Any, ack_timeout: float | None = None, retries: int = 0
    ) -> AsyncClient:
        """A client for another namespace of an existing manager (``manager.socket(nsp)``)."""
        self = cls.__new__(cls)
        self._setup(manager, nsp, auth, ack_timeout, retries)
        return self

    def _setup(
        self, manager: Manager[AsyncClient], nsp: str, auth: Any, ack_timeout: float | None, retries: int
    ) -> None:
        EventEmitter.__init__(self)
        self.manager = manager
        self.nsp = nsp
        self.auth = auth
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.id: str | None = None
        self.connected = False
        self.recovered = False
        self._active = False
        self._pid: str | None = None
        self._last_offset: str | None = None
        self._offset_in_args = False  # during the dispatch of an event that carries an offset
        self._acks = PendingAcks()
        self._send_buffer: list[tuple[list[Any], int | None]] = []  # (event + args, ack id)
        self._receive_buffer: list[tuple[list[Any], AckCallback | None]] = []
        self._connect_waiter: asyncio.Future[None] | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._queue = RetryQueue(self, self._send_event, self._acks)
        self._stopped: asyncio.Event | None = None  # set when the client stops for good
        # ``client.volatile`` is immutable, so one view serves every volatile emit.
        self._volatile_view: _Flags | None = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<AsyncClient {self.manager.url}{self.nsp if self.nsp != '/' else ''} {state} id={self.id}>"

    # --- connection -----------------------------------------------------------------------

    @property
    def disconnected(self) -> bool:
        """True when the client is not connected (the JS client's ``disconnected``)."""
        return not self.connected

    @property
    def active(self) -> bool:
        """True while the client wants to be connected (it will reconnect after a loss)."""
        return self._active

    @property
    def transport(self) -> str | None:
        """The Engine.IO transport in use ("polling" or "websocket"), None when disconnected."""
        engine = self.manager.engine
        return engine.transport if engine is not None else None

    async def connect(self) -> AsyncClient:
        """Connect to the server and join the namespace; return once connected.

        Raises :class:`hypersio.ConnectError` when the server cannot be reached, or refuses
        the namespace (``message`` and ``data`` as the server's middleware gave them). When the
        server cannot be reached and ``reconnection`` is on, the client keeps trying in the
        background like the JS client (``connect`` fires once it gets through; ``disconnect()``
        stops it). Calling it on a connected client does nothing. Returns the client, for chaining.
        """
        if self.connected:
            return self
        loop = asyncio.get_running_loop()
        waiter = self._connect_waiter
        if waiter is None or waiter.done():
            waiter = self._connect_waiter = loop.create_future()
        self._active = True
        if self._stopped is not None:
            self._stopped.clear()
        self.manager.activate(self)
        if self.manager.state == "open":
            self.handle_open()
        else:
            try:
                await self.manager.open()
            except (EngineConnectError, OSError) as exc:
                error = ConnectError(str(exc) or "connection error")
                if self.manager.reconnection:
                    # As the JS client: the caller hears of the failure, and the client goes on
                    # trying in the background; "connect" fires when it gets through, and
                    # disconnect() stops it.
                    waiter = self._connect_waiter
                    if waiter is not None and not waiter.done():
                        waiter.cancel()
                    self._connect_waiter = None
                    self._emit_reserved("connect_error", error)
                    self.manager.retry_in_background()
                else:
                    self._refused(error)
                raise error from exc
            except asyncio.CancelledError:
                self._deactivate()
                raise
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.manager.timeout)
        except TimeoutError:
            error = ConnectError("timed out waiting for the namespace to connect")
            self._refused(error)
            raise error from None
        except asyncio.CancelledError:
            self._deactivate()
            raise
        return self

    async def disconnect(self) -> None:
        """Leave the namespace (the server sees "client namespace disconnect") and stop.

        The Engine.IO connection closes too when no other namespace of the manager uses it.
        No reconnection follows. Safe to call at any time, also when not connected.
        """
        was_connected = self.connected
        if was_connected:
            self.manager.send_packet(DISCONNECT, self.nsp)
        self._deactivate()
        waiter = self._connect_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectError("disconnect() was called before the connection completed"))
            waiter.exception()  # the connect() awaiting it, if any, re-raises it
        if was_connected:
            self.handle_close("io client disconnect", "the client called disconnect()")
        self._queue.clear()
        await self.manager.wait_closed()

    def _deactivate(self) -> None:
        if self._connect_task is not None:
            self._connect_task.cancel()
            self._connect_task = None
        if self._active:
            self._active = False
            if self._stopped is not None:
                self._stopped.set()
            self.manager.deactivate(self)

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.disconnect()

    async def wait(self) -> None:
        """Wait until the client stops for good: disconnect(), a server-side disconnect, a
        refused connection, or reconnection giving up. Handy as a client's main loop."""
        if not self._active:
            return
        if self._stopped is None:
            self._stopped = asyncio.Event()
        await self._stopped.wait()

    # --- driven by the manager (NamespaceSocket) -------------------------------------------

    def handle_open(self) -> None:
        """The Engine.IO connection is open: send our CONNECT (auth may be a coroutine)."""
        if self._connect_task is None or self._connect_task.done():
            self._connect_task = asyncio.ensure_future(self._send_connect())

    async def _send_connect(self) -> None:
        auth = self.auth
        try:
            if callable(auth):
                auth = auth()
                if inspect.isawaitable(auth):
                    auth = await auth
        except Exception as exc:
            logger.exception("the auth function failed")
            self._refused(ConnectError(f"auth function failed: {exc}"))
            return
        if auth is not None and not isinstance(auth, Mapping):
            self._refused(ConnectError(f"auth must be a dict, not {type(auth).__name__}"))
            return
        data: Any = dict(auth) if auth is not None else None
        if self._pid is not None:
            data = {"pid": self._pid, "offset": self._last_offset, **(data or {})}
        self.manager.send_packet(CONNECT, self.nsp, data)

    def handle_close(self, reason: str, description: str) -> None:
        """The namespace connection ended (engine closed, server or client disconnect)."""
        if not self.connected:
            return
        self.connected = False
        self.id = None
        self._acks.cancel_all(DisconnectedError(f"disconnected: {reason}"))
        self._emit_reserved("disconnect", reason, description)

    def handle_connect_failed(self, message: str) -> None:
        """A reconnection attempt of the manager failed: tell the user via connect_error."""
        if self._active and not self.connected:
            self._emit_reserved("connect_error", ConnectError(message))

    def handle_reconnect_failed(self) -> None:
        """The manager gave up reconnecting: the client stops (connect_error)."""
        if self._active:
            self._refused(ConnectError("reconnection failed: gave up"))

    def _refused(self, error: ConnectError) -> None:
        self._deactivate()
        waiter = self._connect_waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
            waiter.exception()  # mark retrieved: the waiter may have no one awaiting it
        self._emit_reserved("connect_error", error)

    def handle_packet(self, packet: Any) -> None:
        """A decoded packet for this namespace."""
        ptype = packet.type
        if ptype == EVENT or ptype == BINARY_EVENT:
            self._on_event(packet)
        elif ptype == ACK or ptype == BINARY_ACK:
            if not self._acks.resolve(packet.id, packet.data):
                logger.debug("ack %s: nobody waits for it", packet.id)
        elif ptype == CONNECT:
            data = packet.data
            if isinstance(data, Mapping) and isinstance(data.get("sid"), str):
                self._on_connect(data["sid"], data.get("pid"))
            else:
                self._refused(
                    ConnectError(
                        "the server's CONNECT carries no sid: is it a Socket.IO v2 server? "
                        "hypersio speaks Socket.IO v4 (protocol v5)"
                    )
                )
        elif ptype == CONNECT_ERROR:
            data = packet.data
            if isinstance(data, Mapping):
                error = ConnectError(str(data.get("message", "connection refused")), data.get("data"))
            else:
                error = ConnectError(str(data))
            was_connected = self.connected
            self._refused(error)
            if was_connected:  # a refusal after the fact still ends the namespace connection
                self.handle_close("io server disconnect", error.message)
        elif ptype == DISCONNECT:
            # The server ended this namespace: no automatic reconnection, as in socket.io.
            self._deactivate()
            self.handle_close("io server disconnect", "the server disconnected this client")

    def _on_connect(self, sid: str, pid: Any) -> None:
        self.recovered = bool(pid) and pid == self._pid
        self._pid = pid if isinstance(pid, str) else None
        if not self.recovered:
            self._last_offset = None
        self.id = sid
        self.connected = True
        # What arrived before the CONNECT (replayed packets on recovery) goes out first.
        received, self._receive_buffer = self._receive_buffer, []
        for args, ack in received:
            self._deliver(args, ack)
        buffered, self._send_buffer = self._send_buffer, []
        for data, ack_id in buffered:
            if self.any_outgoing_listeners:
                self.notify_outgoing(data[0], data[1:])
            self.manager.send_packet(EVENT, self.nsp, data, ack_id)
        self._emit_reserved("connect")
        waiter = self._connect_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._queue.drain(force=True)

    def _on_event(self, packet: Any) -> None:
        data = packet.data
        ack = None
        if packet.id is not None:
            ack_id = packet.id
            ack = AckCallback(lambda args: self._send_ack(ack_id, args))
        if self.connected:
            self._deliver(list(data), ack)
        else:
            self._receive_buffer.append((list(data), ack))

    def _deliver(self, data: list[Any], ack: AckCallback | None) -> None:
        event, args = data[0], data[1:]
        # With connection state recovery the server appends the event's offset as one more
        # string argument (not to events that ask for an ack). The client keeps it to resume
        # from, and a handler with no room for it gets the event's own arguments only
        # (JS handlers ignore extra arguments; a Python function would raise TypeError).
        offset = self._pid is not None and ack is None and bool(args) and isinstance(args[-1], str)
        self._offset_in_args = offset
        try:
            self._dispatch_event(event, args, ack)
        finally:
            self._offset_in_args = False
        if offset:
            self._last_offset = args[-1]

    def _run(self, entry: HandlerEntry, args: Any, ack: Any, what: Any) -> None:
        if self._offset_in_args and not entry.var and entry.count < len(args):
            args = args[:-1]
        super()._run(entry, args, ack, what)

    def _send_ack(self, ack_id: int, args: list[Any]) -> None:
        if not self.connected:
            logger.debug("ack %s not sent: disconnected", ack_id)
            return
        self.manager.send_packet(ACK, self.nsp, args, ack_id)

    # --- emitting -------------------------------------------------------------------------

    @property
    def volatile(self) -> _Flags:
        """Emit that is dropped instead of buffered when it cannot leave at once."""
        view = self._volatile_view
        if view is None:
            view = self._volatile_view = _Flags(self._emit, self._emit_with_ack, volatile=True)
        return view

    def timeout(self, seconds: float) -> _Flags:
        """Emit whose ack fails after ``seconds``: a callback then gets ``(err, *args)``."""
        return _Flags(self._emit, self._emit_with_ack, timeout=float(seconds))

    def compress(self, flag: bool) -> _Flags:
        """Accepted for API parity with the JS client; no compression is negotiated."""
        return _Flags(self._emit, self._emit_with_ack, compress=bool(flag))

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` (any JSON/msgpack value; bytes anywhere as binary).

        A trailing callable receives the server's acknowledgement: its arguments, or
        ``(err, *args)`` when a timeout applies (``timeout()`` or ``ack_timeout``), ``err``
        being None or an AckTimeoutError. Never blocks; while disconnected the packet is
        buffered and sent on (re)connection.
        """
        self._emit(event, args, False, _UNSET)

    def send(self, *args: Any) -> None:
        """Emit a ``"message"`` event with ``args`` (socket.io's ``send``), like :meth:`emit`."""
        self.emit("message", *args)

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Send ``event`` and return the server's ack: one value, a tuple for several, or None.

        Raises AckTimeoutError when a timeout applies (``timeout()`` or ``ack_timeout``) and
        no answer came in time; DisconnectedError if the connection drops first.
        """
        return await self._emit_with_ack(event, args, False, _UNSET)

    def _check_event(self, event: Any) -> None:
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        if not isinstance(event, str):
            raise TypeError(f"the event name must be a str, not {type(event).__name__}")

    def _emit(self, event: str, args: tuple[Any, ...], volatile: bool, timeout: Any) -> None:
        self._check_event(event)
        callback = None
        if args and callable(args[-1]):
            callback, args = args[-1], args[:-1]
        if timeout is _UNSET:
            timeout = self.ack_timeout
        if self.retries and not volatile:
            self._queue.add(event, list(args), callback, timeout)
            return
        ack_id = None
        if callback is not None:
            ack_id = self._register_callback(callback, timeout)
        self._send_event(event, list(args), ack_id, volatile)

    async def _emit_with_ack(self, event: str, args: tuple[Any, ...], volatile: bool, timeout: Any) -> Any:
        self._check_event(event)
        if timeout is _UNSET:
            timeout = self.ack_timeout
        if self.retries and not volatile:
            return await self._queue.add_future(event, list(args), timeout)
        ack_id, fut = self._register_future(timeout)
        self._send_event(event, list(args), ack_id, volatile)
        return await fut

    def _register_callback(self, callback: Callable[..., Any], timeout: float | None) -> int:
        if timeout is None:
            return self._acks.register(lambda args: run_callback(callback, args, "ack callback"))
        holder: list[int] = []
        ack_id = self._acks.register(
            lambda args: run_callback(callback, [None, *args], "ack callback"),
            lambda exc: self._ack_failed(holder[0], exc, lambda: run_callback(callback, (exc,), "ack callback")),
            timeout,
        )
        holder.append(ack_id)
        return ack_id

    def _register_future(self, timeout: float | None) -> tuple[int, asyncio.Future[Any]]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        holder: list[int] = []

        def on_ack(args: list[Any]) -> None:
            if not fut.done():
                fut.set_result(unpack_ack_args(args))

        def on_error(exc: BaseException) -> None:
            def fail() -> None:
                if not fut.done():
                    fut.set_exception(exc)

            self._ack_failed(holder[0], exc, fail)

        ack_id = self._acks.register(on_ack, on_error, timeout)
        holder.append(ack_id)
        return ack_id, fut

    def _ack_failed(self, ack_id: int, exc: BaseException, report: Callable[[], Any]) -> None:
        # A timed-out packet still waiting in the send buffer must not be sent later.
        self._send_buffer = [entry for entry in self._send_buffer if entry[1] != ack_id]
        report()

    def _send_event(self, event: str, args: list[Any], ack_id: int | None, volatile: bool) -> None:
        data = [event, *args]
        if self.connected:
            if volatile and not self.manager.can_send_now():
                # As in socket.io, an ack of a dropped packet can only fail by its timeout.
                logger.debug("volatile %r dropped: the transport is busy", event)
                return
            if self.any_outgoing_listeners:
                self.notify_outgoing(event, args)
            self.manager.send_packet(EVENT, self.nsp, data, ack_id)
        elif volatile:
            logger.debug("volatile %r dropped: not connected", event)
        else:
            self._send_buffer.append((data, ack_id))


async def connect(url: str, **options: Any) -> AsyncClient:
    """Create an :class:`AsyncClient` for ``url`` with ``options`` and connect it.

    The one-line way to get a connected client: ``client = await hypersio.connect(url)``.
    Raises :class:`hypersio.ConnectError` like :meth:`AsyncClient.connect`.
    """
    client = AsyncClient(url, **options)
    await client.connect()
    return client
