"""The room walk of a broadcast, pure-Python twin of ``_rooms_c`` (same API, same behaviour).

:class:`Member` is the room index entry of one socket in one namespace; :func:`deliver` resolves a
broadcast's recipients (one room, several rooms deduplicated, except rooms, or the whole
namespace) and appends the prepared frame to each recipient's output buffer (the engine's
:class:`~hypersio.engine.outlet.CorkedWriter`), or hands the prepared message to a session that is
not carried by a WebSocket.

Recipients are deduplicated without building a set per broadcast: every :func:`deliver` takes a
new epoch number and stamps each member it reaches (or excludes) with it. A fan-out started from
inside another one (a listener broadcasting) uses a set instead, so the outer stamps stay valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypersio.adapters.base import SocketView
from hypersio.engine._outlet_py import Outlet
from hypersio.engine._outlet_py import append_frame as _append

__all__ = ["Member", "deliver", "leave_rooms"]


class Member:
    """One socket of one namespace in the room index: the entry every room of it holds.

    ``own`` is True while the socket is in its own room (the one named by its id), which the room
    index does not hold an entry for: a one-entry dict and a set per socket were most of what an
    idle connection cost the adapter. ``rooms`` is the set of its other rooms' names, None until
    it joins one. ``socket`` and the session behind it are looked up
    (in the namespace's socket table) on the first broadcast that reaches the member, because a
    socket joins its own room before it is registered. ``alive`` turns False the moment the socket
    leaves the index, even when the removal itself waits for a running fan-out to end.
    ``outlet`` (the socket's session), ``socket_dict`` (its instance dict) and ``mark`` (the epoch
    of the last fan-out that reached or excluded it) are the walk's own bookkeeping.
    """

    __slots__ = ("sid", "own", "rooms", "socket", "alive", "outlet", "socket_dict", "mark")

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.own = False
        self.rooms: set[str] | None = None
        self.socket: Any = None
        self.alive = True
        self.outlet: Any = None
        self.socket_dict: dict[str, Any] | None = None
        self.mark = 0

    def __repr__(self) -> str:
        return f"<Member {self.sid!r} rooms={len(self.rooms or ()) + self.own}{'' if self.alive else ' dead'}>"

    def bind(self, sock: SocketView) -> None:
        """Attach the socket object (and its session) this entry stands for."""
        self.socket = sock
        self.outlet = sock.session
        # Reading the listeners tuple straight from the instance dict is the cheapest way to ask
        # "does this socket have outgoing listeners" once per recipient.
        self.socket_dict = getattr(sock, "__dict__", None)


_epoch = 0
_depth = 0


def _has_outgoing(m: Member) -> Any:
    d = m.socket_dict
    if d is not None:
        return d.get("any_outgoing_listeners")
    return getattr(m.socket, "any_outgoing_listeners", None)


def deliver(
    rooms: dict[str, dict[str, Member]],
    members: dict[str, Member],
    target_rooms: Any,
    except_rooms: Any,
    sockets: Mapping[str, SocketView],
    prepared: list[Any],
    is_volatile: bool,
    data: list[Any],
    on_client: Callable[[Any, int], None] | None = None,
    ack_id: int = 0,
) -> int:
    """Send the prepared messages to every member the rooms select; returns how many were reached.

    ``rooms`` maps a room to its members by sid, ``members`` is every member of the namespace
    (the target when ``target_rooms`` is empty; a room named by a member's sid also holds that
    member while its ``own`` flag is set), ``except_rooms`` are skipped, ``sockets`` is the
    namespace's sid -> socket table (a dict; to bind new members), each socket a
    :class:`~hypersio.adapters.base.SocketView`. For each recipient, in this order:
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
                            m.mark = epoch
                        else:
                            seen.add(id(m))
                own = members.get(room)
                if own is not None and own.own:
                    if seen is None:
                        own.mark = epoch
                    else:
                        seen.add(id(own))
        state = _Fanout(prepared, is_volatile, data, on_client, ack_id, sockets)
        if not target_rooms:
            _visit(state, members, bool(except_rooms), False, epoch, seen)
        else:
            # One room: its own member and its index entry are disjoint, no stamps needed.
            several = len(target_rooms) != 1
            check = several or bool(except_rooms)
            for room in target_rooms:
                own = members.get(room)
                if own is not None and own.own:
                    _visit(state, {room: own}, check, several, epoch, seen)
                group = rooms.get(room)
                if group:
                    _visit(state, group, check, several, epoch, seen)
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
        sockets: Mapping[str, SocketView],
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
                if m.mark == epoch:
                    continue
            elif id(m) in seen:
                continue
        if stamp:
            if seen is None:
                m.mark = epoch
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
            sock.notify_outgoing(state.data[0], args)
        outlet = m.outlet
        if isinstance(outlet, Outlet):
            if not outlet.closed:
                w = outlet.ws_out
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


def leave_rooms(
    rooms: dict[str, dict[str, Member]],
    member: Member,
    limit: int,
    left: list[str] | None = None,
    emptied: list[str] | None = None,
) -> int:
    """Take ``member`` out of at most ``limit`` of its rooms; return how many it still has.

    (Its own room is not in ``rooms``: the adapter clears ``member.own`` itself.) Each room is
    popped from ``member.rooms`` and, in ``rooms``, the room's entry for the
    member's sid is deleted only when it is this very member (a socket recovered under the
    same sid may have joined again meanwhile); a room left empty is deleted too and appended to
    ``emptied`` when given, every room left to ``left`` when given. The adapter calls it in
    slices for a socket in very many rooms, so that its disconnect does not hold the loop.
    """
    mine = member.rooms
    if not mine:
        return 0
    sid = member.sid
    done = 0
    while mine and done < limit:
        room = mine.pop()
        done += 1
        group = rooms.get(room)
        if group is not None and group.get(sid) is member:
            del group[sid]
            if not group:
                del rooms[room]
                if emptied is not None:
                    emptied.append(room)
        if left is not None:
            left.append(room)
    return len(mine)
