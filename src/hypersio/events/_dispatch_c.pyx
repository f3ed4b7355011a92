# cython: language_level=3, boundscheck=False, wraparound=False
"""Incoming Socket.IO messages on the server, compiled twin of ``_dispatch_py`` (same API, same
behaviour; the pure twin holds the design notes and the contract with the owners).

Why C here: a request/response round trip runs this straight line once per message, and in
Python it is three interpreted frames of attribute reads and branches around two C calls (the
decoder and the encoder). Compiled, the frames and the bytecode dispatch disappear; what is left
is the attribute reads, the handler call and the codec.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject

from hypersio.engine._outlet_c cimport Outlet, outlet_send
from hypersio.protocol.socketio._json_c cimport Decoder, Packet
from hypersio.protocol.socketio._json_c cimport _encode as _json_encode

import logging
from inspect import isawaitable

from hypersio.events.acks import handler_shape
from hypersio.exceptions import ParseError
from hypersio.protocol.socketio._json_c import encode_packet as _json_encode_packet
from hypersio.protocol.socketio import packet as _packet

__all__ = ["on_event", "send_ack", "SocketAck", "HandlerEntry", "Router", "SocketRoute"]

logger = logging.getLogger("hypersio")

# C copies of the packet types (compared with the decoded packet's C field), taken from the one
# definition in hypersio.protocol.socketio.packet.
cdef int EVENT = _packet.EVENT
cdef int ACK = _packet.ACK

cdef frozenset _PLAIN_RESULTS = frozenset((str, int, float, bool, list, dict, tuple, bytes))


cdef class HandlerEntry:
    """One registered event handler with its shape, computed once at registration (see the pure
    twin); C fields, so the dispatch reads them without attribute lookups."""

    cdef public object fn
    cdef public bint once
    cdef public Py_ssize_t count
    cdef public bint var
    cdef public bint coro

    def __init__(self, fn, bint once):
        self.fn = fn
        self.once = once
        count, var, coro = handler_shape(fn)
        self.count = count
        self.var = var
        self.coro = coro

    def takes_ack(self, Py_ssize_t nargs):
        """True when, called with ``nargs`` arguments, the handler has room for the ack callable."""
        return self.var or self.count > nargs


cdef class Router:
    """The session's message handler for one connection, with its decoder and socket table
    resolved once (see the pure twin). With the compiled JSON decoder, the decode is a C call and the packet's
    fields are struct reads (``_parser_c.pxd``); any other decoder goes through Python."""

    cdef object _conn
    cdef object _decode
    cdef Decoder _decoder
    cdef dict _sockets
    cdef public Py_ssize_t events
    cdef bint _partial  # the decoder holds a packet waiting for its attachments

    def __init__(self, conn):
        self.events = 0
        self._partial = False
        self._conn = conn
        decoder = conn.decoder
        self._decoder = <Decoder>decoder if type(decoder) is Decoder else None
        self._decode = decoder.add
        self._sockets = conn.sockets

    def __call__(self, data):
        cdef PyObject* found
        cdef Packet fast
        conn = self._conn
        if conn.closed:
            return
        try:
            if self._decoder is not None:
                packet = self._decoder.add(data)
            else:
                packet = self._decode(data)
        except ParseError as exc:
            conn.parse_failed(exc)
            return
        if packet is None:
            # Waiting for binary attachments: the memory budget's "unfinished input" (see the pure twin).
            self._partial = True
            conn.packet_unfinished(data)
            return
        if self._partial:
            self._partial = False
            conn.packet_unfinished(None)
        if type(packet) is Packet:
            fast = <Packet>packet
            found = PyDict_GetItem(self._sockets, fast.nsp)
            if fast.type == EVENT:
                self.events += 1
                if found is not NULL:
                    on_event(<object>found, fast.data, fast.id)
                    return
        else:
            found = PyDict_GetItem(self._sockets, packet.nsp)
            if packet.type == EVENT:
                self.events += 1
                if found is not NULL:
                    on_event(<object>found, packet.data, packet.id)
                    return
        conn.handle_other_packet(packet, None if found is NULL else <object>found)


cdef class SocketRoute:
    """The parts of a socket that never change identity, resolved once (see the pure twin)."""

    cdef dict handlers
    cdef list middlewares
    cdef object session
    cdef Outlet outlet  # the session, when it is an engine session (sent to with a C call)
    cdef object encode
    cdef bint json  # encode is the compiled JSON codec's encode_packet: called as a C function
    cdef object nsp_name

    def __init__(self, socket):
        self.handlers = socket.handlers
        self.middlewares = socket.packet_middlewares
        self.session = socket.session
        self.outlet = <Outlet>self.session if isinstance(self.session, Outlet) else None
        self.encode = socket.encode
        self.json = self.encode is _json_encode_packet
        self.nsp_name = socket.nsp_name


cpdef on_event(socket, data, ack_id):
    """Deliver an incoming EVENT ``data`` (``[name, *args]``) to ``socket``'s handlers."""
    cdef object event = data[0]
    cdef object entries
    cdef PyObject* found
    cdef SocketAck ack
    cdef HandlerEntry entry
    cdef SocketRoute route
    route_obj = socket.route
    if type(route_obj) is not SocketRoute:
        socket.dispatch_general(event, data, ack_id)
        return
    route = <SocketRoute>route_obj
    if route.middlewares or socket.any_listeners or type(event) is not str:
        socket.dispatch_general(event, data, ack_id)
        return
    found = PyDict_GetItem(route.handlers, event)
    if found is NULL:
        socket.dispatch_general(event, data, ack_id)
        return
    entries = <object>found
    if type(entries) is not tuple or len(<tuple>entries) != 1:
        socket.dispatch_general(event, data, ack_id)
        return
    first = (<tuple>entries)[0]
    if type(first) is not HandlerEntry:
        socket.dispatch_general(event, data, ack_id)
        return
    entry = <HandlerEntry>first
    if entry.once:
        socket.dispatch_general(event, data, ack_id)
        return
    cdef Py_ssize_t nargs = len(data) - 1
    fn = entry.fn
    if ack_id is not None and (entry.var or entry.count > nargs):
        # The handler takes the ack callable (JS style): it is the one place an ack object lives.
        ack = SocketAck(socket, ack_id)
        try:
            result = fn(*data[1:], ack)
        except Exception:
            socket.handler_failed(event)
            return
        if result is None:
            return
        if entry.coro or (type(result) not in _PLAIN_RESULTS and isawaitable(result)):
            socket.answer_later(fn, result, event, ack)
        else:
            ack.send_result(result)
        return
    try:
        # One or two arguments (most events) are passed without building an argument tuple.
        if nargs == 1:
            result = fn(data[1])
        elif nargs == 2:
            result = fn(data[1], data[2])
        else:
            result = fn(*data[1:])
    except Exception:
        socket.handler_failed(event)
        return
    if result is None:
        return
    if entry.coro or (type(result) not in _PLAIN_RESULTS and isawaitable(result)):
        socket.answer_later(fn, result, event, None if ack_id is None else SocketAck(socket, ack_id))
        return
    if ack_id is None:
        return  # a plain event: the return value goes nowhere
    # No ack object needed: nobody else can answer this id.
    _send_ack_over(route, socket, ack_id, list(<tuple>result) if isinstance(result, tuple) else [result])


cdef int _send_ack_over(SocketRoute route, socket, ack_id, list args) except -1:
    """send_ack with the socket's parts already resolved: C calls from the encoder to the buffer."""
    session = route.session
    if (route.outlet.closed if route.outlet is not None else session.closed) or not socket.connected:
        return 0  # the handler may have disconnected the socket: no answer then
    if route.json:
        parts = _json_encode(ACK, route.nsp_name, args, ack_id)
    else:
        parts = route.encode(ACK, route.nsp_name, args, ack_id)
    if len(parts) == 1 and route.outlet is not None:
        outlet_send(route.outlet, parts[0], False)
        return 0
    for part in parts:  # attachments go with their packet, never volatile
        session.send(part, False)
    return 0


cpdef send_ack(socket, ack_id, list args):
    """Write the ACK ``ack_id`` with ``args`` (nothing once the socket left the namespace)."""
    route = getattr(socket, "route", None)  # test doubles of a socket have none
    if type(route) is SocketRoute:
        _send_ack_over(<SocketRoute>route, socket, ack_id, args)
        return
    session = socket.session
    if session.closed or not socket.connected:
        return  # the handler may have disconnected the socket: no answer then
    parts = socket.encode(ACK, socket.nsp_name, args, ack_id)
    for part in parts:  # attachments go with their packet, never volatile
        session.send(part, False)


cdef class SocketAck:
    """The ack callable a server handler receives: answers ACK ``ack_id`` on ``socket``, once
    (see the pure twin)."""

    cdef object _socket
    cdef object _id
    cdef public bint sent

    def __init__(self, socket, ack_id):
        self._socket = socket
        self._id = ack_id
        self.sent = False

    def __call__(self, *args):
        if self.sent:
            logger.debug("ack already sent; ignoring %r", args)
            return
        self.sent = True
        send_ack(self._socket, self._id, list(args))

    cpdef send_result(self, result):
        """Answer with a handler's return value (a tuple spreads into several arguments)."""
        if self.sent:
            logger.debug("ack already sent; ignoring the return value %r", result)
            return
        self.sent = True
        send_ack(self._socket, self._id, list(<tuple>result) if isinstance(result, tuple) else [result])

    def from_task(self, task):
        """Done-callback of a coroutine handler's task: its non-None result is the answer."""
        if task.cancelled() or task.exception() is not None:
            return  # the failure was logged when the task ended; a broken handler sends no ack
        result = task.result()
        if result is not None:
            self.send_result(result)

    def __repr__(self):
        return f"<SocketAck id={self._id} sent={self.sent}>"
