"""hypersio.Server: the Socket.IO server, built on the Engine.IO server of ``hypersio.engine``.

Usage (API.md "Server")::

    sio = hypersio.Server()

    @sio.on("connection")
    async def on_connection(socket):
        socket.emit("hello", "world")

    sio.run(host="127.0.0.1", port=3000)

The server's broadcast helpers (``emit``, ``to``, ``fetch_sockets`` ...) are those of the main
namespace ``"/"``; ``sio.of(name)`` gives the others.
"""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, TypeVar, overload

from hypersio.adapters.recovery import Recovery
from hypersio.engine.options import CompressionSetting, compression_threshold
from hypersio.engine.ratelog import RateLimitedLog
from hypersio.events.acks import spawn
from hypersio.protocol.socketio.codecs import parser_module
from hypersio.server.broadcast import BroadcastOperator
from hypersio.server.connection import Connection, OnClosed, OnConnect
from hypersio.server.metrics import CONTENT_TYPE as _METRICS_CONTENT_TYPE
from hypersio.server.metrics import Metrics
from hypersio.server.namespace import AdapterFactory, Namespace
from hypersio.server.parent_namespace import Matcher, ParentNamespace
from hypersio.server.socket import Socket

__all__ = ["Recovery", "Server"]

logger = logging.getLogger("hypersio")

F = TypeVar("F", bound=Callable[..., Any])


class Server:
    """A Socket.IO v4 server: namespaces, sockets, rooms, acks, middlewares, broadcasts.

    Arguments are those of API.md "Server". ``parser`` is ``"json"`` or ``"msgpack"`` (or a
    module with ``encode_packet`` and ``Decoder``); ``connection_state_recovery`` takes a
    :class:`Recovery` (``True`` means the defaults); ``adapter`` is a callable receiving each
    :class:`~hypersio.server.namespace.Namespace` and returning its adapter (an
    :class:`~hypersio.adapters.memory.InMemoryAdapter` subclass, or a cluster adapter's factory);
    ``max_attachments`` bounds binary attachments per packet (a larger count closes the
    connection). ``allow_request(request)`` (sync or async) may refuse a handshake (403);
    ``allow_upgrades=False`` keeps long-polling sessions on polling; ``cors_credentials=True``
    allows credentials with ``cors_allowed_origins="*"`` (off, ``*`` is answered without them);
    ``cleanup_empty_child_namespaces=True`` removes a dynamic namespace's child once its last
    socket left. ``max_connections`` caps open connections (new ones get 503; default: the open
    files limit, raised to its hard limit at start, minus 64). A handshake whose ``Origin``
    ``cors_allowed_origins`` does not allow (None: same origin only) is refused with 400.
    ``handshake_rate_limit=(burst, per_second)`` limits new sessions per client address (429
    past it; None turns it off); requests from ``trusted_proxies`` count against the address in
    ``forwarded_for_header``, or are not limited without it. ``max_unjoined_connections`` caps
    the connections that have not joined a namespace yet (more are closed at once).
    ``event_rate_limit=(burst, per_second, "drop" | "disconnect")`` bounds each socket's incoming
    events (off by default). ``cookie=True`` (or a dict of ``name``, ``path``, ``http_only``, ``same_site``, ``secure``,
    ``max_age``) sets ``io=<sid>`` on the handshake answer, for load balancers that stick by cookie.
    ``metrics=True`` serves Prometheus metrics at ``GET /metrics`` on the server's
    port (:attr:`metrics`, see ``hypersio.metrics``); ``health_path`` (None: off) answers
    ``200 ok`` while the server accepts connections, ``503`` once it is closing.
    ``http_compression`` and ``per_message_deflate`` are the engine's (API.md "Faces
    and options"): long-polling bodies gzipped from 1 KiB by default, WebSocket permessage-deflate
    off by default; True, False or ``{"threshold": bytes}``.
    ``max_buffered_output`` (256 MiB) bounds the output waiting for clients that do not read, and
    ``max_unfinished_input`` (64 MiB) the incoming packets not complete yet (partial WebSocket
    messages and POST bodies, packets waiting for binary attachments), each summed over all
    connections: past either, the connections holding the most are closed first, with a logged
    reason, until the total is back under it (None: unbounded). Connections keeping up are not
    counted: only output past ``write_buffer_high_water`` (1 MiB) per connection and input from
    64 KiB. Memory is given back to the system (glibc ``malloc_trim``) once the totals fell.

    ``parser`` (the codec module), ``adapter_factory``, ``connection_state_recovery``, ``logger``
    and :meth:`prepare_message` are what the namespaces, sockets and adapters below read
    (``hypersio.server.namespace.ServerView``).
    """

    def __init__(
        self,
        path: str = "/socket.io/",
        transports: Iterable[str] = ("polling", "websocket"),
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        max_http_buffer_size: int = 1_000_000,
        connect_timeout: float = 45.0,
        cors_allowed_origins: str | Iterable[str] | None = None,
        parser: str | ModuleType = "json",
        connection_state_recovery: Recovery | bool | None = None,
        adapter: AdapterFactory | None = None,
        *,
        max_attachments: int = 10,
        allow_request: Callable[[Any], Any] | None = None,
        allow_upgrades: bool = True,
        cors_credentials: bool = False,
        cleanup_empty_child_namespaces: bool = False,
        max_connections: int | None = None,
        cookie: bool | dict[str, Any] | None = None,
        handshake_rate_limit: tuple[float, float] | None = (30, 10),
        trusted_proxies: Iterable[str] = ("127.0.0.0/8", "::1"),
        forwarded_for_header: str | None = "x-forwarded-for",
        max_unjoined_connections: int = 10_000,
        event_rate_limit: tuple[float, float, str] | None = None,
        metrics: bool = False,
        health_path: str | None = "/health",
        http_compression: CompressionSetting = True,
        per_message_deflate: CompressionSetting = False,
        max_buffered_output: int | None = 256 << 20,
        max_unfinished_input: int | None = 64 << 20,
    ) -> None:
        self.path = path
        self.transports = tuple(transports)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_http_buffer_size = max_http_buffer_size
        self.connect_timeout = connect_timeout
        self.cors_allowed_origins = cors_allowed_origins
        if connection_state_recovery is True:
            connection_state_recovery = Recovery()
        self.connection_state_recovery: Recovery | None = connection_state_recovery or None
        self.max_attachments = max_attachments
        self.allow_request = allow_request
        self.allow_upgrades = allow_upgrades
        self.cors_credentials = cors_credentials
        self.cleanup_empty_child_namespaces = cleanup_empty_child_namespaces
        self.max_connections = max_connections
        self.cookie = cookie
        self.handshake_rate_limit = handshake_rate_limit
        self.trusted_proxies = tuple(trusted_proxies)
        self.forwarded_for_header = forwarded_for_header
        self.max_unjoined_connections = max_unjoined_connections
        self.event_rate_limit = event_rate_limit
        self._unjoined = 0
        self._unjoined_log = RateLimitedLog(logger, 60.0)
        # Checked now (ValueError) though the engine is made on first use.
        compression_threshold(http_compression, "http_compression")
        compression_threshold(per_message_deflate, "per_message_deflate")
        self.http_compression = http_compression
        self.per_message_deflate = per_message_deflate
        self.max_buffered_output = max_buffered_output
        self.max_unfinished_input = max_unfinished_input
        self.logger = logger
        self.parser = parser_module(parser)
        if adapter is not None and not callable(adapter):
            raise TypeError("adapter must be a callable taking a Namespace (e.g. an InMemoryAdapter subclass)")
        # Called once per namespace, like socket.io's adapter constructor option.
        self.adapter_factory = adapter
        self._engine: Any = None
        self._prepared_cls: Any = None
        self._nsps: dict[str, Namespace] = {}
        self._parent_nsps: list[ParentNamespace] = []
        self._connections: dict[str, Connection] = {}
        self._listening = False
        # Bound once: every connection holds these same two objects (a bound method made per
        # connection would cost ~70 bytes each on every idle connection).
        self._on_connect: OnConnect = self._connect
        self._on_closed: OnClosed = self._connection_closed
        self._on_joined = self._connection_joined
        #: Called with every namespace created from now on (the admin UI and the metrics).
        self.namespace_observers: list[Callable[[Namespace], None]] = []
        # Plain counters for the metrics and the admin UI, read when asked (:meth:`traffic`).
        self._opened_by_transport: dict[str, int] = {}
        self._closed_by_reason: dict[str, int] = {}
        self._events_in_closed = 0
        self._closing = False
        self.health_path = health_path
        self.sockets: Namespace = self.of("/")
        #: The server's :class:`~hypersio.metrics.Metrics` when ``metrics=True``, else None.
        self.metrics: Metrics | None = Metrics(self) if metrics else None

    def __repr__(self) -> str:
        return f"<hypersio.Server path={self.path!r} namespaces={sorted(self._nsps)}>"

    # --- the Engine.IO layer ----------------------------------------------------------------------

    @property
    def engine(self) -> Any:
        """The ``hypersio.engine.Server`` carrying this server (created on first use)."""
        if self._engine is None:
            from hypersio import engine

            self._engine = engine.Server(
                path=self.path,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                max_http_buffer_size=self.max_http_buffer_size,
                transports=self.transports,
                cors_allowed_origins=self.cors_allowed_origins,
                allow_request=self.allow_request,
                cors_credentials=self.cors_credentials,
                allow_upgrades=self.allow_upgrades,
                max_connections=self.max_connections,
                cookie=self.cookie,
                handshake_rate_limit=self.handshake_rate_limit,
                trusted_proxies=self.trusted_proxies,
                forwarded_for_header=self.forwarded_for_header,
                http_compression=self.http_compression,
                per_message_deflate=self.per_message_deflate,
                max_buffered_output=self.max_buffered_output,
                max_unfinished_input=self.max_unfinished_input,
            )
            self._engine.on("connection", self._on_engine_connection)
            if self.health_path is not None:
                self._engine.routes[self.health_path] = self._health
            if self.metrics is not None:
                self._engine.routes["/metrics"] = self._metrics_route
        return self._engine

    def _health(self, request: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        if self._listening and not self._closing:
            return 200, [("Content-Type", "text/plain"), ("Cache-Control", "no-store")], b"ok"
        return 503, [("Content-Type", "text/plain"), ("Cache-Control", "no-store")], b"closing"

    def _metrics_route(self, request: Any) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self.metrics is not None  # the route exists only with metrics
        return 200, [("Content-Type", _METRICS_CONTENT_TYPE)], self.metrics.render().encode()

    @property
    def namespaces(self) -> Mapping[str, Namespace]:
        """Namespace name -> namespace, every one created so far (read it, do not change it)."""
        return self._nsps

    def traffic(self) -> dict[str, Any]:
        """The server's counters now, summed over what is open and what was closed.

        Keys: ``events_in``, ``events_out``, ``broadcasts``, ``bytes_in``, ``bytes_out``,
        ``volatile_dropped``, ``slow_closes``, ``budget_closes``, ``upgrades``, ``buffered_output``
        and ``unfinished_input`` (the memory budget's totals now; ints), ``connections_by_transport``
        (sessions opened, by handshake transport), ``disconnections_by_reason`` and
        ``sessions_by_transport`` (open now). The metrics and the admin UI read it; costs one pass
        over the open connections.
        """
        engine = self._engine
        sessions_by_transport: dict[str, int] = {}
        if engine is not None:
            totals = engine.options.stats.totals(engine.connections)
            totals["buffered_output"] = engine.options.budget.output
            totals["unfinished_input"] = engine.options.budget.input
            for session in engine.sessions.values():
                sessions_by_transport[session.transport] = sessions_by_transport.get(session.transport, 0) + 1
        else:
            totals = dict.fromkeys(
                ("bytes_in", "bytes_out", "volatile_dropped", "slow_closes", "budget_closes", "upgrades"), 0
            )
            totals["buffered_output"] = totals["unfinished_input"] = 0
        adapters = [nsp.adapter for nsp in self._nsps.values()]
        return {
            **totals,
            "events_in": self._events_in_closed + sum(conn.events_received for conn in self._connections.values()),
            "events_out": sum(a.events_sent for a in adapters),
            "broadcasts": sum(a.broadcasts for a in adapters),
            "connections_by_transport": dict(self._opened_by_transport),
            "disconnections_by_reason": dict(self._closed_by_reason),
            "sessions_by_transport": sessions_by_transport,
        }

    def prepare_message(self, data: str | bytes, compress: bool = True) -> Any:
        """One ``engine.PreparedMessage`` for a broadcast part (class resolved once, lazily);
        ``compress=False`` for a broadcast sent with ``compress(False)``."""
        cls = self._prepared_cls
        if cls is None:
            from hypersio.engine import PreparedMessage

            cls = self._prepared_cls = PreparedMessage
        return cls(data) if compress else cls(data, False)

    def _on_engine_connection(self, session: Any) -> None:
        """A new Engine.IO session: give it a Socket.IO connection (decoder, namespaces)."""
        if self._unjoined >= self.max_unjoined_connections:
            # Sessions that have not joined a namespace cost memory and prove nothing yet: past
            # the cap new ones are dropped at once (logged once a minute).
            self._unjoined_log(
                "unjoined",
                "%d connections have not joined a namespace (max_unjoined_connections); closing new ones",
                self._unjoined,
            )
            session.close("transport error")
            return
        self._unjoined += 1
        conn = Connection(
            session,
            self.parser,
            max_attachments=self.max_attachments,
            connect_timeout=self.connect_timeout,
            logger=self.logger,
            on_connect=self._on_connect,
            on_closed=self._on_closed,
            on_joined=self._on_joined,
            budget=self.engine.options.budget,
        )
        self._connections[conn.id] = conn
        opened = self._opened_by_transport
        opened[session.transport] = opened.get(session.transport, 0) + 1

    def _connection_closed(self, conn: Connection) -> None:
        if self._connections.pop(conn.id, None) is not None:
            self._events_in_closed += conn.events_received
            reason = conn.close_reason or "unknown"
            self._closed_by_reason[reason] = self._closed_by_reason.get(reason, 0) + 1
        if not conn.joined:
            self._unjoined -= 1

    def _connection_joined(self, conn: Connection) -> None:
        self._unjoined -= 1

    # --- namespaces ---------------------------------------------------------------------------

    def of(self, name: str | Matcher) -> Namespace:
        """The namespace ``name`` (created on first use).

        ``name`` may also be a compiled regex or a callable ``(name, auth) -> bool`` (sync or
        async): the result is a dynamic namespace whose handlers serve every matching name.
        """
        if isinstance(name, str):
            if not name.startswith("/"):
                name = "/" + name
            nsp = self._nsps.get(name)
            if nsp is None:
                nsp = self._nsps[name] = Namespace(self, name)
                if self._listening:
                    spawn(nsp.adapter.init(), f"adapter of namespace {name}")
                self._new_namespace(nsp)
            return nsp
        if isinstance(name, re.Pattern) or callable(name):
            parent = ParentNamespace(self, name)
            self._parent_nsps.append(parent)
            return parent
        raise TypeError("namespace must be a str, a compiled regex or a callable")

    def _new_namespace(self, nsp: Namespace) -> None:
        for observer in self.namespace_observers:
            observer(nsp)
        # socket.io's "new_namespace" event: on the main namespace's handlers.
        main = self._nsps.get("/")
        if main is not None and main is not nsp:
            main.notify_new_namespace(nsp)

    def forget_namespace(self, nsp: Namespace) -> None:
        """Drop an emptied dynamic child namespace (``cleanup_empty_child_namespaces``)."""
        if self._nsps.get(nsp.name) is nsp:
            del self._nsps[nsp.name]
            spawn(nsp.adapter.close(), f"adapter of namespace {nsp.name}")

    def _connect(self, conn: Connection, name: str, auth: Any) -> None:
        """Route a CONNECT for ``name``: known namespace, dynamic one, or refusal."""
        if auth is None:
            auth = {}
        nsp = self._nsps.get(name)
        if nsp is not None:
            nsp.add_client(conn, auth)
        elif self._parent_nsps:
            conn.begin_connecting(name)
            spawn(self._connect_dynamic(conn, name, auth), f"dynamic namespace {name}")
        else:
            conn.refuse(name, "Invalid namespace")

    async def _connect_dynamic(self, conn: Connection, name: str, auth: Any) -> None:
        try:
            for parent in list(self._parent_nsps):
                if await parent.matches(name, auth):
                    break
            else:
                parent = None
        except Exception:
            logger.exception("dynamic namespace check for %s raised", name)
            parent = None
        if not conn.end_connecting(name):
            return  # the client sent DISCONNECT meanwhile: the join is called off
        if conn.closed:
            return
        if parent is None:
            conn.refuse(name, "Invalid namespace")
            return
        nsp = self._nsps.get(name)
        if nsp is None:
            nsp = self._nsps[name] = parent.create_child(name)
            self._new_namespace(nsp)
            if self._listening:
                await nsp.adapter.init()
                if conn.closed:
                    return
        nsp.add_client(conn, auth)

    # --- the main namespace's API -------------------------------------------------------------------

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register a handler on ``"/"``; ``"connection"`` (or ``"connect"``) gets each Socket.

        ``@sio.on("connection")`` or ``sio.on("connection", fn)``; the handler is returned
        unchanged, so a decorated function keeps its type.
        """
        if handler is None:
            return self.sockets.on(event)
        return self.sockets.on(event, handler)

    @overload
    def once(self, event: str) -> Callable[[F], F]: ...

    @overload
    def once(self, event: str, handler: F) -> F: ...

    def once(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Like :meth:`on`, for one call only."""
        if handler is None:
            return self.sockets.once(event)
        return self.sockets.once(event, handler)

    def off(self, event: str | None = None, handler: Callable[..., Any] | None = None) -> None:
        """Remove handlers from ``"/"``."""
        self.sockets.off("connection" if event == "connect" else event, handler)

    def use(self, middleware: F) -> F:
        """Add a middleware to ``"/"`` (see :meth:`Namespace.use`); usable as a decorator."""
        return self.sockets.use(middleware)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every socket of ``"/"``."""
        self.sockets.emit(event, *args)

    def send(self, *args: Any) -> None:
        """Emit ``message`` to every socket of ``"/"``."""
        self.sockets.send(*args)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Emit to every socket of ``"/"`` and wait for all acks."""
        return await self.sockets.emit_with_ack(event, *args)

    def to(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target the sockets of ``"/"`` in ``rooms``."""
        return self.sockets.to(rooms)

    def in_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Alias of :meth:`to`."""
        return self.sockets.to(rooms)

    def except_(self, rooms: str | Iterable[str]) -> BroadcastOperator:
        """Target the sockets of ``"/"`` not in ``rooms``."""
        return self.sockets.except_(rooms)

    @property
    def volatile(self) -> BroadcastOperator:
        """Target ``"/"`` with volatile packets."""
        return self.sockets.volatile

    @property
    def local(self) -> BroadcastOperator:
        """Target the sockets of ``"/"`` in this process only."""
        return self.sockets.local

    def compress(self, flag: bool) -> BroadcastOperator:
        """Target ``"/"`` with the compression flag."""
        return self.sockets.compress(flag)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """Target ``"/"`` with an ack deadline."""
        return self.sockets.timeout(seconds)

    async def fetch_sockets(self) -> list[Socket]:
        """Every socket of ``"/"``."""
        return await self.sockets.fetch_sockets()

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of ``"/"`` join ``rooms``."""
        self.sockets.sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make every socket of ``"/"`` leave ``rooms``."""
        self.sockets.sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every socket of ``"/"``."""
        self.sockets.disconnect_sockets(close)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Send an event to the listeners of ``"/"`` on the other servers of a cluster.

        A trailing callable collects their answers: ``callback(err, responses)``, one response
        per other server (``err`` is a ``ClusterTimeoutError`` when some did not answer in time).
        With the in-memory adapter there are no other servers.
        """
        self.sockets.server_side_emit(event, *args)

    async def server_side_emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send an event to the other servers' listeners of ``"/"`` and return their answers
        (one per server); raises ``ClusterTimeoutError`` when some do not answer in time."""
        return await self.sockets.server_side_emit_with_ack(event, *args)

    # --- running --------------------------------------------------------------------------------

    async def listen(self, host: str = "127.0.0.1", port: int = 3000, ssl: Any = None) -> Any:
        """Start serving on ``host:port`` inside the running loop and return the engine server.

        ``port=0`` picks a free port; read it from ``sio.engine.port``. ``ssl`` (an
        ``ssl.SSLContext`` with the certificate loaded) serves HTTPS and WSS. Stop with
        :meth:`close`.
        """
        # Cluster adapters subscribe before the first client can arrive, so the other servers
        # count this one and reach its sockets from the start.
        for nsp in list(self._nsps.values()):
            await nsp.adapter.init()
        self._listening = True
        self._closing = False
        await self.engine.listen(host, port, ssl=ssl)
        return self.engine

    async def start_external(self) -> Any:
        """Get ready to serve through another driver (``hypersio.ASGIApp`` calls it at the ASGI
        server's startup) inside the running loop, as :meth:`listen` does without binding a
        port; return the engine server. Stop with :meth:`close`."""
        for nsp in list(self._nsps.values()):
            await nsp.adapter.init()
        self._listening = True
        self.engine.start_external()
        return self.engine

    async def serve_handoff(self, channel: Any, sid_tag: str) -> None:
        """Serve the connections a workers' primary passes over ``channel`` (see
        ``hypersio.engine.Server.serve_handoff``); ``python -m hypersio serve --workers N`` and
        ``run(workers=N)`` call it in each worker. Stop with :meth:`close`."""
        for nsp in list(self._nsps.values()):
            await nsp.adapter.init()
        self._listening = True
        await self.engine.serve_handoff(channel, sid_tag)

    def prepare_worker(self, index: int, workers: int, cluster_dir: str) -> None:
        """Get ready to be worker ``index`` of ``workers`` behind one port: without a cluster
        adapter of its own, the workers form a cluster by themselves over Unix sockets in
        ``cluster_dir`` (with one, that adapter spans the workers and other machines)."""
        if workers > 1 and self.adapter_factory is None and cluster_dir:
            from hypersio.adapters.cluster.local import local_adapter

            self.set_adapter(local_adapter(cluster_dir, index, workers))

    def set_adapter(self, adapter: AdapterFactory) -> None:
        """Use ``adapter`` for every namespace, those made already included; only before serving
        (the workers give a server without a cluster adapter their own local one this way)."""
        if self._listening:
            raise RuntimeError("the adapter cannot change once the server serves")
        self.adapter_factory = adapter
        for nsp in self._nsps.values():
            nsp.adapter = adapter(nsp)

    def run(self, host: str = "127.0.0.1", port: int = 3000, workers: int = 1, ssl: Any = None) -> None:
        """Serve on ``host:port`` on uvloop until SIGINT/SIGTERM, then close gracefully.

        ``workers=N`` serves from N processes forked from this one behind the one port, with
        sticky sessions, forming one cluster (see ``hypersio.workers``); call it before any event
        loop runs in this process. ``ssl`` (an ``ssl.SSLContext``) serves HTTPS and WSS; the
        workers' primary routes by the session id it reads, so TLS with workers is terminated in
        front of them (a load balancer or proxy).
        """
        if workers > 1 and ssl is not None:
            raise ValueError("workers route by session id, which TLS hides: terminate TLS in front of them")
        if workers > 1:
            import shutil
            import tempfile

            from hypersio.engine import workers as _workers

            cluster_dir = tempfile.mkdtemp(prefix="hypersio-workers-")

            def prepare(index: int) -> None:
                self.prepare_worker(index, workers, cluster_dir)

            try:
                _workers.Primary(host, port, workers, _workers.fork_starter(self, prepare)).run()
            finally:
                shutil.rmtree(cluster_dir, ignore_errors=True)  # the workers' sockets live here
            return

        async def main() -> None:
            await self.listen(host, port, ssl=ssl)
            logger.info("hypersio serving on http://%s:%s%s", host, self.engine.port, self.path)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
                    pass
            try:
                await stop.wait()
            finally:
                await self.close()

        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency on CPython/Unix
            runner: Callable[[Any], Any] = asyncio.run
        else:
            runner = uvloop.run
        try:
            runner(main())
        except KeyboardInterrupt:  # pragma: no cover - only without signal handlers
            pass

    async def close(self) -> None:
        """Disconnect every socket ("server shutting down") and stop the Engine.IO server."""
        self._closing = True  # the health check fails from now on
        for nsp in list(self._nsps.values()):
            for socket in list(nsp.sockets.values()):
                socket.handle_close("server shutting down")
            await nsp.adapter.close()
        for conn in list(self._connections.values()):
            conn.close("server shutting down")
        if self._engine is not None:
            await self._engine.close()
