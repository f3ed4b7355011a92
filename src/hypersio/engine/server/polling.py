"""Long-polling transport: a queue of encoded records answered to the pending GET.

Sends append ``"4…"``/``"b…"`` records to the session's queue; when a GET is waiting, the
session is marked in the corker and, at the end of the loop turn, every queued record goes out
joined by the record separator in ONE response, gzip- or deflate-compressed when it is large
enough and the client accepts it (``EngineOptions.http_compression``, as Node). POST bodies are
decoded into packets for the session and answered ``ok``.
"""

from __future__ import annotations

import asyncio

from hypersio.engine.message import PreparedMessage, polling_of
from hypersio.engine.options import EngineOptions
from hypersio.engine.outlet import Corker, logger
from hypersio.engine.server.compression import compress_body, preferred_encoding
from hypersio.engine.server.http import HttpConnection, Request
from hypersio.engine.server.protocols import TransportSession
from hypersio.engine.server.routing import BAD_REQUEST, respond_error
from hypersio.exceptions import ParseError
from hypersio.protocol.engineio import packets as eio_parser

_SEPARATOR = eio_parser.SEPARATOR
_decode_payload = eio_parser.decode_payload
# no-store: a proxy or browser cache must never answer a poll with an old response
_GET_HEADERS = [("Content-Type", "text/plain; charset=UTF-8"), ("Cache-Control", "no-store")]
# text/html rather than text/plain, as node does: some user agents offer to download text/plain
_POST_HEADERS = [("Content-Type", "text/html"), ("Cache-Control", "no-store")]


class Polling:
    """The long-polling side of one session (see the module docstring).

    ``session`` is set by the session this transport carries.
    """

    name = "polling"

    __slots__ = (
        "options",
        "session",
        "_corker",
        "_loop",
        "_queue",
        "_queue_size",
        "_get",
        "_get_headers",
        "_accept_encoding",
        "_compress",
        "_corked",
        "_release_asap",
        "_closing",
        "_discarded",
        "_overflowed",
        "_post_conn",
        "_counted",
    )

    def __init__(self, options: EngineOptions, corker: Corker, loop: asyncio.AbstractEventLoop) -> None:
        self.options = options
        self.session: TransportSession = None  # type: ignore[assignment]  # set by Session()
        self._corker = corker
        self._loop = loop
        self._queue: list[str] = []
        self._queue_size = 0
        self._get: HttpConnection | None = None  # connection whose GET waits for data
        self._get_headers: list[tuple[str, str]] = _GET_HEADERS
        self._accept_encoding: str | None = None  # the pending GET's Accept-Encoding
        self._compress = False  # a queued record may be compressed (Node: any packet with compress)
        self._corked = False
        self._release_asap = False  # during an upgrade: answer GETs at once, with a noop if need be
        self._closing = False  # session closed; the next GET receives the close packet
        self._discarded = False  # upgraded away: this object no longer carries the session
        self._overflowed = False  # the client does not poll and the queue hit the limit
        self._post_conn: HttpConnection | None = None  # connection whose POST body is arriving
        self._counted = False  # the queue is past the high water: the memory budget counts it

    def __repr__(self) -> str:
        session = self.session
        return f"<Polling {session.peer} {session.id}>" if session is not None else "<Polling>"

    # ---- sending ----------------------------------------------------------------------------
    def send_message(self, data: str | bytes, volatile: bool, compress: bool = True) -> None:
        """Queue one message (see :meth:`Session.send`); ``compress=False``: this message does
        not make its response compressed."""
        self._push(polling_of(data), volatile, compress)

    def send_prepared(self, msg: PreparedMessage, volatile: bool) -> None:
        """Queue a prepared message's polling record."""
        self._push(msg.polling, volatile, msg.compress)

    def send_control(self, record: str) -> None:
        """Queue an already-encoded control packet (``"2"``, ``"1"``...)."""
        self._push(record, False, True)

    def _push(self, record: str, volatile: bool, compress: bool) -> None:
        if self._overflowed:
            return
        if volatile and (self._get is None or self._queue_size > self.options.write_buffer_high_water):
            self.options.stats.volatile_dropped += 1
            return  # nobody is polling right now: a volatile message is dropped, as in node
        if compress:
            self._compress = True
        self._queue.append(record)
        self._queue_size += len(record)
        if self._queue_size > self.options.write_buffer_high_water:
            self._over_high_water()
            if self._overflowed:
                return
        if self._get is not None and not self._corked:
            self._corked = True
            self._corker.mark(self)

    def _over_high_water(self) -> None:
        # The client is not polling fast enough: the memory budget counts the queue from here,
        # and past the hard limit the session is closed.
        size = self._queue_size
        if size <= self.options.write_buffer_limit:
            self._counted = True
            self.options.budget.set_output(self, size)
            return
        self._drop_queue()
        session = self.session
        logger.warning(
            "%s: session %s: closing: %d bytes queued for a client that does not poll (slow consumer)",
            session.peer,
            session.id,
            size,
        )
        # Not closed here: the caller may be iterating over sessions (a broadcast), and the
        # close handlers would run in the middle of it. Nothing more is queued meanwhile.
        self._overflowed = True
        self.options.stats.slow_closes += 1
        self._loop.call_soon(session.close, "transport error", "write buffer limit exceeded")

    def _drop_queue(self) -> None:
        self._queue = []
        self._queue_size = 0
        if self._counted:
            self._counted = False
            self.options.budget.set_output(self, 0)

    def budget_size(self, kind: str) -> int:
        """``BudgetHolder``: the queued bytes the memory budget counts (past the high water)."""
        size = self._queue_size
        return size if kind == "output" and size > self.options.write_buffer_high_water else 0

    def budget_close(self, kind: str) -> None:
        """``BudgetHolder``: the output of all connections is past its limit and this client's
        queue is among the largest: drop it and close the session (not here, as for overflow)."""
        if self._overflowed:
            return
        self._drop_queue()
        self._overflowed = True
        self._loop.call_soon(self.session.close, "transport error", "memory budget exceeded (output)")

    def flush_output(self) -> None:
        """Answer the pending GET with what was queued during this loop turn (called by the corker)."""
        self._corked = False
        if self._get is not None and self._queue:
            self._answer_get()

    def _answer_get(self) -> None:
        conn = self._get
        if conn is None:
            return
        self._get = None
        queue = self._queue
        body = queue[0] if len(queue) == 1 else _SEPARATOR.join(queue)
        self._queue = []
        self._queue_size = 0
        if self._counted:
            self._counted = False
            self.options.budget.set_output(self, 0)
        compress, self._compress = self._compress, False
        # "replace": a str holding lone surrogates cannot become UTF-8; the client gets U+FFFD
        # rather than the whole poll failing at flush time.
        raw = body.encode("utf-8", "replace")
        threshold = self.options.http_compression
        if threshold is not None and compress and len(raw) >= threshold:
            conn.respond(200, *self._compressed(raw))
        else:
            conn.respond(200, self._get_headers, raw)
        if self._closing:
            self._closing = False
            self.session.unregister()

    def _compressed(self, raw: bytes) -> tuple[list[tuple[str, str]], bytes]:
        """The headers and body answering the pending GET with ``raw``, compressed when its
        Accept-Encoding allows (``Vary`` tells caches the answer depends on that header)."""
        encoding = preferred_encoding(self._accept_encoding)
        headers = [*self._get_headers, ("Vary", "Accept-Encoding")]
        if encoding is None:
            return headers, raw
        headers.append(("Content-Encoding", encoding))
        return headers, compress_body(raw, encoding)

    # ---- requests ---------------------------------------------------------------------------
    def on_request(self, conn: HttpConnection, req: Request, cors: list[tuple[str, str]]) -> None:
        """Handle a GET (poll) or POST (client packets) for this session."""
        if req.method == "GET":
            self._on_get(conn, req, cors)
        elif req.method == "POST":
            self._on_post(conn, req, cors)
        else:
            respond_error(conn, req, BAD_REQUEST, cors)

    def _on_get(self, conn: HttpConnection, req: Request, cors: list[tuple[str, str]]) -> None:
        session = self.session
        if self._get is not None:
            # Two polls at once: the client is broken (or hostile). node closes the session.
            logger.warning("%s: session %s: overlapping GET requests", conn.peer, session.id)
            respond_error(conn, req, BAD_REQUEST, cors)
            session.close("transport error", "overlap from client")
            return
        self._get = conn
        self._get_headers = _GET_HEADERS + cors if cors else _GET_HEADERS
        self._accept_encoding = req.headers.get("accept-encoding")
        conn.hold(self)
        if self._queue:
            self._answer_get()
        elif self._release_asap:
            self._queue.append("6")
            self._answer_get()

    def post_started(self, conn: HttpConnection, req: Request) -> None:
        """A POST's head arrived; its body follows. Two bodies at once is an overlap."""
        current = self._post_conn
        if current is not None and current is not conn and not current.closed:
            req.overlap = True
        else:
            self._post_conn = conn

    def post_aborted(self, conn: HttpConnection) -> None:
        """The connection went away in the middle of a POST body."""
        if self._post_conn is conn:
            self._post_conn = None
            self.session.protocol_error("transport error", "data request connection closed prematurely")

    def _on_post(self, conn: HttpConnection, req: Request, cors: list[tuple[str, str]]) -> None:
        session = self.session
        if self._post_conn is conn:
            self._post_conn = None
        if req.overlap and not session.closed:
            respond_error(conn, req, BAD_REQUEST, cors)
            session.protocol_error("transport error", "data request overlap from client")
            return
        if session.closed:
            # packets for a closing session are ignored, as in node
            conn.respond(200, _POST_HEADERS + cors if cors else _POST_HEADERS, b"ok")
            return
        if req.headers.get("content-type") == "application/octet-stream":
            # Engine.IO v4 polling bodies are text; a binary body is a v3 client or garbage.
            respond_error(conn, req, BAD_REQUEST, cors)
            session.protocol_error("transport error", "binary POST body (not Engine.IO v4)")
            return
        try:
            packets = _decode_payload(req.body)
        except ParseError as exc:
            respond_error(conn, req, BAD_REQUEST, cors)
            session.protocol_error("parse error", f"bad POST body: {exc}")
            return
        conn.respond(200, _POST_HEADERS + cors if cors else _POST_HEADERS, b"ok")
        for ptype, data in packets:
            session.handle_packet(ptype, data)
            if session.closed:
                break

    def held_connection_lost(self, conn: HttpConnection) -> None:
        """The connection of the pending GET went away before it was answered."""
        if self._get is not conn:
            return
        self._get = None
        session = self.session
        if self._closing:
            self._closing = False
            session.unregister()
        elif not session.closed and not self._discarded:
            logger.info("%s: session %s: poll connection closed prematurely", conn.peer, session.id)
            session.close("transport error", "poll connection closed prematurely")

    # ---- upgrade and close ------------------------------------------------------------------
    def release_for_upgrade(self) -> None:
        """The WebSocket probe succeeded: answer the pending GET now (a noop if nothing is queued)."""
        self._release_asap = True
        if self._get is not None:
            if not self._queue:
                self._queue.append("6")
            self._answer_get()

    def upgrade_aborted(self) -> None:
        """The WebSocket probe went away: polls wait for data again."""
        self._release_asap = False

    def discard(self) -> list[str]:
        """The session moved to WebSocket: release any GET and return the records not yet polled."""
        self._discarded = True
        records = self._queue
        self._drop_queue()
        if self._get is not None:
            self._queue.append("6")
            self._answer_get()
        return records

    def close(self, graceful: bool, client_closed: bool) -> bool:
        """Close for the session; True when a GET must still come to fetch the close packet."""
        if not graceful:
            self._drop_queue()
        elif self._counted:
            # What stays queued for the last poll is no longer the budget's: it goes with the session.
            self._counted = False
            self.options.budget.set_output(self, 0)
        if self._discarded:
            return False
        if self._get is not None:
            # The client's own close releases its poll with a noop; a server-side close tells it.
            self._queue.append("6" if client_closed else "1")
            self._answer_get()
            return False
        if client_closed or not graceful:
            # A dead or misbehaving client is forgotten at once: its next request gets 400
            # (the official suite expects exactly that after a ping timeout).
            return False
        self._queue.append("1")
        self._closing = True
        return True
