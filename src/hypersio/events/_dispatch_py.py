"""Incoming Socket.IO messages on the server: decode, route, run the handler, answer the ack.

This is the request/response hot path, pure-Python twin of ``_dispatch_c`` (same API, same
behaviour; ``hypersio.events.dispatch`` picks one). A client's ``emit("echo", x, ack)`` arrives as one
Engine.IO message ``2<id>["echo",x]``; in the common case (one handler registered for the
event, no any-listener, no packet middleware) the whole round trip is: decode, one dict lookup
for the socket, one for the handler, the handler call, encode of the ACK, ``session.send``. A
handler without room for the ack callable answers with its return value and no ack object is
built at all; one that takes it (JS style) gets a :class:`SocketAck`. No closure, no task for a
sync handler, no signature inspection (the handler's shape was computed when it was registered,
:class:`HandlerEntry`).

Everything else (CONNECT, DISCONNECT, ACK packets, several or once handlers, middlewares,
any-listeners, errors, awaitable results) goes to methods of the ``Connection`` and ``Socket``
that own the state, so this module holds only the straight line.

The owners above implement the protocols of :mod:`hypersio.events.targets`: the connection is a
:class:`~hypersio.events.targets.RoutedConnection` (``Router(conn)(data)`` is the session's message
handler, with ``conn.decoder.add`` and ``conn.sockets`` resolved once), the socket a
:class:`~hypersio.events.targets.DispatchTarget` (``on_event(socket, data, ack_id)``), whose
``route`` is a :class:`SocketRoute` of itself built once its handler dict, middleware list,
session, encoder and namespace name exist (the compiled twin reads them from there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from inspect import isawaitable
from typing import Any

from hypersio.events.acks import handler_shape
from hypersio.events.targets import DispatchTarget, Encode, RoutedConnection, Sender
from hypersio.exceptions import ParseError
from hypersio.protocol.socketio.packet import ACK, EVENT

__all__ = ["on_event", "send_ack", "SocketAck", "HandlerEntry", "Router", "SocketRoute"]

logger = logging.getLogger("hypersio")

# Return values that are certainly not awaitable: an exact type test first, since most handlers
# that answer return plain data and inspect.isawaitable is an ABC instance check.
_PLAIN_RESULTS = frozenset((str, int, float, bool, list, dict, tuple, bytes))


class HandlerEntry:
    """One registered event handler with its shape, computed once at registration.

    ``count``/``var``: positional parameters and ``*args`` (does the ack callable fit?);
    ``coro``: a coroutine function (its result is a task, no awaitable check needed);
    ``once``: registered with ``once``. The emitter stores these in its handler tuples.
    """

    __slots__ = ("fn", "once", "count", "var", "coro")

    def __init__(self, fn: Callable[..., Any], once: bool) -> None:
        self.fn = fn
        self.once = once
        self.count, self.var, self.coro = handler_shape(fn)

    def takes_ack(self, nargs: int) -> bool:
        """True when, called with ``nargs`` arguments, the handler has room for the ack callable."""
        return self.var or self.count > nargs


class Router:
    """The session's message handler for one connection: decodes a message and routes the packet,
    with the connection's decoder and socket table resolved once.

    ``conn.decoder`` and ``conn.sockets`` must stay the same objects for the connection's life
    (the connection mutates the dict in place). ``events`` counts the EVENT packets decoded (a
    plain field the metrics read when scraped: counting costs no call per packet).
    """

    __slots__ = ("_conn", "_decode", "_sockets", "events", "_partial")

    def __init__(self, conn: RoutedConnection) -> None:
        self._conn = conn
        self._decode = conn.decoder.add
        self._sockets = conn.sockets
        self.events = 0
        self._partial = False  # the decoder holds a packet waiting for its attachments

    def __call__(self, data: str | bytes) -> None:
        conn = self._conn
        if conn.closed:
            return
        try:
            packet = self._decode(data)
        except ParseError as exc:
            conn.parse_failed(exc)
            return
        if packet is None:
            # Waiting for binary attachments: what the decoder holds meanwhile is the memory
            # budget's "unfinished input" (told per part, never on the path of a text packet).
            self._partial = True
            conn.packet_unfinished(data)
            return
        if self._partial:
            self._partial = False
            conn.packet_unfinished(None)
        socket = self._sockets.get(packet.nsp)
        if packet.type == EVENT:
            self.events += 1
            if socket is not None:
                on_event(socket, packet.data, packet.id)
                return
        conn.handle_other_packet(packet, socket)


class SocketRoute:
    """The parts of a socket that never change identity (handler dict, middleware list, session,
    encoder, namespace name), resolved once; the socket keeps it as ``route``.

    The compiled twin reads them from C fields instead of five attribute lookups per event; this
    twin reads the socket's own attributes (one lookup each either way) and keeps the class for
    API parity.
    """

    __slots__ = ("handlers", "middlewares", "session", "encode", "nsp_name")

    def __init__(self, socket: DispatchTarget) -> None:
        self.handlers = socket.handlers
        self.middlewares = socket.packet_middlewares
        self.session: Sender = socket.session
        self.encode: Encode = socket.encode
        self.nsp_name = socket.nsp_name


def on_event(socket: DispatchTarget, data: list[Any], ack_id: int | None) -> None:
    """Deliver an incoming EVENT ``data`` (``[name, *args]``) to ``socket``'s handlers."""
    event = data[0]
    if socket.packet_middlewares or socket.any_listeners or type(event) is not str:
        socket.dispatch_general(event, data, ack_id)
        return
    entries = socket.handlers.get(event)
    if entries is None or len(entries) != 1:
        socket.dispatch_general(event, data, ack_id)
        return
    entry = entries[0]
    if entry.once:
        socket.dispatch_general(event, data, ack_id)
        return
    args = data[1:]
    fn = entry.fn
    if ack_id is not None and (entry.var or entry.count > len(args)):
        # The handler takes the ack callable (JS style): it is the one place an ack object lives.
        ack = SocketAck(socket, ack_id)
        try:
            result = fn(*args, ack)
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
        result = fn(*args)
    except Exception:
        socket.handler_failed(event)
        return
    if result is None:
        return
    if entry.coro or (type(result) not in _PLAIN_RESULTS and isawaitable(result)):
        socket.answer_later(fn, result, event, None if ack_id is None else SocketAck(socket, ack_id))
        return
    if ack_id is not None:
        # No ack object needed: nobody else can answer this id.
        send_ack(socket, ack_id, list(result) if isinstance(result, tuple) else [result])


def send_ack(socket: DispatchTarget, ack_id: int, args: list[Any]) -> None:
    """Write the ACK ``ack_id`` with ``args`` (nothing once the socket left the namespace)."""
    session = socket.session
    if session.closed or not socket.connected:
        return  # the handler may have disconnected the socket: no answer then
    parts = socket.encode(ACK, socket.nsp_name, args, ack_id)
    if len(parts) == 1:
        session.send(parts[0], False)
        return
    for part in parts:  # attachments go with their packet, never volatile
        session.send(part, False)


class SocketAck:
    """The ack callable a server handler receives: answers ACK ``ack_id`` on ``socket``, once.

    Same interface as :class:`hypersio.events.acks.AckCallback` (``ack(*args)``, ``send_result``,
    ``from_task``, ``sent``): the first answer is sent, later ones are ignored (logged at debug
    level), so a handler that both calls it and returns a value is safe.
    """

    __slots__ = ("_socket", "_id", "sent")

    def __init__(self, socket: DispatchTarget, ack_id: int) -> None:
        self._socket = socket
        self._id = ack_id
        self.sent = False

    def __call__(self, *args: Any) -> None:
        if self.sent:
            logger.debug("ack already sent; ignoring %r", args)
            return
        self.sent = True
        send_ack(self._socket, self._id, list(args))

    def send_result(self, result: Any) -> None:
        """Answer with a handler's return value (a tuple spreads into several arguments)."""
        if self.sent:
            logger.debug("ack already sent; ignoring the return value %r", result)
            return
        self.sent = True
        send_ack(self._socket, self._id, list(result) if isinstance(result, tuple) else [result])

    def from_task(self, task: Any) -> None:
        """Done-callback of a coroutine handler's task: its non-None result is the answer."""
        if task.cancelled() or task.exception() is not None:
            return  # the failure was logged when the task ended; a broken handler sends no ack
        result = task.result()
        if result is not None:
            self.send_result(result)

    def __repr__(self) -> str:
        return f"<SocketAck id={self._id} sent={self.sent}>"
