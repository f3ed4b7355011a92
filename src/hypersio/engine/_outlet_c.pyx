# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Corked output, compiled twin of ``_outlet_py`` (same API, same behaviour).

Why C here: every message a server sends passes through these buffers, and a broadcast appends
to N of them from the compiled room walk (``hypersio.adapters._rooms_c`` cimports the types
declared in ``_outlet_c.pxd``). The flush at the end of the turn is C as well, so a connection
costs one join and one ``transport.write`` per turn. See the pure twin for the design notes.
"""

import logging

from cpython.list cimport PyList_Append, PyList_GET_SIZE
from cpython.object cimport PyObject

from hypersio.engine.budget import INPUT_COUNTED_FROM
from hypersio.exceptions import WebSocketError
from hypersio.protocol.websocket._frames_c cimport FrameParser, message_frame

cdef extern from "Python.h":
    # Deleting a slice in place: NULL as the replacement, which cpython/list.pxd cannot spell.
    int _list_del_slice "PyList_SetSlice"(object lst, Py_ssize_t low, Py_ssize_t high, PyObject* items) except -1

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

DEFAULT_HIGH_WATER = 1 << 20
DEFAULT_HARD_LIMIT = 16 << 20

cdef bytes _EMPTY = b""

READ_BUDGET = 256
cdef Py_ssize_t _READ_BUDGET = READ_BUDGET
cdef Py_ssize_t _INPUT_COUNTED_FROM = INPUT_COUNTED_FROM


cdef class Corker:
    """Collects the objects written to during a loop turn and flushes them once, at its end.

    One corker serves every connection of a loop; objects call :meth:`mark` the first time they
    buffer something in a turn (they keep their own "already marked" flag). A marked object is a
    :class:`CorkedWriter` (flushed here in C) or anything with a ``flush_output()`` method.
    """

    # Fields: see _outlet_c.pxd.

    def __init__(self, loop):
        self._loop = loop
        self._dirty = []
        self._scheduled = False
        self._flush_cb = self.flush

    cpdef mark(self, item):
        """Queue ``item``'s flush for the end of the current loop turn."""
        PyList_Append(self._dirty, item)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush_cb)

    def flush(self):
        """Flush every marked item now (normally called by the loop; also at shutdown)."""
        cdef list dirty = self._dirty
        cdef Py_ssize_t i, n
        self._dirty = []
        while PyList_GET_SIZE(dirty):
            i = 0
            n = PyList_GET_SIZE(dirty)
            while i < n:
                # One try block per run of items, not per item: entering one is not free.
                try:
                    while i < n:
                        item = dirty[i]
                        i += 1
                        if isinstance(item, CorkedWriter):
                            (<CorkedWriter>item)._flush()
                        else:
                            item.flush_output()
                except Exception:  # one broken connection must not keep the others unflushed
                    logger.exception("error while flushing output of %r", item)
            dirty = self._dirty
            self._dirty = []
        self._scheduled = False


cdef class CorkedWriter:
    """Output buffer of one connection, flushed by the corker; mix into an ``asyncio.Protocol``.

    Subclasses call :meth:`_init_writer` in ``__init__``, set ``self.transport`` in
    ``connection_made`` and implement :meth:`_write_overflow` (what to do when a peer is so slow
    that the hard limit is passed; normally: log and close). ``write_closed`` turns true when
    nothing more is accepted (closing, or past the hard limit); later writes are dropped.
    """

    # Fields: see _outlet_c.pxd.

    def _init_writer(self, Corker corker not None, Py_ssize_t high_water=DEFAULT_HIGH_WATER,
                     Py_ssize_t hard_limit=DEFAULT_HARD_LIMIT):
        """Set up an empty buffer served by ``corker`` with these backpressure limits."""
        self.transport = None
        self._corker = corker
        self._out = []
        self._out_size = 0
        self._corked = False
        self._paused_writing = False
        self._close_after_flush = False
        self.write_closed = False
        self._backlog = 0
        self.high_water = high_water
        self.hard_limit = hard_limit
        self.bytes_written = 0
        self.bytes_received = 0
        self.volatile_dropped = 0
        self.budget = None

    cpdef write(self, data):
        """Append ``data`` to the output buffer; it goes out at the end of this loop turn.

        Past the hard limit the data is dropped and the connection is closed when the turn ends,
        not here: the caller may be in the middle of a broadcast loop.
        """
        if self.write_closed:
            return
        PyList_Append(self._out, data)
        self._out_size += len(data)
        if not self._corked:
            self._corked = True
            self._corker.mark(self)
        if self._out_size > self.hard_limit:
            self.write_closed = True

    cdef int append_frame(self, bytes frame, bint is_volatile) except -1:
        if is_volatile and self._congested():
            self.volatile_dropped += 1
            return 0
        if self.write_closed:
            return 0
        PyList_Append(self._out, frame)
        self._out_size += len(frame)
        if not self._corked:
            self._corked = True
            self._corker.mark(self)
        if self._out_size > self.hard_limit:
            self.write_closed = True
        return 0

    def close_after_flush(self):
        """Close the transport once what is buffered has been handed to it; later writes are dropped."""
        if self.write_closed:
            return
        self._close_after_flush = True
        self.write_closed = True
        if not self._corked:
            self._corked = True
            self._corker.mark(self)

    def buffered_size(self):
        """Bytes accepted but not yet sent: this turn's buffer plus the transport's backlog."""
        transport = self.transport
        cdef Py_ssize_t backlog = transport.get_write_buffer_size() if transport is not None else 0
        return self._out_size + backlog

    cdef bint _congested(self) except -1:
        cdef Py_ssize_t backlog
        if self._paused_writing:
            return True
        if self._backlog < 0 or self._out_size + self._backlog > self.high_water:
            transport = self.transport
            backlog = transport.get_write_buffer_size() if transport is not None else 0
            self._backlog = backlog  # it only shrinks until our next flush: a bound till then
        return self._out_size + self._backlog > self.high_water

    def congested(self):
        """True when the peer reads slower than we write: volatile messages should be dropped."""
        return self._congested()

    cdef int _flush(self) except -1:
        self._corked = False
        transport = self.transport
        cdef list out = self._out
        cdef Py_ssize_t size, n = PyList_GET_SIZE(out)
        if self._out_size > self.hard_limit and not self._close_after_flush:
            size = self._out_size
            self._out = []
            self._out_size = 0
            self._write_overflow(size)
            return 0
        if n:
            data = out[0] if n == 1 else _EMPTY.join(out)
            # Emptied in place: the list lives as long as the connection, no list per turn.
            _list_del_slice(out, 0, n, NULL)
            size = self._out_size
            self._out_size = 0
            if transport is None or transport.is_closing():
                return 0
            transport.write(data)
            self.bytes_written += size  # read by the metrics when scraped, never summed per send
            if self._paused_writing:
                # Only a paused transport can hold more than high_water (< hard_limit) bytes.
                size = transport.get_write_buffer_size()
                self._backlog = size
                if self.budget is not None:
                    self.budget.set_output(self, size)
                if not self._close_after_flush and size > self.hard_limit:
                    self._write_overflow(size)
                    return 0
            else:
                self._backlog = -1  # at most high_water; asked for when a volatile send needs it
        if self._close_after_flush and transport is not None:
            self._close_after_flush = False
            transport.close()
        return 0

    def flush_output(self):
        """Hand this turn's buffer to the transport in one write (called by the corker)."""
        self._flush()

    def _write_overflow(self, size):
        raise NotImplementedError

    def pause_writing(self):
        """The transport's buffer passed its high-water mark: the peer is slow."""
        self._paused_writing = True

    def resume_writing(self):
        """The transport drained below its low-water mark."""
        self._paused_writing = False
        if self.budget is not None:
            self.budget.set_output(self, 0)


cdef class Outlet:
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

    # Fields: see _outlet_c.pxd.

    def send(self, data, bint volatile=False):
        """Queue one Engine.IO message: ``str`` goes as a text message, bytes as a binary one.

        ``volatile=True`` allows dropping it when the client cannot take it now (a congested
        WebSocket, or no pending long-poll). Sending on a closed session does nothing. While a
        WebSocket carries the session, the frame is built and appended to its connection buffer
        right here (the path of every ack and every ``socket.emit``); otherwise the carrier's
        ``send_message`` queues it (the polling transport).
        """
        outlet_send(self, data, volatile)

    def send_prepared(self, msg, bint volatile=False):
        """Queue a prepared message (sessions implement it)."""
        raise NotImplementedError

    def adopt(self, result):
        """Keep a message handler's awaitable result running until it ends (sessions implement it)."""
        raise NotImplementedError


cdef int outlet_send(Outlet outlet, object data, bint is_volatile) except -1:
    """:meth:`Outlet.send` for compiled callers (the ack path of the incoming dispatch)."""
    if outlet.closed:
        return 0
    cdef CorkedWriter w = outlet.ws_out
    if w is None:
        outlet.carrier.send_message(data, is_volatile)
    else:
        w.append_frame(message_frame(data), is_volatile)
    return 0


cdef str _MESSAGE_TYPE = "4"


def deliver_messages(Outlet session, ws, list frames):
    """Hand the Engine.IO MESSAGE text frames at the head of ``frames`` (``(opcode, payload)``
    pairs from ``ws``'s frame parser) to ``session``'s message handlers; return how many frames
    were consumed, so the caller gives the rest to the general path, in order.

    It stops at the first frame that is anything else, and whenever ``ws`` no longer carries the
    open session or a pong is due (the general path restarts the pong deadline). A failing
    handler is logged and the next one still runs; a handler's awaitable result goes to
    ``session.adopt``. This is the receive side of every Socket.IO packet on a WebSocket.
    """
    return _deliver(session, ws, frames)


cdef Py_ssize_t _deliver(Outlet session, object ws, list frames) except -1:
    """:func:`deliver_messages` for compiled callers (:meth:`WebSocketFeed.feed`)."""
    cdef Py_ssize_t i, n = len(frames)
    cdef tuple frame
    cdef Py_ssize_t length
    for i in range(n):
        frame = <tuple?>frames[i]
        payload = frame[1]
        if frame[0] != 1 or type(payload) is not str:  # 1: a text frame
            return i
        length = len(<str>payload)
        if length == 0 or (<str>payload)[0] != _MESSAGE_TYPE:
            return i
        if session.closed or session.carrier is not ws or session.awaiting_pong:
            return i
        text = (<str>payload)[1:]
        for handler in session.message_handlers:
            try:
                result = handler(text)
            except Exception:
                logger.exception("session %s: error in a handler", session.id)
                continue
            if result is not None:
                session.adopt(result)
    return n




cdef class WebSocketFeed:
    """The receiving half of a server WebSocket transport; see the pure twin.

    Why C: :meth:`feed` is the ``data_received`` of every upgraded connection, so it runs once per
    read of every WebSocket client (in a request/response loop, once per request). As a Python
    method it was ~2,200 instructions of bytecode per read, an eighth of a closed-loop ack; here
    the checks read struct fields and the MESSAGE frames go to :func:`deliver_messages` by a C call.
    """

    # Fields: see _outlet_c.pxd. The slow paths (``_fail``, ``_count_input``, ``_start_backlog``,
    # ``receive_messages``) are the transport's Python methods.

    def feed(self, data):
        """Parse received bytes and dispatch the complete messages (the connection's ``data_received``)."""
        cdef CorkedWriter conn = self.conn
        cdef list messages
        cdef Py_ssize_t pending, start
        if self._closed or conn.write_closed:
            return  # closing: whatever else the peer sends is moot (and must not log again)
        conn.bytes_received += len(data)  # the metrics' bytes in (once per read, not per message)
        parser = self._parser
        cdef bint compiled = type(parser) is FrameParser  # the compiled parser: called in C
        try:
            messages = (<FrameParser>parser).feed_c(data) if compiled else parser.feed(data)
        except WebSocketError as exc:
            self._fail(exc.code, f"WebSocket protocol error: {exc}")
            return
        pending = (<FrameParser>parser).pending_bytes() if compiled else parser.pending
        if pending >= _INPUT_COUNTED_FROM or self._input_counted:
            self._count_input(pending)
        if self._backlog is not None:
            self._backlog.extend(messages)  # behind what is still waiting, in order
            return
        if PyList_GET_SIZE(messages) > _READ_BUDGET:
            self._start_backlog(messages)
        session = self.session
        if session is not None:
            start = _deliver(<Outlet?>session, self, messages)
            if start == PyList_GET_SIZE(messages):
                return
            if start:
                _list_del_slice(messages, 0, start, NULL)
        self.receive_messages(messages)

    # The slow paths, the transport's (engine.server.websocket.WebSocketTransport).
    def _fail(self, code, message):
        """Close the connection for a protocol error ``code``, logging ``message``."""
        raise NotImplementedError

    def _count_input(self, pending):
        """Tell the memory budget the parser's unfinished message is ``pending`` bytes."""
        raise NotImplementedError

    def _start_backlog(self, messages):
        """Keep the first READ_BUDGET of ``messages`` (in place), the rest for later turns."""
        raise NotImplementedError

    def receive_messages(self, messages):
        """Dispatch complete ``(opcode, payload)`` messages: the general path."""
        raise NotImplementedError
