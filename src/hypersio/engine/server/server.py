"""The Engine.IO v4 server: routing, handshakes, errors, CORS, upgrades, lifecycle.

Requests arrive from :class:`~hypersio.engine.server.http.HttpConnection`, for which the server is
the :class:`~hypersio.engine.server.http.RequestHandler`; with the plain decisions of
:mod:`~hypersio.engine.server.routing` it works out what they mean (handshake, poll, post,
WebSocket open or upgrade, error), creates the sessions and keeps their table.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import secrets
import signal
import socket as _socket
from collections.abc import Awaitable, Callable, Iterable, KeysView
from typing import Any

from hypersio.engine.budget import DEFAULT_MAX_BUFFERED_OUTPUT, DEFAULT_MAX_UNFINISHED_INPUT
from hypersio.engine.options import TRANSPORTS, CompressionSetting, EngineOptions
from hypersio.engine.outlet import DEFAULT_HARD_LIMIT, DEFAULT_HIGH_WATER, Corker, get_corker, logger
from hypersio.engine.ratelog import RateLimitedLog
from hypersio.engine.server.heartbeat import Heartbeats
from hypersio.engine.server.hooks import CookieSetting, ResponseHooks
from hypersio.engine.server.http import HttpConnection, Request
from hypersio.engine.server.limits import HandshakeLimiter
from hypersio.engine.server.polling import Polling
from hypersio.engine.server.routing import (
    BAD_REQUEST,
    ERROR_MESSAGES,
    FORBIDDEN,
    UNKNOWN_SID,
    UNKNOWN_TRANSPORT,
    cors_headers,
    handshake_error,
    open_packet,
    origin_allowed,
    path_matches,
    preflight_headers,
    respond_error,
    upgrade_error,
    upgrades_of,
)
from hypersio.engine.server.session import Session
from hypersio.engine.server.websocket import WebSocketTransport, accept_websocket, check_handshake

__all__ = ["ERROR_MESSAGES", "TRANSPORTS", "AllowRequest", "Route", "Server"]

_GET_HEADERS = [("Content-Type", "text/plain; charset=UTF-8"), ("Cache-Control", "no-store")]

AllowRequest = Callable[[Request], bool | Awaitable[bool]]
Opener = Callable[[HttpConnection, Request, list[tuple[str, str]]], None]
#: An extra HTTP route (``Server.routes``): the request in, ``(status, headers, body)`` out.
Route = Callable[[Request], tuple[int, list[tuple[str, str]], bytes]]


def _bind_literal(host: str | None, port: int) -> _socket.socket | None:
    """A bound TCP socket for an IP-literal ``host``, or None to let the loop resolve ``host``.

    Why bind ourselves: for a host name uvloop resolves it with getaddrinfo on libuv's thread
    pool, which starts four threads, and a process with threads pays for them on every call
    afterwards (glibc locks its allocator and marks every read and write as a cancellation
    point: ~2 % of a request/response round trip). An IP literal needs no resolving.
    """
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    family = _socket.AF_INET6 if address.version == 6 else _socket.AF_INET
    sock = _socket.socket(family, _socket.SOCK_STREAM)
    try:
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        if family == _socket.AF_INET6:
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 1)  # as asyncio does
        sock.bind((str(address), port))
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


_fd_limit_raised = False


def raise_fd_limit() -> int | None:
    """Raise this process's soft limit of open files to its hard limit (once, logged) and return
    the soft limit now in force (None where there is no such limit).

    The common default soft limit of 1024 would make a busy server fail to accept at ~1000
    clients while the kernel allows far more; the hard limit is what the administrator set.
    """
    global _fd_limit_raised
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if not _fd_limit_raised:
        _fd_limit_raised = True
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        if soft != resource.RLIM_INFINITY and soft < target:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
                logger.info("raised the open files limit from %d to %d", soft, target)
                soft = target
            except (ValueError, OSError) as exc:
                logger.warning("could not raise the open files limit from %d: %s", soft, exc)
    return None if soft == resource.RLIM_INFINITY else int(soft)


class RefusedRequest:
    """A request the engine refused, as its ``connection_error`` handlers see it: the Engine.IO
    error ``code`` and ``message`` (``"Session ID unknown"`` ...), the ``request`` and a
    ``context`` dict (the client ``address``)."""

    __slots__ = ("code", "message", "request", "context")

    def __init__(self, code: int, message: str, request: Request, context: dict[str, Any]) -> None:
        self.code = code
        self.message = message
        self.request = request
        self.context = context

    def __repr__(self) -> str:
        return f"<RefusedRequest {self.code} {self.message!r} {self.request!r}>"


class Server:
    """An Engine.IO v4 server on uvloop, speaking long-polling and WebSocket.

    Register ``on("connection", handler)`` to receive each new :class:`Session` (the handler is
    called right after the handshake was queued), then ``await listen(host, port)`` inside a
    running loop, or ``run(host, port)`` to block. ``hypersio.Server`` (Socket.IO) is built on it.

    ``cors_allowed_origins``: None sends no CORS headers (same-origin pages only), ``"*"``
    reflects any request's Origin, a list reflects only those origins. ``allow_request(request)``
    may refuse a handshake by returning False (or an awaitable of False): the client gets 403.
    ``http_compression`` (on by default) gzips or deflates long-polling bodies of 1 KiB or more
    for clients that accept it; ``per_message_deflate`` (off by default) negotiates WebSocket
    compression with clients that offer it; either takes ``{"threshold": bytes}`` instead of True.
    ``max_buffered_output`` (256 MiB) and ``max_unfinished_input`` (64 MiB) bound, over all
    connections, the output waiting for clients that do not read and the incoming packets not
    complete yet; past either, the connections holding the most are closed (``engine/budget.py``;
    None: unbounded).
    Every setting is kept, validated, in :attr:`options`
    (:class:`~hypersio.engine.options.EngineOptions`).

    The ``connection_opened`` ... ``body_too_large`` methods are the
    :class:`~hypersio.engine.server.http.RequestHandler` its HTTP connections call.
    """

    def __init__(
        self,
        path: str = "/engine.io/",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        max_http_buffer_size: int = 1_000_000,
        transports: Iterable[str] = TRANSPORTS,
        cors_allowed_origins: str | Iterable[str] | None = None,
        allow_request: AllowRequest | None = None,
        *,
        upgrade_timeout: float = 10.0,
        http_idle_timeout: float = 30.0,
        write_buffer_high_water: int = DEFAULT_HIGH_WATER,
        write_buffer_limit: int = DEFAULT_HARD_LIMIT,
        cors_credentials: bool = False,
        allow_upgrades: bool = True,
        max_connections: int | None = None,
        cookie: CookieSetting = None,
        handshake_rate_limit: tuple[float, float] | None = (30, 10),
        trusted_proxies: Iterable[str] = ("127.0.0.0/8", "::1"),
        forwarded_for_header: str | None = "x-forwarded-for",
        http_compression: CompressionSetting = True,
        per_message_deflate: CompressionSetting = False,
        max_buffered_output: int | None = DEFAULT_MAX_BUFFERED_OUTPUT,
        max_unfinished_input: int | None = DEFAULT_MAX_UNFINISHED_INPUT,
    ) -> None:
        self.options = EngineOptions(
            path,
            ping_interval,
            ping_timeout,
            max_http_buffer_size,
            transports,
            cors_allowed_origins,
            upgrade_timeout=upgrade_timeout,
            http_idle_timeout=http_idle_timeout,
            write_buffer_high_water=write_buffer_high_water,
            write_buffer_limit=write_buffer_limit,
            http_compression=http_compression,
            per_message_deflate=per_message_deflate,
            max_buffered_output=max_buffered_output,
            max_unfinished_input=max_unfinished_input,
        )
        self.options.cors_credentials = cors_credentials
        self.options.allow_upgrades = allow_upgrades
        self.allow_request = allow_request
        self.port: int | None = None
        self._connection_handlers: list[Callable[[Session], Any]] = []
        self._error_handlers: list[Callable[[RefusedRequest], Any]] = []
        if cookie:
            self._response_hooks().cookie = cookie
        self._sessions: dict[str, Session] = {}
        # A dict used as an ordered set: at 20,000 connections a set's table (grown 4x at a time,
        # 16 bytes a slot) costs about 100 bytes per connection, a dict's about 35 (issue 14).
        self._connections: dict[HttpConnection, None] = {}
        # Bound once and shared by every session (a bound method per session costs ~70 bytes each).
        self._on_session_closed = self._forget
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set by listen()
        self._corker: Corker = None  # type: ignore[assignment]
        self._heartbeats: Heartbeats = None  # type: ignore[assignment]  # set by listen()
        self._aio_server: asyncio.AbstractServer | None = None
        self._handoff: _socket.socket | None = None
        self._refused_origins = 0
        self._over_limit = 0
        # refused connections and handshakes (max_connections, origin, rate): a line per kind per 10 s
        self._refusals = RateLimitedLog(logger, 10.0)
        #: Per-client-address handshake rate limit (None: off), see :mod:`.limits`.
        self.handshake_limiter: HandshakeLimiter | None = (
            HandshakeLimiter(*handshake_rate_limit, trusted_proxies, forwarded_for_header)
            if handshake_rate_limit is not None
            else None
        )
        #: Open connections past which new ones get 503 (None: derived from the file
        #: descriptor limit when serving starts, see :func:`raise_fd_limit`).
        self.max_connections: int | None = max_connections
        self._tasks: set[asyncio.Task[Any]] = set()
        self._serving = False  # between listen/serve_handoff/start_external and close
        self._upgrades_json = upgrades_of(self.options)
        #: Extra HTTP routes outside ``path``, by exact path: ``route(request)`` returns
        #: ``(status, headers, body)``. ``hypersio.Server`` adds ``/health`` and ``/metrics`` here.
        self.routes: dict[str, Route] = {}

    # ---- public API -------------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The URL path clients use, ending with ``/`` (also matched without it)."""
        return self.options.path

    @property
    def ping_interval(self) -> float:
        """Seconds between two pings of a session."""
        return self.options.ping_interval

    @property
    def ping_timeout(self) -> float:
        """Seconds a client has to answer a ping (and a closed polling session lingers)."""
        return self.options.ping_timeout

    @property
    def max_http_buffer_size(self) -> int:
        """The largest message or POST body accepted, in bytes."""
        return self.options.max_http_buffer_size

    @property
    def transports(self) -> tuple[str, ...]:
        """The transports offered: ``"polling"`` and/or ``"websocket"``."""
        return self.options.transports

    @property
    def cors_allowed_origins(self) -> str | frozenset[str] | None:
        """None (no CORS headers), ``"*"`` or the allowed origins."""
        return self.options.cors_allowed_origins

    def on(self, event: str, handler: Callable[..., Any] | None = None) -> Any:
        """Register a handler for an engine event (usable as a decorator without ``handler``):

        * ``connection``: ``handler(session)`` with each new :class:`Session`;
        * ``connection_error``: ``handler(err)`` with each refused request, ``err`` a
          :class:`RefusedRequest` (``code``, ``message``, ``request``, ``context``): to log or
          count handshakes that fail (unknown sid, bad transport, forbidden, ...);
        * ``initial_headers``: ``handler(headers, request)`` on the answer to a handshake, and
          ``headers``: on every HTTP response; ``headers`` is a dict to change in place (add a
          header, set a cookie for a load balancer).
        """
        if handler is None:
            return lambda h: self.on(event, h)
        if event == "connection":
            self._connection_handlers.append(handler)
        elif event == "connection_error":
            self._error_handlers.append(handler)
        elif event in ("initial_headers", "headers"):
            hooks = self._response_hooks()
            (hooks.initial if event == "initial_headers" else hooks.every).append(handler)
        else:
            raise ValueError(
                f"unknown Engine.IO server event {event!r} "
                "(expected 'connection', 'connection_error', 'initial_headers' or 'headers')"
            )
        return handler

    def _response_hooks(self) -> ResponseHooks:
        hooks = self.options.response_hooks
        if hooks is None:
            hooks = self.options.response_hooks = ResponseHooks()
        return hooks  # type: ignore[no-any-return]

    def _refuse(
        self, conn: HttpConnection, req: Request, code: int, cors: list[tuple[str, str]], close: bool = False
    ) -> None:
        """Answer ``req`` with Engine.IO error ``code`` and tell the ``connection_error`` handlers."""
        respond_error(conn, req, code, cors, close=close)
        if self._error_handlers:
            err = RefusedRequest(code, ERROR_MESSAGES[code], req, {"address": conn.address})
            for handler in list(self._error_handlers):
                try:
                    handler(err)
                except Exception:
                    logger.exception("error in a connection_error handler")

    @property
    def sessions(self) -> dict[str, Session]:
        """Open sessions by id (read it, do not modify it)."""
        return self._sessions

    @property
    def connections(self) -> KeysView[HttpConnection]:
        """The open client connections, HTTP or WebSocket (a live set-like view)."""
        return self._connections.keys()

    async def listen(self, host: str = "127.0.0.1", port: int = 0, ssl: Any = None) -> None:
        """Bind and start serving in the running loop; returns once bound (see :attr:`port`)."""
        if self._aio_server is not None:
            raise RuntimeError("this server is already listening")
        loop = self._start()
        secure = ssl is not None
        listening = _bind_literal(host, port)
        if listening is not None:
            self._aio_server = await loop.create_server(
                lambda: HttpConnection(self, self.options, self._corker, loop, secure),
                sock=listening,
                ssl=ssl,
                backlog=1024,
            )
        else:
            self._aio_server = await loop.create_server(
                lambda: HttpConnection(self, self.options, self._corker, loop, secure),
                host,
                port,
                ssl=ssl,
                reuse_address=True,
                backlog=1024,
            )
        sockets = self._aio_server.sockets
        self.port = sockets[0].getsockname()[1] if sockets else port

    def start_external(self) -> None:
        """Serve through another driver (``hypersio.ASGIApp`` under an ASGI server) in the
        running loop: the sessions, heartbeats and output corking start without binding a port;
        the driver hands its requests to the ``RequestHandler`` methods. Stop with :meth:`close`."""
        if self._serving:
            raise RuntimeError("this server is already serving")
        self._start()

    def _start(self) -> asyncio.AbstractEventLoop:
        soft = raise_fd_limit()
        if self.max_connections is None and soft is not None:
            # Keep descriptors for what the server itself opens (Redis, logs, workers' sockets).
            self.max_connections = max(soft - 64, 16)
        loop = asyncio.get_running_loop()
        self._serving = True
        self._loop = loop
        self._corker = get_corker(loop)
        self._heartbeats = Heartbeats(loop, self._sessions)
        return loop

    async def serve_handoff(self, channel: _socket.socket, sid_tag: str) -> None:
        """Serve connections that another process accepted and passes over ``channel``.

        This is how a worker of ``serve --workers N`` serves: the primary accepts every TCP
        connection, reads its first request head, and sends the head's bytes with the socket
        (SCM_RIGHTS) over a ``SOCK_SEQPACKET`` ``channel``; the worker carries on as if it had
        read them itself. Session ids start with ``sid_tag`` so the primary can send each later
        connection of a session to its worker, and each HTTP connection serves one request.
        """
        if self._aio_server is not None or self._handoff is not None:
            raise RuntimeError("this server is already serving")
        loop = self._start()
        self.options.sid_tag = sid_tag
        self.options.one_request_per_connection = True
        channel.setblocking(False)
        self._handoff = channel
        loop.add_reader(channel.fileno(), self._take_handoffs)

    def _take_handoffs(self) -> None:
        channel = self._handoff
        if channel is None:
            return
        while True:
            try:
                head, fds, _flags, _addr = _socket.recv_fds(channel, 65536, 8)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                logger.warning("the worker's connection channel failed: %s", exc)
                self._stop_handoffs()
                return
            if not fds and not head:
                self._stop_handoffs()  # the primary is gone
                return
            for fd in fds:
                sock = _socket.socket(fileno=fd)
                task = self._loop.create_task(self._adopt(sock, head))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _adopt(self, sock: _socket.socket, head: bytes) -> None:
        loop = self._loop
        try:
            # As on connections this process accepts itself: small frames go out at once.
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
        try:
            _, conn = await loop.connect_accepted_socket(
                lambda: HttpConnection(self, self.options, self._corker, loop, False), sock
            )
        except OSError:
            sock.close()  # the client left while the connection was handed over
            return
        if head:
            conn.data_received(head)

    def _stop_handoffs(self) -> None:
        channel, self._handoff = self._handoff, None
        if channel is not None:
            self._loop.remove_reader(channel.fileno())
            channel.close()

    def run(self, host: str = "127.0.0.1", port: int = 3000) -> None:
        """Serve on uvloop until SIGINT/SIGTERM, then close gracefully (blocking)."""

        async def main() -> None:
            """Listen, wait for a stop signal, close gracefully."""
            await self.listen(host, port)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError):  # pragma: no cover - not on Windows
                    pass
            await stop.wait()
            await self.close()

        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency where it exists
            asyncio.run(main())
        else:
            uvloop.run(main())

    async def close(self) -> None:
        """Stop accepting, close every session ("server shutting down"), close the connections."""
        aio_server = self._aio_server
        if not self._serving:
            return
        self._serving = False
        if aio_server is not None:
            aio_server.close()
        self._stop_handoffs()
        for session in list(self._sessions.values()):
            session.close("server shutting down", None)
        self._sessions.clear()
        self._heartbeats.close()
        for conn in list(self._connections):
            conn.close_after_flush()
        self._corker.flush()
        loop = self._loop
        deadline = loop.time() + 1.0
        while self._connections and loop.time() < deadline:
            await asyncio.sleep(0.01)
        for conn in list(self._connections):
            conn.abort()
        if aio_server is not None:
            await aio_server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        self._aio_server = None

    # ---- RequestHandler: what the HTTP connections report -----------------------------------
    def connection_opened(self, conn: HttpConnection) -> None:
        """A client connected (``RequestHandler``); past ``max_connections`` it is refused with
        503 at once, so the descriptors left keep serving the connected clients."""
        limit = self.max_connections
        if limit is not None and len(self._connections) >= limit:
            self._over_limit += 1
            self._refusals(
                "max_connections",
                "at max_connections (%d): refusing new connections with 503 (%d refused so far)",
                limit,
                self._over_limit,
            )
            conn.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close_after_flush()
            return
        self._connections[conn] = None

    def connection_closed(self, conn: HttpConnection) -> None:
        """A client connection is gone (``RequestHandler``)."""
        self._connections.pop(conn, None)

    def handle_request(self, conn: HttpConnection, req: Request) -> None:
        """Route a complete HTTP request (``RequestHandler``): a poll or POST of a session, a
        long-polling handshake, a CORS preflight, or an error."""
        options = self.options
        if not path_matches(options, req.path):
            route = self.routes.get(req.path)
            if route is None:
                conn.respond(404, [("Content-Type", "text/plain")], b"Not Found")
            else:
                status, headers, body = route(req)
                conn.respond(status, headers, b"" if req.method == "HEAD" else body)
            return
        cors = cors_headers(options, req.headers)
        if req.method == "OPTIONS" and options.cors_allowed_origins is not None:
            conn.respond(204, preflight_headers(cors, req.headers))
            return
        query = req.query
        transport = query.get("transport")
        if transport not in options.transports:
            self._refuse(conn, req, UNKNOWN_TRANSPORT, cors)
            return
        sid = query.get("sid")
        if sid is not None:
            session = self._sessions.get(sid)
            if session is None:
                self._refuse(conn, req, UNKNOWN_SID, cors)
            elif transport != "polling" or session.transport != "polling":
                self._refuse(conn, req, BAD_REQUEST, cors)
            else:
                session.carrier.on_request(conn, req, cors)
            return
        code = handshake_error(options, req.method, query)
        if code is not None:
            self._refuse(conn, req, code, cors)
        else:
            self._check_allowed(conn, req, cors, self._open_polling)

    def handle_upgrade(self, conn: HttpConnection, req: Request) -> None:
        """Route a WebSocket upgrade request (``RequestHandler``): a new WebSocket session, the
        probe of a polling session's upgrade, or a refusal."""
        if not path_matches(self.options, req.path):
            conn.fail(404, f"upgrade request for {req.path}")
            return
        version = req.headers.get("sec-websocket-version")
        if version is not None and version != "13":
            # RFC 6455 4.4: name the version this server speaks, so the client can retry with it.
            conn.write(
                b"HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n"
            )
            conn.close_after_flush()
            return
        problem = check_handshake(req)
        if problem is not None:
            conn.fail(400, f"bad WebSocket handshake: {problem}")
            return
        query = req.query
        code = upgrade_error(self.options, query)
        if code is not None:
            self._refuse(conn, req, code, [], close=True)
            return
        sid = query.get("sid")
        if sid is None:
            self._check_allowed(conn, req, [], self._open_websocket)
            return
        session = self._sessions.get(sid)
        if session is None:
            self._refuse(conn, req, UNKNOWN_SID, [], close=True)
            return
        if not self.options.allow_upgrades:
            self._refuse(conn, req, BAD_REQUEST, [], close=True)
            return
        ws = accept_websocket(conn, req, self.options)
        if session.closed or session.transport != "polling" or session.upgrading is not None:
            # Already upgraded or upgrading: node accepts this WebSocket and closes it at once.
            logger.warning("%s: session %s: second WebSocket refused", conn.peer, sid)
            conn.switch_to(ws)
            ws.close(False, False)
            return
        session.begin_upgrade(ws)
        ws.start_upgrade_timer()
        conn.switch_to(ws)

    def post_started(self, conn: HttpConnection, req: Request) -> None:
        """A POST's head is parsed, before its body: the moment it starts to overlap (``RequestHandler``)."""
        tx = self._polling_of(req)
        if tx is not None:
            tx.post_started(conn, req)

    def post_aborted(self, conn: HttpConnection, req: Request) -> None:
        """The connection went away in the middle of a POST body (``RequestHandler``)."""
        tx = self._polling_of(req)
        if tx is not None:
            tx.post_aborted(conn)

    def body_too_large(self, conn: HttpConnection, req: Request) -> None:
        """A body passed ``max_http_buffer_size``: its session is closed (``RequestHandler``)."""
        if not path_matches(self.options, req.path):
            return
        session = self._sessions.get(req.query.get("sid", ""))
        if session is not None and not session.closed:
            session.protocol_error("transport error", "payload too large")

    def _polling_of(self, req: Request) -> Polling | None:
        """The polling transport a request with a sid is for, if that session polls."""
        if not path_matches(self.options, req.path) or req.query.get("transport") != "polling":
            return None
        session = self._sessions.get(req.query.get("sid", ""))
        if session is None or session.closed or session.transport != "polling":
            return None
        return session.carrier  # type: ignore[no-any-return]

    # ---- handshakes -------------------------------------------------------------------------
    def _check_allowed(self, conn: HttpConnection, req: Request, cors: list[tuple[str, str]], then: Opener) -> None:
        if not origin_allowed(self.options, req.headers):
            self._refused_origins += 1
            self._refusals(
                "origin",
                "%s: refused a handshake from origin %r (cors_allowed_origins does not allow it; %d refused)",
                conn.peer,
                req.headers.get("origin"),
                self._refused_origins,
            )
            self._refuse(conn, req, BAD_REQUEST, cors, close=req.upgrade)
            return
        limiter = self.handshake_limiter
        if limiter is not None and not limiter.allow(conn.address, req.headers):
            self._refusals(
                "handshake rate",
                "%s: too many handshakes from one client; refusing with 429 (%d refused so far)",
                conn.peer,
                limiter.refused,
            )
            conn.respond(
                429, [("Retry-After", "1"), ("Content-Type", "text/plain"), *cors], b"Too Many Requests", close=True
            )
            return
        check = self.allow_request
        if check is None:
            then(conn, req, cors)
            return
        try:
            verdict = check(req)
        except Exception:
            logger.exception("%s: allow_request raised", conn.peer)
            verdict = False
        if inspect.isawaitable(verdict):
            task = asyncio.ensure_future(self._await_allowed(verdict, conn, req, cors, then))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif verdict:
            then(conn, req, cors)
        else:
            self._refuse(conn, req, FORBIDDEN, cors, close=req.upgrade)

    async def _await_allowed(
        self, verdict: Awaitable[bool], conn: HttpConnection, req: Request, cors: list[tuple[str, str]], then: Opener
    ) -> None:
        try:
            allowed = bool(await verdict)
        except Exception:
            logger.exception("%s: allow_request raised", conn.peer)
            allowed = False
        if conn.closed or not self._serving:
            return
        if allowed:
            then(conn, req, cors)
        else:
            self._refuse(conn, req, FORBIDDEN, cors, close=req.upgrade)

    def _new_sid(self) -> str:
        tag = self.options.sid_tag
        while True:
            sid = tag + secrets.token_urlsafe(15)[len(tag) :] if tag else secrets.token_urlsafe(15)
            if sid not in self._sessions:
                return sid

    def _new_session(self, sid: str, req: Request, tx: Polling | WebSocketTransport) -> Session:
        req.compact()  # kept for the session's life: share its strings with the other sessions'
        session = Session(sid, req, tx, self.options, self._heartbeats, self._on_session_closed)
        self._sessions[sid] = session
        return session

    def _open_polling(self, conn: HttpConnection, req: Request, cors: list[tuple[str, str]]) -> None:
        sid = self._new_sid()
        session = self._new_session(sid, req, Polling(self.options, self._corker, self._loop))
        body = open_packet(self.options, sid, self._upgrades_json).encode()
        headers = _GET_HEADERS + cors if cors else _GET_HEADERS
        hooks = self.options.response_hooks
        if hooks is not None:
            headers = hooks.apply(headers, req, sid, False)  # respond() runs the every-response ones
        conn.respond(200, headers, body)
        session.start_heartbeat()
        self._emit_connection(session)

    def _open_websocket(self, conn: HttpConnection, req: Request, cors: list[tuple[str, str]]) -> None:
        sid = self._new_sid()
        ws = accept_websocket(conn, req, self.options, sid)
        session = self._new_session(sid, req, ws)
        ws.send_control(open_packet(self.options, sid, "[]"))
        session.start_heartbeat()
        self._emit_connection(session)
        # Bytes the client sent right after its handshake are handled once the handlers are set.
        conn.switch_to(ws)

    def _emit_connection(self, session: Session) -> None:
        for handler in self._connection_handlers:
            session.run_handler(handler, session)

    def _forget(self, session: Session) -> None:
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
