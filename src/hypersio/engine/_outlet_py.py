"""Corked output, pure-Python twin of ``_outlet_c`` (same API, same behaviour).

Two pieces, from a send down to the ``transport.write``:

- :class:`Corker` and :class:`CorkedWriter`: every connection's output buffer, appended to during
  a loop turn and flushed with one write per connection at its end (one ``call_soon`` per turn).
- :class:`Outlet`: the base of an Engine.IO session; it says whether the session is closed and,
  while it is carried by a WebSocket, which connection buffer takes its frames, and sends one
  message straight into that buffer (:meth:`Outlet.send`, the path of every ack), or else to
  the transport carrying the session (its ``carrier``).

:func:`deliver_messages` is the receive side: the MESSAGE frames of a WebSocket read go to the
session's handlers without a Python frame per packet in the compiled twin. The room walk that
appends a broadcast to many of these buffers lives a step higher, in ``hypersio.adapters.rooms``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hypersio.engine.budget import INPUT_COUNTED_FROM
from hypersio.exceptions import WebSocketError
from hypersio.protocol.websocket._frames_py import message_frame as _message_frame

__all__ = [
    "DEFAULT_HIGH_WATER",
    "DEFAULT_HARD_LIMIT",
    "Corker",
    "CorkedWriter",
    "Outlet",
    "READ_BUDGET",
    "WebSocketFeed",
    "deliver_messages",
]

logger = logging.getLogger("hypersio.engine")

# Defaults: the kernel socket buffer absorbs the first few hundred KiB on its own; past 1 MiB
# waiting in user space a client is slow, past 16 MiB it is not coming back.
DEFAULT_HIGH_WATER = 1 << 20
DEFAULT_HARD_LIMIT = 16 << 20

#: Messages of one WebSocket connection handled per loop turn. One read can hold thousands of
#: tiny messages: past this share the rest wait for later turns (reading paused meanwhile), so
#: one flooding client cannot hold the loop.
READ_BUDGET = 256


class Corker:
    """Collects the objects written to during a loop turn and flushes them once, at its end.

    One corker serves every connection of a loop; objects call :meth:`mark` the first time they
    buffer something in a turn (they keep their own "already marked" flag). A marked object is a
    :class:`CorkedWriter` or anything with a ``flush_output()`` method (a polling transport).
    """

    __slots__ = ("_loop", "_dirty", "_scheduled", "__weakref__")

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self._dirty: list[Any] = []
        self._scheduled = False

    def mark(self, item: Any) -> None:
        """Queue ``item``'s flush for the end of the current loop turn."""
        self._dirty.append(item)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        """Flush every marked item now (normally called by the loop; also at shutdown)."""
        dirty = self._dirty
        self._dirty = []
        # A flush may mark further items (a polling session writing its answer into its HTTP
        # connection); those land in the new list and are flushed in the same pass.
        while dirty:
            for item in dirty:
                try:
                    item.flush_output()
                except Exception:  # one broken connection must not keep the others unflushed
                    logger.exception("error while flushing output of %r", item)
            dirty = self._dirty
            self._dirty = []
        self._scheduled = False


class CorkedWriter:
    """Output buffer of one connection, flushed by the corker; mix into an ``asyncio.Protocol``.

    Subclasses call :meth:`_init_writer` in ``__init__``, set ``self.transport`` in
    ``connection_made`` and implement :meth:`_write_overflow` (what to do when a peer is so slow
    that the hard limit is passed; normally: log and close). ``write_closed`` turns true when
    nothing more is accepted (closing, or past the hard limit); later writes are dropped.
    """

    __slots__ = (
        "transport",
        "_corker",
        "_out",
        "_out_size",
        "_corked",
        "_paused_writing",
        "_close_after_flush",
        "write_closed",
        "_backlog",
        "high_water",
        "hard_limit",
        "bytes_written",
        "bytes_received",
        "volatile_dropped",
        "budget",
    )

    def _init_writer(
        self, corker: Corker, high_water: int = DEFAULT_HIGH_WATER, hard_limit: int = DEFAULT_HARD_LIMIT
    ) -> None:
        """Set up an empty buffer served by ``corker`` with these backpressure limits."""
        self.transport: Any = None
        self._corker = corker
        self._out: list[bytes] = []
        self._out_size = 0
        self._corked = False
        self._paused_writing = False
        self._close_after_flush = False
        self.write_closed = False
        # The transport's backlog as last seen (-1: not asked since the last write). It only
        # shrinks until the next flush, so it bounds the real one and spares calls.
        self._backlog = 0
        self.high_water = high_water
        self.hard_limit = hard_limit
        # Plain counters the metrics read when scraped (``hypersio.metrics``): bytes handed to the
        # transport, bytes read from it (counted by the subclass, and by WebSocketFeed after an
        # upgrade), volatile frames dropped because the peer was congested.
        self.bytes_written = 0
        self.bytes_received = 0
        self.volatile_dropped = 0
        # The server's MemoryBudget (engine/budget.py), or None: told the backlog of a paused
        # transport at each flush and on resume, never on the path of a connection keeping up.
        self.budget: Any = None

    def write(self, data: bytes) -> None:
        """Append ``data`` to the output buffer; it goes out at the end of this loop turn.

        Past the hard limit the data is dropped and the connection is closed when the turn ends,
        not here: the caller may be in the middle of a broadcast loop.
        """
        if self.write_closed:
            return
        self._out.append(data)
        self._out_size += len(data)
        if not self._corked:
            self._corked = True
            self._corker.mark(self)
        if self._out_size > self.hard_limit:
            self.write_closed = True  # the corker calls _write_overflow at the end of the turn

    def close_after_flush(self) -> None:
        """Close the transport once what is buffered has been handed to it; later writes are dropped."""
        if self.write_closed:
            return
        self._close_after_flush = True
        self.write_closed = True
        if not self._corked:
            self._corked = True
            self._corker.mark(self)

    def buffered_size(self) -> int:
        """Bytes accepted but not yet sent: this turn's buffer plus the transport's backlog."""
        transport = self.transport
        backlog = transport.get_write_buffer_size() if transport is not None else 0
        return self._out_size + backlog

    def congested(self) -> bool:
        """True when the peer reads slower than we write: volatile messages should be dropped."""
        if self._paused_writing:
            return True
        if self._backlog < 0 or self._out_size + self._backlog > self.high_water:
            transport = self.transport
            # It only shrinks until our next flush: a bound until then, asked for again only
            # when the answer could change.
            self._backlog = transport.get_write_buffer_size() if transport is not None else 0
        return self._out_size + self._backlog > self.high_water

    def flush_output(self) -> None:
        """Hand this turn's buffer to the transport in one write (called by the corker)."""
        self._corked = False
        transport = self.transport
        out = self._out
        if self._out_size > self.hard_limit and not self._close_after_flush:
            size = self._out_size
            self._out = []
            self._out_size = 0
            self._write_overflow(size)
            return
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()  # the list lives as long as the connection
            size = self._out_size
            self._out_size = 0
            if transport is None or transport.is_closing():
                return
            transport.write(data)
            self.bytes_written += size
            if self._paused_writing:
                # Only a paused transport can hold more than high_water (< hard_limit) bytes.
                backlog = self._backlog = transport.get_write_buffer_size()
                if self.budget is not None:
                    self.budget.set_output(self, backlog)
                if not self._close_after_flush and backlog > self.hard_limit:
                    self._write_overflow(backlog)
                    return
            else:
                self._backlog = -1  # at most high_water; asked for when a volatile send needs it
        if self._close_after_flush and transport is not None:
            self._close_after_flush = False
            transport.close()

    def _write_overflow(self, size: int) -> None:
        raise NotImplementedError

    # asyncio.Protocol flow control callbacks
    def pause_writing(self) -> None:
        """The transport's buffer passed its high-water mark: the peer is slow."""
        self._paused_writing = True

    def resume_writing(self) -> None:
        """The transport drained below its low-water mark."""
        self._paused_writing = False
        if self.budget is not None:
            self.budget.set_output(self, 0)


class Outlet:
    """Base of an Engine.IO session: the fields the compiled send and receive paths read, and
    the per-message :meth:`send` that uses them.

    ``id``: the session id. ``closed``: nothing is sent any more. ``ws_out``: the
    :class:`CorkedWriter` of the WebSocket connection carrying the session, or None (long-polling,
    or not a server session): then the fan-out calls ``send_prepared(msg, volatile)`` instead of
    appending the frame itself. ``carrier``: the transport carrying the session; it has
    ``send_message(data, volatile)``, which :meth:`send` calls when ``ws_out`` is None.
    ``message_handlers`` and ``awaiting_pong`` are the session's own; they live here so that
    :func:`deliver_messages` reads them in C.
    """

    __slots__ = ("id", "closed", "ws_out", "carrier", "message_handlers", "awaiting_pong")

    def __init__(self) -> None:
        self.id: str = ""
        self.closed = False
        self.ws_out: CorkedWriter | None = None
        self.carrier: Any = None
        self.message_handlers: tuple[Callable[..., Any], ...] = ()
        self.awaiting_pong = False

    def send(self, data: str | bytes | bytearray | memoryview, volatile: bool = False) -> None:
        """Queue one Engine.IO message: ``str`` goes as a text message, bytes as a binary one.

        ``volatile=True`` allows dropping it when the client cannot take it now (a congested
        WebSocket, or no pending long-poll). Sending on a closed session does nothing. While a
        WebSocket carries the session, the frame is built and appended to its connection buffer
        right here (the path of every ack and every ``socket.emit``); otherwise the carrier's
        ``send_message`` queues it (the polling transport).
        """
        if self.closed:
            return
        w = self.ws_out
        if w is None:
            self.carrier.send_message(data, volatile)
        else:
            append_frame(w, _message_frame(data), volatile)

    def send_prepared(self, msg: Any, volatile: bool = False) -> None:
        """Queue a prepared message (sessions implement it)."""
        raise NotImplementedError

    def adopt(self, result: Any) -> None:
        """Keep a message handler's awaitable result running until it ends (sessions implement it)."""
        raise NotImplementedError


def deliver_messages(session: Outlet, ws: Any, frames: list[tuple[int, Any]]) -> int:
    """Hand the Engine.IO MESSAGE text frames at the head of ``frames`` (``(opcode, payload)``
    pairs from ``ws``'s frame parser) to ``session``'s message handlers; return how many frames
    were consumed, so the caller gives the rest to the general path, in order.

    It stops at the first frame that is anything else, and whenever ``ws`` no longer carries the
    open session or a pong is due (the general path restarts the pong deadline). A failing
    handler is logged and the next one still runs; a handler's awaitable result goes to
    ``session.adopt``. This is the receive side of every Socket.IO packet on a WebSocket.
    """
    for i, (opcode, payload) in enumerate(frames):
        if opcode != 1 or type(payload) is not str or payload[:1] != "4":  # 1: a text frame
            return i
        if session.closed or session.carrier is not ws or session.awaiting_pong:
            return i
        text = payload[1:]
        for handler in session.message_handlers:
            try:
                result = handler(text)
            except Exception:
                logger.exception("session %s: error in a handler", session.id)
                continue
            if result is not None:
                session.adopt(result)
    return len(frames)


class WebSocketFeed:
    """The receiving half of a server WebSocket transport (the base of
    ``hypersio.engine.server.websocket.WebSocketTransport``).

    :meth:`feed` is the ``data_received`` of the connection once it is upgraded: every read of
    every WebSocket client comes here, so its fields are the ones the hot path reads (in C in the
    compiled twin). ``conn``: the connection (its output buffer and ``bytes_received``);
    ``session``: the Engine.IO session it carries or probes for, or None; ``_parser``: its frame
    parser; ``_closed``: nothing more is handled; ``_input_counted``: the memory budget counts
    the parser's unfinished message; ``_backlog``: messages waiting for a later loop turn (past
    :data:`READ_BUDGET`), or None. The slow paths are the transport's own methods.
    """

    __slots__ = ("conn", "session", "_parser", "_closed", "_input_counted", "_backlog")

    conn: Any
    session: Any
    _parser: Any
    _closed: bool
    _input_counted: bool
    _backlog: list[Any] | None

    def feed(self, data: bytes) -> None:
        """Parse received bytes and dispatch the complete messages (the connection's ``data_received``)."""
        conn = self.conn
        if self._closed or conn.write_closed:
            return  # closing: whatever else the peer sends is moot (and must not log again)
        conn.bytes_received += len(data)  # the metrics' bytes in (once per read, not per message)
        try:
            messages = self._parser.feed(data)
        except WebSocketError as exc:
            self._fail(exc.code, f"WebSocket protocol error: {exc}")
            return
        pending = self._parser.pending
        if pending >= INPUT_COUNTED_FROM or self._input_counted:
            self._count_input(pending)
        if self._backlog is not None:
            self._backlog.extend(messages)  # behind what is still waiting, in order
            return
        if len(messages) > READ_BUDGET:
            self._start_backlog(messages)
        session = self.session
        if session is not None:
            # The hot path: MESSAGE frames on the open session go straight to its handlers; the
            # general path takes over where deliver_messages stops.
            start = deliver_messages(session, self, messages)
            if start == len(messages):
                return
            if start:
                del messages[:start]
        self.receive_messages(messages)

    # The slow paths, the transport's (engine.server.websocket.WebSocketTransport).
    def _fail(self, code: int, message: str) -> None:
        """Close the connection for a protocol error ``code``, logging ``message``."""
        raise NotImplementedError

    def _count_input(self, pending: int) -> None:
        """Tell the memory budget the parser's unfinished message is ``pending`` bytes."""
        raise NotImplementedError

    def _start_backlog(self, messages: list[Any]) -> None:
        """Keep the first :data:`READ_BUDGET` of ``messages`` (in place), the rest for later turns."""
        raise NotImplementedError

    def receive_messages(self, messages: list[Any]) -> None:
        """Dispatch complete ``(opcode, payload)`` messages: the general path."""
        raise NotImplementedError


def append_frame(w: CorkedWriter, frame: bytes, volatile: bool) -> None:
    """Buffer one frame on ``w``, dropping it when volatile and the peer is congested."""
    if volatile and w.congested():
        w.volatile_dropped += 1
        return
    w.write(frame)
