"""The Engine.IO v4 server: routing, handshakes, errors, CORS, upgrades, lifecycle.

Requests arrive from :class:`~hypersio.engine.server.http.HttpConnection`; this module decides what
they mean (handshake, poll, post, WebSocket open or upgrade, error) and creates the sessions.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import json
import secrets
import signal
import socket as _socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from hypersio.engine.outlet import DEFAULT_HARD_LIMIT, DEFAULT_HIGH_WATER, Corker, get_corker, logger
from hypersio.engine.server.heartbeat import Heartbeats
from hypersio.engine.server.http import HttpConnection, Request
from hypersio.engine.server.polling import Polling
from hypersio.engine.server.session import Session
from hypersio.engine.server.websocket import WebSocketTransport, check_handshake, handshake_response

ERROR_MESSAGES = {
    0: "Transport unknown",
    1: "Session ID unknown",
    2: "Bad handshake method",
    3: "Bad request",
    4: "Forbidden",
    5: "Unsupported protocol version",
}
TRANSPORTS = ("polling", "websocket")
_GET_HEADERS = [("Content-Type", "text/plain; charset=UTF-8"), ("Cache-Control", "no-store")]
_JSON_HEADERS = [("Content-Type", "application/json")]

AllowRequest = Callable[[Request], bool | Awaitable[bool]]


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


class Server:
    """An Engine.IO v4 server on uvloop, speaking long-polling and WebSocket.

    Register ``on("connection", handler)`` to receive each new :class:`Session` (the handler is
    called right after the handshake was queued), then ``await listen(host, port)`` inside a
    running loop, or ``run(host, port)`` to block. ``hypersio.Server`` (Socket.IO) is built on it.

    ``cors_allowed_origins``: None sends no CORS headers (same-origin pages only), ``"*"``
    reflects any request's Origin, a list reflects only those origins. ``allow_request(request)``
    may refuse a handshake by returning False (or an awaitable of False): the client gets 403.
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
    ) -> None:
        if not path.startswith("/"):
            raise ValueError("path must start with '/'")
        self.path = path if path.endswith("/") else path + "/"
        self.ping_interval = float(ping_interval)
        self.ping_timeout = float(ping_timeout)
        self.max_http_buffer_size = int(max_http_buffer_size)
        if self.ping_interval <= 0 or self.ping_timeout <= 0 or self.max_http_buffer_size <= 0:
            raise ValueError("ping_interval, ping_timeout and max_http_buffer_size must be positive")
        self.transports = tuple(transports)
        for name in self.transports:
            if name not in TRANSPORTS:
                raise ValueError(f"unknown transport {name!r} (expected 'polling' and/or 'websocket')")
        if not self.transports:
            raise ValueError("at least one transport is needed")
        if cors_allowed_origins is None or cors_allowed_origins == "*":
            self.cors_allowed_origins: str | frozenset[str] | None = cors_allowed_origins
        elif isinstance(cors_allowed_origins, str):
            self.cors_allowed_origins = frozenset((cors_allowed_origins,))
        else:
            origins = frozenset(cors_allowed_origins)
            self.cors_allowed_origins = "*" if "*" in origins else origins
        self.allow_request = allow_request
        self.upgrade_timeout = float(upgrade_timeout)
        self.http_idle_timeout = float(http_idle_timeout)
        self.write_buffer_high_water = int(write_buffer_high_water)
        self.write_buffer_limit = max(int(write_buffer_limit), self.write_buffer_high_water)
        self.port: int | None = None
        self._connection_handlers: list[Callable[[Session], Any]] = []
        self._sessions: dict[str, Session] = {}
        self._connections: set[HttpConnection] = set()
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # set by listen()
        self._corker: Corker = None  # type: ignore[assignment]
        self._heartbeats: Heartbeats = None  # type: ignore[assignment]  # set by listen()
        self._aio_server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._upgrades_json = json.dumps(["websocket"] if "websocket" in self.transports else [])

    # ---- public API -------------------------------------------------------------------------
    def on(self, event: str, handler: Callable[[Session], Any] | None = None) -> Any:
        """Register a ``connection`` handler, called with each new :class:`Session`.

        Usable as a decorator when ``handler`` is omitted.
        """
        if handler is None:
            return lambda h: self.on(event, h)
        if event != "connection":
            raise ValueError(f"unknown Engine.IO server event {event!r} (expected 'connection')")
        self._connection_handlers.append(handler)
        return handler

    @property
    def sessions(self) -> dict[str, Session]:
        """Open sessions by id (read it, do not modify it)."""
        return self._sessions

    async def listen(self, host: str = "127.0.0.1", port: int = 0, ssl: Any = None) -> None:
        """Bind and start serving in the running loop; returns once bound (see :attr:`port`)."""
        if self._aio_server is not None:
            raise RuntimeError("this server is already listening")
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._corker = get_corker(loop)
        self._heartbeats = Heartbeats(loop, self._sessions)
        secure = ssl is not None
        listening = _bind_literal(host, port)
        if listening is not None:
            self._aio_server = await loop.create_server(
                lambda: HttpConnection(self, secure), sock=listening, ssl=ssl, backlog=1024
            )
        else:
            self._aio_server = await loop.create_server(
                lambda: HttpConnection(self, secure), host, port, ssl=ssl, reuse_address=True, backlog=1024
            )
        sockets = self._aio_server.sockets
        self.port = sockets[0].getsockname()[1] if sockets else port

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
        if aio_server is None:
            return
        aio_server.close()
        for session in list(self._sessions.values()):
            session._close("server shutting down", None)
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
        await aio_server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        self._aio_server = None

    # ---- routing ----------------------------------------------------------------------------
    def _path_matches(self, req: Request) -> bool:
        path = req.path
        return path == self.path or path == self.path[:-1]

    def _handle_request(self, conn: HttpConnection, req: Request) -> None:
        if not self._path_matches(req):
            conn.respond(404, [("Content-Type", "text/plain")], b"Not Found")
            return
        cors = self._cors_headers(req)
        if req.method == "OPTIONS" and self.cors_allowed_origins is not None:
            self._preflight(conn, req, cors)
            return
        query = req.query
        transport = query.get("transport")
        if transport not in self.transports:
            self._error(conn, 0, cors)
            return
        sid = query.get("sid")
        if sid is not None:
            session = self._sessions.get(sid)
            if session is None:
                self._error(conn, 1, cors)
            elif transport != "polling" or session.transport != "polling":
                self._error(conn, 3, cors)
            else:
                session.carrier.on_request(conn, req, cors)
            return
        if req.method != "GET":
            self._error(conn, 2, cors)
        elif query.get("EIO") != "4":
            self._error(conn, 5, cors)
        elif transport != "polling":
            self._error(conn, 3, cors)  # a WebSocket handshake without the Upgrade headers
        else:
            self._check_allowed(conn, req, cors, self._open_polling)

    def _handle_upgrade(self, conn: HttpConnection, req: Request) -> None:
        if not self._path_matches(req):
            conn.fail(404, f"upgrade request for {req.path}")
            return
        problem = check_handshake(req)
        if problem is not None:
            conn.fail(400, f"bad WebSocket handshake: {problem}")
            return
        query = req.query
        if query.get("transport") != "websocket" or "websocket" not in self.transports:
            self._error(conn, 0 if query.get("transport") not in self.transports else 3, [], close=True)
            return
        sid = query.get("sid")
        if sid is None:
            if query.get("EIO") != "4":
                self._error(conn, 5, [], close=True)
            else:
                self._check_allowed(conn, req, [], self._open_websocket)
            return
        session = self._sessions.get(sid)
        if session is None:
            self._error(conn, 1, [], close=True)
            return
        conn.write(handshake_response(req))
        ws = WebSocketTransport(conn, self)
        if session.closed or session.transport != "polling" or session._upgrading is not None:
            # Already upgraded or upgrading: node accepts this WebSocket and closes it at once.
            logger.warning("%s: session %s: second WebSocket refused", conn.peer, sid)
            conn.switch_to(ws)
            ws.close(False, False)
            return
        session._begin_upgrade(ws)
        ws.start_upgrade_timer()
        conn.switch_to(ws)

    def _error(self, conn: HttpConnection, code: int, cors: list[tuple[str, str]], close: bool = False) -> None:
        message = ERROR_MESSAGES[code]
        req = conn._current
        logger.warning("%s: %s (%s)", conn.peer, message, req.url if req is not None else "?")
        body = json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()
        conn.respond(403 if code == 4 else 400, _JSON_HEADERS + cors, body, close=close)

    def _polling_of(self, req: Request) -> Polling | None:
        """The polling transport a request with a sid is for, if that session polls."""
        if not self._path_matches(req) or req.query.get("transport") != "polling":
            return None
        session = self._sessions.get(req.query.get("sid", ""))
        if session is None or session.closed or session.transport != "polling":
            return None
        return session.carrier  # type: ignore[no-any-return]

    def _on_post_head(self, conn: HttpConnection, req: Request) -> None:
        # Called when a POST's head is parsed, before its body: the moment it starts to overlap.
        tx = self._polling_of(req)
        if tx is not None:
            tx.post_started(conn, req)

    def _on_post_aborted(self, conn: HttpConnection, req: Request) -> None:
        tx = self._polling_of(req)
        if tx is not None:
            tx.post_aborted(conn)

    def _on_body_too_large(self, conn: HttpConnection, req: Request) -> None:
        if not self._path_matches(req):
            return
        session = self._sessions.get(req.query.get("sid", ""))
        if session is not None and not session.closed:
            session._protocol_error("transport error", "payload too large")

    # ---- CORS -------------------------------------------------------------------------------
    def _cors_headers(self, req: Request) -> list[tuple[str, str]]:
        allowed = self.cors_allowed_origins
        if allowed is None:
            return []
        origin = req.headers.get("origin")
        if not origin or (allowed != "*" and origin not in allowed):
            return []
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Credentials", "true"),
            ("Vary", "Origin"),
        ]

    def _preflight(self, conn: HttpConnection, req: Request, cors: list[tuple[str, str]]) -> None:
        headers = list(cors)
        if cors:
            headers.append(("Access-Control-Allow-Methods", "GET, POST, OPTIONS"))
            requested = req.headers.get("access-control-request-headers")
            headers.append(("Access-Control-Allow-Headers", requested or "Content-Type"))
        conn.respond(204, headers)

    # ---- handshakes -------------------------------------------------------------------------
    def _check_allowed(
        self,
        conn: HttpConnection,
        req: Request,
        cors: list[tuple[str, str]],
        then: Callable[[HttpConnection, Request, list[tuple[str, str]]], None],
    ) -> None:
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
            self._error(conn, 4, cors, close=req.upgrade)

    async def _await_allowed(
        self,
        verdict: Awaitable[bool],
        conn: HttpConnection,
        req: Request,
        cors: list[tuple[str, str]],
        then: Callable[[HttpConnection, Request, list[tuple[str, str]]], None],
    ) -> None:
        try:
            allowed = bool(await verdict)
        except Exception:
            logger.exception("%s: allow_request raised", conn.peer)
            allowed = False
        if conn._closed or self._aio_server is None:
            return
        if allowed:
            then(conn, req, cors)
        else:
            self._error(conn, 4, cors, close=req.upgrade)

    def _new_sid(self) -> str:
        while True:
            sid = secrets.token_urlsafe(15)
            if sid not in self._sessions:
                return sid

    def _open_packet(self, sid: str, upgrades: str) -> str:
        return (
            f'0{{"sid":"{sid}","upgrades":{upgrades},"pingInterval":{round(self.ping_interval * 1000)},'
            f'"pingTimeout":{round(self.ping_timeout * 1000)},"maxPayload":{self.max_http_buffer_size}}}'
        )

    def _open_polling(self, conn: HttpConnection, req: Request, cors: list[tuple[str, str]]) -> None:
        sid = self._new_sid()
        session = Session(self, sid, req, Polling(self))
        self._sessions[sid] = session
        body = self._open_packet(sid, self._upgrades_json).encode()
        conn.respond(200, _GET_HEADERS + cors if cors else _GET_HEADERS, body)
        session._start_heartbeat()
        self._emit_connection(session)

    def _open_websocket(self, conn: HttpConnection, req: Request, cors: list[tuple[str, str]]) -> None:
        conn.write(handshake_response(req))
        sid = self._new_sid()
        ws = WebSocketTransport(conn, self)
        session = Session(self, sid, req, ws)
        self._sessions[sid] = session
        ws.send_control(self._open_packet(sid, "[]"))
        session._start_heartbeat()
        self._emit_connection(session)
        # Bytes the client sent right after its handshake are handled once the handlers are set.
        conn.switch_to(ws)

    def _emit_connection(self, session: Session) -> None:
        for handler in self._connection_handlers:
            session._call(handler, session)

    def _forget(self, session: Session) -> None:
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
