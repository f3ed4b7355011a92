"""HTTP/1.1 connections: an ``asyncio.Protocol`` parsing requests with httptools.

One :class:`HttpConnection` per TCP connection. It parses requests (keep-alive, pipelining,
Content-Length and chunked bodies), enforces the header and body limits, hands each complete
request in order to its :class:`RequestHandler` (the Engine.IO server), and writes responses
through the corked output buffer. A WebSocket upgrade turns the same connection into a frame
stream (an :class:`Upgraded` object takes the bytes).

This module sits below everything it serves: what it needs from them is declared here as
protocols (:class:`RequestHandler`, :class:`Holder`, :class:`Upgraded`), as httptools declares
the callbacks its parser calls.

Responses to pipelined requests must leave in request order, and a long-polling GET may stay
unanswered for a while: so requests are handled one at a time, and the ones behind a pending
answer wait in a short queue (reading pauses when it is full, so it stays bounded).
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, Protocol
from urllib.parse import parse_qsl

import httptools

from hypersio.engine.budget import INPUT_COUNTED_FROM
from hypersio.engine.options import EngineOptions
from hypersio.engine.outlet import CorkedWriter, Corker, logger

MAX_HEADER_BYTES = 16 * 1024  # URL plus all header lines: node's default limit
MAX_HEADERS = 100
MAX_PIPELINE = 16  # requests parsed ahead of the one being answered; reading pauses past this
MAX_QUEUED = 256  # ... and a client that pipelines more than this in one go is refused

# Stand-ins for the per-request containers of an upgraded connection; never mutated.
_NO_REQUESTS: list[Request] = []
_NO_BODY: list[bytes] = []
_NO_HEADERS: dict[str, str] = {}

_REASONS = {
    101: "Switching Protocols",
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}


class Request:
    """One parsed HTTP request, as handlers and ``Session.request`` see it.

    ``headers`` has lowercased names (repeated headers joined with ``", "``), ``query`` the
    decoded query string (the last value wins), ``address`` the peer's IP, ``url`` the raw
    request target, ``secure`` whether it came over TLS, ``time`` its arrival (epoch seconds).
    """

    __slots__ = (
        "method",
        "url",
        "path",
        "query",
        "headers",
        "body",
        "address",
        "port",
        "secure",
        "time",
        "keep_alive",
        "upgrade",
        "http_version",
        "overlap",
    )

    def __init__(self, method: str, url: str, headers: dict[str, str], address: str, port: int, secure: bool) -> None:
        self.method = method
        self.url = url
        path, _, query_string = url.partition("?")
        self.path = path
        self.query: dict[str, str] = dict(parse_qsl(query_string, keep_blank_values=True)) if query_string else {}
        self.headers = headers
        self.body = b""
        self.address = address
        self.port = port
        self.secure = secure
        self.time = time.time()
        self.keep_alive = True
        self.upgrade = False
        self.http_version = "1.1"
        self.overlap = False  # a POST whose body arrived while another POST of its session did

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.url} from {self.address}:{self.port}>"

    def compact(self) -> None:
        """Share this request's strings with every other request kept as long (interned).

        Called once on a session's handshake request, which lives as long as the session: the
        header names, most header values (``websocket``, ``Upgrade``, ``13``, the host, a
        browser's user agent), the query, the method and the path are the same for thousands of
        clients, and one copy each per connection was about 700 bytes of an idle connection.
        Interned strings are freed with their last user, so a unique value costs one slot in
        the interpreter's table, not a leak. The dicts are rebuilt: whoever reads them sees equal
        contents.
        """
        intern = sys.intern
        self.headers = {intern(k): intern(v) for k, v in self.headers.items()}
        if self.query:
            self.query = {intern(k): intern(v) for k, v in self.query.items()}
        self.method = intern(self.method)
        self.url = intern(self.url)
        self.path = intern(self.path)
        self.http_version = intern(self.http_version)
        self.address = intern(self.address)


def build_response(
    status: int, headers: list[tuple[str, str]], body: bytes = b"", close: bool = False, keep_alive_10: bool = False
) -> bytes:
    """Serialize one HTTP/1.1 response (status line, headers, Content-Length, body).

    ``keep_alive_10``: the request was HTTP/1.0 with ``Connection: keep-alive``; it must be
    confirmed, or the client waits for the connection to close.
    """
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"]
    for name, value in headers:
        lines.append(f"{name}: {value}\r\n")
    if status != 101 and status != 204:  # RFC 9110: neither may carry a Content-Length
        lines.append(f"Content-Length: {len(body)}\r\n")
    if close:
        lines.append("Connection: close\r\n")
    elif keep_alive_10:
        lines.append("Connection: keep-alive\r\n")
    lines.append("\r\n")
    head = "".join(lines).encode("latin-1")
    return head + body if body else head


class RequestHandler(Protocol):
    """What an :class:`HttpConnection` hands its requests to (``engine.server.server.Server``).

    Every call gets the connection and, but for the first two, the request concerned. A request
    is answered with ``conn.respond`` or ``conn.fail``, now or later (``conn.hold`` for a
    long-poll); the connection handles the next pipelined request only after that.
    """

    def connection_opened(self, conn: HttpConnection) -> None:
        """A client connected."""

    def connection_closed(self, conn: HttpConnection) -> None:
        """The connection is gone (after everything else it reports)."""

    def handle_request(self, conn: HttpConnection, req: Request) -> None:
        """A complete request (body included) is the connection's current one: answer it."""

    def handle_upgrade(self, conn: HttpConnection, req: Request) -> None:
        """An upgrade request: write the ``101`` and call ``conn.switch_to``, or ``conn.fail``."""

    def post_started(self, conn: HttpConnection, req: Request) -> None:
        """A POST's head is parsed; its body follows (the moment two POSTs start to overlap)."""

    def post_aborted(self, conn: HttpConnection, req: Request) -> None:
        """The connection went away in the middle of the body of POST ``req``."""

    def body_too_large(self, conn: HttpConnection, req: Request) -> None:
        """``req``'s body passed ``max_http_buffer_size``; the connection answers 413 and closes."""


class Holder(Protocol):
    """Whoever keeps a connection's current request unanswered (a long-poll, see :meth:`HttpConnection.hold`)."""

    def held_connection_lost(self, conn: HttpConnection) -> None:
        """The connection went away before the held request was answered."""


class Upgraded(Protocol):
    """The stream that takes a connection over after a WebSocket upgrade (:meth:`HttpConnection.switch_to`)."""

    def feed(self, data: bytes) -> None:
        """Bytes received on the connection."""

    def receive_messages(self, messages: list[tuple[int, object]]) -> None:
        """Complete messages a driver received already parsed (ASGI), ``(opcode, payload)`` pairs."""

    def connection_lost(self) -> None:
        """The TCP connection is gone."""

    def write_overflow(self, size: int) -> None:
        """``size`` bytes wait to be sent, past the hard limit: the peer stopped reading."""

    @property
    def unfinished_input(self) -> int:
        """Bytes held for incoming messages not complete yet (the memory budget's input)."""
        ...

    def budget_close(self, kind: str) -> None:
        """The memory budget drops this connection (``kind``: "output" or "input")."""


class _ParseLimit(Exception):
    """Raised inside a parser callback to stop parsing with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class HttpConnection(CorkedWriter, asyncio.Protocol):
    """One client TCP connection: HTTP/1.1 requests, then possibly a WebSocket.

    Created by the server's ``create_server`` factory; users never build one. ``closed`` turns
    true when the TCP connection is gone; ``loop`` is the event loop it runs on.
    """

    # slots: an idle server holds one of these per client, so every byte counts
    __slots__ = (
        "handler",
        "options",
        "secure",
        "loop",
        "address",
        "port",
        "ws",
        "_parser",
        "_queue",
        "_current",
        "_held_by",
        "_running",
        "_reading_paused",
        "_idle_handle",
        "_upgrade_buffer",
        "closed",
        "_url",
        "_headers",
        "_header_bytes",
        "_in_head",
        "_head_bytes",
        "_body",
        "_body_size",
        "_req",
        "_upgrade_req",
    )

    def __init__(
        self,
        handler: RequestHandler,
        options: EngineOptions,
        corker: Corker,
        loop: asyncio.AbstractEventLoop,
        secure: bool = False,
    ) -> None:
        self.handler = handler
        self.options = options
        self._init_writer(corker, options.write_buffer_high_water, options.write_buffer_limit)
        self.budget = options.budget
        self.secure = secure
        self.loop = loop
        self.address = ""
        self.port = 0
        self.ws: Upgraded | None = None  # the WebSocket transport once upgraded; it gets every byte
        # httptools is untyped; None once the connection is a WebSocket (nothing parses HTTP then)
        self._parser: Any = httptools.HttpRequestParser(self)
        self._queue: list[Request] = []  # short (MAX_QUEUED): a list is smaller than a deque
        self._current: Request | None = None  # the request being answered
        self._held_by: Holder | None = None  # polling transport holding _current (long-poll GET)
        self._running = False
        self._reading_paused = False
        self._idle_handle: asyncio.TimerHandle | None = None
        self._upgrade_buffer: list[bytes] | None = None  # bytes after an upgrade, before the 101
        self.closed = False
        # request being parsed
        self._url = b""
        self._headers: dict[str, str] = {}
        self._header_bytes = 0
        self._in_head = True  # between requests or inside a request's head
        self._head_bytes = 0  # bytes received since the last request ended
        self._body: list[bytes] = []
        self._body_size = 0
        self._req: Request | None = None
        self._upgrade_req: Request | None = None
        #: Bytes read from the socket (HTTP and WebSocket), for the metrics (``EngineStats``).
        self.bytes_received = 0

    def __repr__(self) -> str:
        return f"<HttpConnection {self.address}:{self.port}>"

    @property
    def peer(self) -> str:
        """``host:port`` of the client, for log lines."""
        return f"{self.address}:{self.port}"

    # ---- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """asyncio: a client connected; note its address and start the idle timer."""
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            # Interned: the kept handshake request interns its copy, and clients behind one
            # address (a proxy, a load balancer) then share one string (issue 14).
            self.address, self.port = sys.intern(str(peer[0])), int(peer[1])
        # The transport pauses us past high_water; we close past hard_limit ourselves.
        transport.set_write_buffer_limits(high=self.high_water)  # type: ignore[attr-defined]
        self.handler.connection_opened(self)
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        """asyncio: the connection is gone; tell the long-poll or WebSocket that used it."""
        self.closed = True
        self.write_closed = True
        self._cancel_idle()
        req, self._req = self._req, None
        if req is not None and req.method == "POST":
            self.handler.post_aborted(self, req)
        holder, self._held_by = self._held_by, None
        if holder is not None:
            holder.held_connection_lost(self)
        if self.ws is not None:
            self.ws.connection_lost()
        self.options.budget.release(self)
        self.options.stats.connection_closed(self)
        self.handler.connection_closed(self)

    def data_received(self, data: bytes) -> None:
        """asyncio: bytes arrived; parse HTTP, or hand them to the WebSocket after an upgrade."""
        if self.write_closed:
            return  # closing: whatever else the peer sends is moot (and must not log again)
        if self.ws is not None:
            self.ws.feed(data)  # counts its bytes itself (it is also the WebSocketReader's feed)
            return
        self.bytes_received += len(data)
        if self._upgrade_buffer is not None:
            self._upgrade_buffer.append(data)
            if sum(map(len, self._upgrade_buffer)) > self.options.max_http_buffer_size:
                self.fail(400, "too much data before the WebSocket handshake completed")
            return
        if self._in_head:
            self._head_bytes += len(data)
        try:
            self._parser.feed_data(data)
            if self._in_head and self._head_bytes > 2 * MAX_HEADER_BYTES:
                # httptools buffers a header line until its end: bound that buffer ourselves
                raise _ParseLimit(431, "request head too large")
        except _ParseLimit as exc:
            self._on_limit(exc)
        except httptools.HttpParserUpgrade as exc:
            offset = exc.args[0] if exc.args else len(data)
            self._on_upgrade(data[offset:])
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__ or exc.__cause__
            if isinstance(cause, _ParseLimit):
                self._on_limit(cause)
            else:
                logger.exception("%s: error while handling an HTTP request", self.peer)
                self.fail(500, "internal error")
        except httptools.HttpParserError as exc:
            self.fail(400, f"malformed HTTP request: {exc}")

    def _write_overflow(self, size: int) -> None:
        self.options.stats.slow_closes += 1
        if self.ws is not None:
            self.ws.write_overflow(size)
        else:
            logger.warning("%s: closing: %d bytes waiting to be sent (slow consumer)", self.peer, size)
            self.abort()

    # ---- the memory budget (engine/budget.py) ------------------------------------------------
    def budget_size(self, kind: str) -> int:
        """``BudgetHolder``: the bytes this connection counts now, exactly. Output: the backlog
        of a paused transport (one keeping up is not counted); input: the WebSocket parser's
        unfinished message or the POST body arriving, from ``INPUT_COUNTED_FROM`` bytes."""
        if self.closed or self.transport is None:
            return 0
        if kind == "output":
            return self.transport.get_write_buffer_size() if self._paused_writing else 0
        if self.ws is not None:
            pending = self.ws.unfinished_input
        else:
            pending = self._body_size if self._req is not None else 0
        return pending if pending >= INPUT_COUNTED_FROM else 0

    def budget_close(self, kind: str) -> None:
        """``BudgetHolder``: the total of ``kind`` over all connections is past its limit and this
        connection is among the largest: drop it (its session ends with "transport error")."""
        if self.ws is not None:
            self.ws.budget_close(kind)
        else:
            self.abort()

    # ---- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        """httptools: a new request starts."""
        self._url = b""
        self._headers = {}
        self._header_bytes = 0
        self._body = []
        self._body_size = 0
        self._req = None
        self._cancel_idle()
        self._arm_idle()  # a request must arrive whole within the idle timeout (slowloris)

    def on_url(self, url: bytes) -> None:
        """httptools: (a piece of) the request target."""
        self._url += url
        self._header_bytes += len(url)
        if self._header_bytes > MAX_HEADER_BYTES:
            raise _ParseLimit(431, "request line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        """httptools: one complete header line; names are stored lowercased."""
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > MAX_HEADER_BYTES or len(self._headers) >= MAX_HEADERS:
            raise _ParseLimit(431, "request headers too large")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        previous = self._headers.get(key)
        self._headers[key] = text if previous is None else f"{previous}, {text}"

    def on_headers_complete(self) -> None:
        """httptools: the head is complete; build the Request and check the announced body size."""
        parser = self._parser
        req = Request(
            parser.get_method().decode("ascii", "replace"),
            self._url.decode("latin-1"),
            self._headers,
            self.address,
            self.port,
            self.secure,
        )
        req.upgrade = parser.should_upgrade()
        req.http_version = parser.get_http_version()
        self._req = req
        self._in_head = False
        length = req.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.options.max_http_buffer_size:
            raise _ParseLimit(413, f"body of {length} bytes over max_http_buffer_size")
        if req.method == "POST" and not req.upgrade:
            self.handler.post_started(self, req)
        if req.headers.get("expect", "").lower() == "100-continue" and self._current is None and not self._queue:
            # curl and some HTTP libraries wait for this before sending a larger body
            self.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        """httptools: a piece of the body (de-chunked); refused past max_http_buffer_size."""
        self._body_size += len(body)
        if self._body_size > self.options.max_http_buffer_size:
            raise _ParseLimit(413, "body over max_http_buffer_size")
        self._body.append(body)
        if self._body_size >= INPUT_COUNTED_FROM:
            self.options.budget.set_input(self, self._body_size)

    def on_message_complete(self) -> None:
        """httptools: the request is complete; queue it (or keep it for the upgrade handler)."""
        req = self._req
        if req is None:  # pragma: no cover - httptools always calls on_headers_complete first
            return
        self._req = None
        self._url = b""
        self._headers = {}
        self._in_head = True
        self._head_bytes = 0
        req.keep_alive = self._parser.should_keep_alive()
        if self._body:
            req.body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            self._body = []
            if self._body_size >= INPUT_COUNTED_FROM:
                self.options.budget.set_input(self, 0)  # complete: no longer unfinished
        self._cancel_idle()
        if req.upgrade:
            self._upgrade_req = req  # answered from the HttpParserUpgrade handler
            return
        self._queue.append(req)
        if len(self._queue) > MAX_QUEUED:
            # pausing reading cannot stop what one received chunk already holds
            raise _ParseLimit(400, "too many pipelined requests")
        if len(self._queue) > MAX_PIPELINE and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()
        self._run_queue()

    # ---- request dispatch -------------------------------------------------------------------
    def _run_queue(self) -> None:
        if self._running:
            return
        self._running = True
        try:
            while self._current is None and self._queue and not self.write_closed:
                req = self._current = self._queue.pop(0)
                try:
                    self.handler.handle_request(self, req)
                except Exception:
                    logger.exception("%s: error while handling %s %s", self.peer, req.method, req.url)
                    if self._current is req:
                        self.respond(500, [], b"internal error", close=True)
        finally:
            self._running = False
        if self._reading_paused and len(self._queue) <= MAX_PIPELINE // 2 and not self.closed:
            self._reading_paused = False
            self.transport.resume_reading()
        if self._current is None and not self._queue and self.ws is None:
            self._arm_idle()

    def hold(self, holder: Holder) -> None:
        """Keep the current request unanswered (a long-poll GET); ``holder`` learns of a disconnect."""
        self._held_by = holder

    def respond(self, status: int, headers: list[tuple[str, str]], body: bytes = b"", close: bool = False) -> None:
        """Answer the current request, then go on with the next pipelined one."""
        req = self._current
        keep_alive_10 = False
        if req is not None:
            if not req.keep_alive or self.options.one_request_per_connection:
                close = True
            keep_alive_10 = req.http_version == "1.0"
        self._current = None
        self._held_by = None
        hooks = self.options.response_hooks
        if hooks is not None:
            headers = hooks.apply(headers, req, None, True)
        self.write(build_response(status, headers, body, close, keep_alive_10))
        if close:
            self.close_after_flush()
            return
        if not self._running:
            self._run_queue()

    def fail(self, status: int, reason: str) -> None:
        """Log a bad request, answer it with ``status`` and close this connection only."""
        logger.warning("%s: %s", self.peer, reason)
        self._queue.clear()
        holder, self._held_by = self._held_by, None
        if holder is not None:
            holder.held_connection_lost(self)
        self._current = None
        self.write(
            build_response(status, [("Content-Type", "text/plain")], reason.encode("utf-8", "replace"), close=True)
        )
        self.close_after_flush()

    def abort(self) -> None:
        """Drop the connection at once (bad or hopelessly slow peer)."""
        self.write_closed = True
        self._out = []
        self._out_size = 0
        if self.transport is not None:
            self.transport.abort()

    def _on_limit(self, exc: _ParseLimit) -> None:
        req = self._req
        if exc.status == 413 and req is not None:
            self.handler.body_too_large(self, req)
        self.fail(exc.status, str(exc))

    def _on_upgrade(self, tail: bytes) -> None:
        req, self._upgrade_req = self._upgrade_req, None
        if req is None:
            self.fail(400, "incomplete upgrade request")
            return
        if self._current is not None or self._queue:
            self.fail(400, "upgrade request pipelined behind another request")
            return
        self._upgrade_buffer = [tail] if tail else []
        self._current = req
        try:
            self.handler.handle_upgrade(self, req)
        except Exception:
            logger.exception("%s: error while handling a WebSocket upgrade", self.peer)
            self.fail(500, "internal error")

    def accept_upgrade(self, response: bytes) -> None:
        """Accept a WebSocket upgrade: write ``response`` (the ``101``; another driver, such as
        ASGI, sends its own accept instead)."""
        self.write(response)

    def switch_to(self, ws: Upgraded) -> None:
        """Hand the connection to the WebSocket ``ws`` (after the 101 was written)."""
        self._current = None
        self.ws = ws
        # The HTTP side is done for good: free the parser and the per-request containers (shared
        # empty ones stand in; nothing parses HTTP on this connection any more).
        self._parser = None
        self._queue = _NO_REQUESTS
        self._body = _NO_BODY
        self._headers = _NO_HEADERS
        self._cancel_idle()
        pending, self._upgrade_buffer = self._upgrade_buffer, None
        if pending:
            ws.feed(b"".join(pending))
        set_protocol = getattr(self.transport, "set_protocol", None)
        if set_protocol is not None and not self.closed:
            # Reads go to the WebSocket parser directly from now on (WebSocketReader);
            # data_received below keeps forwarding for transports that cannot switch.
            set_protocol(WebSocketReader(self, ws))

    # ---- idle timeout -----------------------------------------------------------------------
    def _arm_idle(self) -> None:
        if self._idle_handle is None and not self.closed:
            self._idle_handle = self.loop.call_later(self.options.http_idle_timeout, self._on_idle)

    def _cancel_idle(self) -> None:
        handle, self._idle_handle = self._idle_handle, None
        if handle is not None:
            handle.cancel()

    def _on_idle(self) -> None:
        self._idle_handle = None
        if self.ws is not None or self._current is not None:
            return
        if self._url or self._headers or self._req is not None:
            logger.warning("%s: request not completed within %.1fs", self.peer, self.options.http_idle_timeout)
        if self.transport is not None:
            self.transport.close()


class WebSocketReader:
    """The protocol object the event loop talks to once a connection carries a WebSocket.

    uvloop (and asyncio) look ``data_received`` up once, when the protocol is set; here it is the
    WebSocket transport's bound ``feed``, so received bytes reach the frame parser without an
    extra Python frame per read. Everything else stays the HTTP connection's business: those
    calls are rare (a close, flow control), so they are forwarded by one frame each instead of
    being bound methods held per connection (64 bytes each, on every idle connection).
    """

    __slots__ = ("data_received", "conn")

    def __init__(self, conn: HttpConnection, ws: Upgraded) -> None:
        self.data_received = ws.feed
        self.conn = conn

    def connection_lost(self, exc: Exception | None) -> None:
        """asyncio: the connection is gone (the HTTP connection tells the WebSocket)."""
        self.conn.connection_lost(exc)

    def eof_received(self) -> bool | None:
        """asyncio: the peer closed its side."""
        return self.conn.eof_received()

    def pause_writing(self) -> None:
        """asyncio: the write buffer passed its high-water mark."""
        self.conn.pause_writing()

    def resume_writing(self) -> None:
        """asyncio: the write buffer drained."""
        self.conn.resume_writing()
