"""Broadcast fan-out and corked output, pure-Python twin of ``_fanout_c`` (same API, same behaviour).

Three pieces that only make sense together, from a broadcast down to the ``transport.write``:

- :class:`Corker` and :class:`CorkedWriter`: every connection's output buffer, appended to during
  a loop turn and flushed with one write per connection at its end (one ``call_soon`` per turn).
- :class:`Outlet`: the base of an Engine.IO session; it says whether the session is closed and,
  while it is carried by a WebSocket, which connection buffer takes its frames.
- :class:`Member` and :func:`deliver`: the room index entries of one socket in one namespace, and
  the loop that resolves a broadcast's recipients (one room, several rooms deduplicated, except
  rooms, or the whole namespace) and appends the prepared frame to each recipient's buffer.

Recipients are deduplicated without building a set per broadcast: every :func:`deliver` takes a
new epoch number and stamps each member it reaches (or excludes) with it. A fan-out started from
inside another one (a listener broadcasting) uses a set instead, so the outer stamps stay valid.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from ._wsframe_py import message_frame as _message_frame

__all__ = [
    "DEFAULT_HIGH_WATER",
    "DEFAULT_HARD_LIMIT",
    "Corker",
    "CorkedWriter",
    "Outlet",
    "Member",
    "deliver",
    "deliver_messages",
]

logger = logging.getLogger("hypersio.engine")

# Defaults: the kernel socket buffer absorbs the first few hundred KiB on its own; past 1 MiB
# waiting in user space a client is slow, past 16 MiB it is not coming back.
DEFAULT_HIGH_WATER = 1 << 20
DEFAULT_HARD_LIMIT = 16 << 20


class Corker:
    """Collects the objects written to during a loop turn and flushes them once, at its end.

    One corker serves every connection of a loop; objects call :meth:`mark` the first time they
    buffer something in a turn (they keep their own "already marked" flag). A marked object is a
    :class:`CorkedWriter` or anything with a ``_flush_output()`` method (a polling transport).
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
                    item._flush_output()
                except Exception:  # one broken connection must not keep the others unflushed
                    logger.exception("error while flushing output of %r", item)
            dirty = self._dirty
            self._dirty = []
        self._scheduled = False


class CorkedWriter:
    """Output buffer of one connection, flushed by the corker; mix into an ``asyncio.Protocol``.

    Subclasses call :meth:`_init_writer` in ``__init__``, set ``self.transport`` in
    ``connection_made`` and implement :meth:`_write_overflow` (what to do when a peer is so slow
    that the hard limit is passed; normally: log and close).
    """

    __slots__ = (
        "transport",
        "_corker",
        "_out",
        "_out_size",
        "_corked",
        "_paused_writing",
        "_close_after_flush",
        "_write_closed",
        "_backlog",
        "high_water",
        "hard_limit",
    )

    def _init_writer(self, corker: Corker, high_water: int = DEFAULT_HIGH_WATER, hard_limit: int = DEFAULT_HARD_LIMIT) -> None:
        """Set up an empty buffer served by ``corker`` with these backpressure limits."""
        self.transport: Any = None
        self._corker = corker
        self._out: list[bytes] = []
        self._out_size = 0
        self._corked = False
        self._paused_writing = False
        self._close_after_flush = False
        self._write_closed = False
        # The transport's backlog as last seen (-1: not asked since the last write). It only
        # shrinks until the next flush, so it bounds the real one and spares calls.
        self._backlog = 0
        self.high_water = high_water
        self.hard_limit = hard_limit

    def write(self, data: bytes) -> None:
        """Append ``data`` to the output buffer; it goes out at the end of this loop turn.

        Past the hard limit the data is dropped and the connection is closed when the turn ends,
        not here: the caller may be in the middle of a broadcast loop.
        """
        if self._write_closed:
            return
        self._out.append(data)
        self._out_size += len(data)
        if not self._corked:
            self._corked = True
            self._corker.mark(self)
        if self._out_size > self.hard_limit:
            self._write_closed = True  # the corker calls _write_overflow at the end of the turn

    def close_after_flush(self) -> None:
        """Close the transport once what is buffered has been handed to it; later writes are dropped."""
        if self._write_closed:
            return
        self._close_after_flush = True
        self._write_closed = True
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

    def _flush_output(self) -> None:
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
            self._out_size = 0
            if transport is None or transport.is_closing():
                return
            transport.write(data)
            if self._paused_writing:
                # Only a paused transport can hold more than high_water (< hard_limit) bytes.
                backlog = self._backlog = transport.get_write_buffer_size()
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


class Outlet:
    """Base of an Engine.IO session: the fields the compiled send and receive paths read, and
    the per-message :meth:`send` that uses them.

    ``closed``: nothing is sent any more. ``_ws_out``: the :class:`CorkedWriter` of the WebSocket
    connection carrying the session, or None (long-polling, or not a server session): then the
    fan-out calls ``send_prepared(msg, volatile)`` instead of appending the frame itself.
    ``_tx`` (the transport carrying the session), ``_message_handlers`` and ``_awaiting_pong``
    are the session's own; they live here so that :func:`deliver_messages` reads them in C.
    """

    __slots__ = ("closed", "_ws_out", "_tx", "_message_handlers", "_awaiting_pong")

    def __init__(self) -> None:
        self.closed = False
        self._ws_out: CorkedWriter | None = None
        self._tx: Any = None
        self._message_handlers: tuple[Callable[..., Any], ...] = ()
        self._awaiting_pong = False

    def send(self, data: str | bytes | bytearray | memoryview, volatile: bool = False) -> None:
        """Queue one Engine.IO message: ``str`` goes as a text message, bytes as a binary one.

        ``volatile=True`` allows dropping it when the client cannot take it now (a congested
        WebSocket, or no pending long-poll). Sending on a closed session does nothing. While a
        WebSocket carries the session, the frame is built and appended to its connection buffer
        right here (the path of every ack and every ``socket.emit``); otherwise the session's
        ``_send_via_transport`` queues it on the polling transport.
        """
        if self.closed:
            return
        w = self._ws_out
        if w is None:
            self._send_via_transport(data, volatile)
        else:
            _append(w, _message_frame(data), volatile)

    def _send_via_transport(self, data: Any, volatile: bool) -> None:
        raise NotImplementedError

    def send_prepared(self, msg: Any, volatile: bool = False) -> None:
        """Queue a prepared message (sessions implement it)."""
        raise NotImplementedError


def deliver_messages(session: Outlet, ws: Any, frames: list[tuple[int, Any]]) -> int:
    """Hand the Engine.IO MESSAGE text frames at the head of ``frames`` (``(opcode, payload)``
    pairs from ``ws``'s frame parser) to ``session``'s message handlers; return how many frames
    were consumed, so the caller gives the rest to the general path, in order.

    It stops at the first frame that is anything else, and whenever ``ws`` no longer carries the
    open session or a pong is due (the general path restarts the pong deadline). A failing
    handler is logged and the next one still runs; a handler's awaitable result goes to
    ``session._adopt``. This is the receive side of every Socket.IO packet on a WebSocket.
    """
    for i, (opcode, payload) in enumerate(frames):
        if opcode != 1 or type(payload) is not str or payload[:1] != "4":  # 1: a text frame
            return i
        if session.closed or session._tx is not ws or session._awaiting_pong:
            return i
        text = payload[1:]
        for handler in session._message_handlers:
            try:
                result = handler(text)
            except Exception:
                logger.exception("session %s: error in a handler", session.id)  # type: ignore[attr-defined]
                continue
            if result is not None:
                session._adopt(result)  # type: ignore[attr-defined]
    return len(frames)


class Member:
    """One socket of one namespace in the room index: the entry every room of it holds.

    ``rooms`` is the set of its room names. ``socket`` and the session behind it are looked up
    (in the namespace's socket table) on the first broadcast that reaches the member, because a
    socket joins its own room before it is registered. ``alive`` turns False the moment the socket
    leaves the index, even when the removal itself waits for a running fan-out to end.
    """

    __slots__ = ("sid", "rooms", "socket", "alive", "_outlet", "_sock_dict", "_mark")

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.rooms: set[str] = set()
        self.socket: Any = None
        self.alive = True
        self._outlet: Any = None
        self._sock_dict: dict[str, Any] | None = None
        self._mark = 0

    def __repr__(self) -> str:
        return f"<Member {self.sid!r} rooms={len(self.rooms)}{'' if self.alive else ' dead'}>"

    def bind(self, sock: Any) -> None:
        """Attach the socket object (and its session) this entry stands for."""
        self.socket = sock
        self._outlet = sock._session
        # Reading the listeners tuple straight from the instance dict is the cheapest way to ask
        # "does this socket have outgoing listeners" once per recipient.
        self._sock_dict = getattr(sock, "__dict__", None)


_epoch = 0
_depth = 0


def _has_outgoing(m: Member) -> Any:
    d = m._sock_dict
    if d is not None:
        return d.get("_any_outgoing")
    return getattr(m.socket, "_any_outgoing", None)


def deliver(
    rooms: dict[str, dict[str, Member]],
    members: dict[str, Member],
    target_rooms: Any,
    except_rooms: Any,
    sockets: dict[str, Any],
    prepared: list[Any],
    is_volatile: bool,
    data: list[Any],
    on_client: Callable[[Any, int], None] | None = None,
    ack_id: int = 0,
) -> int:
    """Send the prepared messages to every member the rooms select; returns how many were reached.

    ``rooms`` maps a room to its members by sid, ``members`` is every member of the namespace
    (the target when ``target_rooms`` is empty), ``except_rooms`` are skipped, ``sockets`` is the
    namespace's sid -> socket table (to bind new members). For each recipient, in this order:
    ``on_client(socket, ack_id)`` when given, the socket's outgoing any-listeners with
    ``(data[0], data[1:])``, then every prepared message: WebSocket sessions get the ``ws_frame``
    appended to their connection buffer, other sessions ``send_prepared(msg, volatile)``.
    A packet of several parts (binary attachments) is never volatile. The caller must not change
    ``rooms`` or ``members`` until this returns (the adapter defers such changes).
    """
    global _epoch, _depth
    if len(prepared) != 1:
        is_volatile = False
    seen: set[int] | None = None
    epoch = 0
    if _depth:
        seen = set()  # nested: leave the outer fan-out's stamps alone
    else:
        _epoch += 1
        epoch = _epoch
    _depth += 1
    try:
        if except_rooms:
            for room in except_rooms:
                excluded = rooms.get(room)
                if excluded:
                    for m in excluded.values():
                        if seen is None:
                            m._mark = epoch
                        else:
                            seen.add(id(m))
        state = _Fanout(prepared, is_volatile, data, on_client, ack_id, sockets)
        if not target_rooms:
            _visit(state, members, bool(except_rooms), False, epoch, seen)
        elif len(target_rooms) == 1:
            for room in target_rooms:
                group = rooms.get(room)
                if group:
                    _visit(state, group, bool(except_rooms), False, epoch, seen)
        else:
            for room in target_rooms:
                group = rooms.get(room)
                if group:
                    _visit(state, group, True, True, epoch, seen)
        return state.count
    finally:
        _depth -= 1


class _Fanout:
    """What one :func:`deliver` call carries from recipient to recipient."""

    __slots__ = ("prepared", "volatile", "data", "args", "on_client", "ack_id", "sockets", "frames", "count")

    def __init__(
        self,
        prepared: list[Any],
        volatile: bool,
        data: list[Any],
        on_client: Any,
        ack_id: int,
        sockets: dict[str, Any],
    ) -> None:
        self.prepared = prepared
        self.volatile = volatile
        self.data = data
        self.args: list[Any] | None = None
        self.on_client = on_client
        self.ack_id = ack_id
        self.sockets = sockets
        self.frames: list[bytes] | None = None  # built on the first WebSocket recipient
        self.count = 0


def _visit(
    state: _Fanout, group: dict[str, Member], check: bool, stamp: bool, epoch: int, seen: set[int] | None
) -> None:
    volatile = state.volatile
    for m in group.values():
        if check:
            if seen is None:
                if m._mark == epoch:
                    continue
            elif id(m) in seen:
                continue
        if stamp:
            if seen is None:
                m._mark = epoch
            else:
                seen.add(id(m))
        if not m.alive:
            continue
        sock = m.socket
        if sock is None:
            sock = state.sockets.get(m.sid)
            if sock is None:
                continue
            m.bind(sock)
        if state.on_client is not None:
            state.on_client(sock, state.ack_id)
        if _has_outgoing(m):
            args = state.args
            if args is None:
                args = state.args = state.data[1:]
            sock._notify_outgoing(state.data[0], args)
        outlet = m._outlet
        if isinstance(outlet, Outlet):
            if not outlet.closed:
                w = outlet._ws_out
                if w is not None:
                    frames = state.frames
                    if frames is None:
                        frames = state.frames = [msg.ws_frame for msg in state.prepared]
                    for frame in frames:
                        _append(w, frame, volatile)
                else:
                    for msg in state.prepared:
                        outlet.send_prepared(msg, volatile)
        else:
            for msg in state.prepared:
                outlet.send_prepared(msg, volatile)
        state.count += 1


def _append(w: CorkedWriter, frame: bytes, volatile: bool) -> None:
    """Buffer one frame on ``w``, dropping it when volatile and the peer is congested."""
    if volatile and w.congested():
        return
    w.write(frame)
