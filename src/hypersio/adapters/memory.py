"""Room bookkeeping and broadcast fan-out for one namespace: the in-memory adapter.

An adapter knows which socket ids are in which rooms and delivers broadcast packets to the
matching sockets. :class:`InMemoryAdapter` is the single-process one; a cluster adapter subclasses
it and forwards broadcasts to other processes before delivering locally (``opts.local`` set means
"this process only").

Fan-out rule (DESIGN.md "Encode once"): a broadcast encodes its packet once, wraps each encoded
part in one ``engine.PreparedMessage`` (which builds each transport's bytes once), then only
hands those objects to :func:`hypersio.adapters.rooms.deliver`, which walks the selected rooms in C and
appends the finished frame to each recipient's output buffer. No task, queue, coroutine, list or
set per recipient or per broadcast.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

from hypersio.adapters.base import BroadcastOptions, NamespaceView, OnClient, RemoteAcks, SocketView
from hypersio.adapters.recovery import RecoveryStore, SavedSession
from hypersio.adapters.rooms import Member
from hypersio.adapters.rooms import deliver as _fanout_deliver
from hypersio.adapters.rooms import leave_rooms as _leave_rooms
from hypersio.protocol.socketio.packet import EVENT

__all__ = ["LEAVE_SLICE", "BroadcastOptions", "InMemoryAdapter"]

#: Rooms a disconnecting socket leaves per loop turn (about 1 us each, mostly cache misses and
#: freed room dicts): a socket in a million rooms leaves them over a few hundred turns of a few
#: milliseconds instead of holding the loop for a second. It is marked gone at once (``alive``),
#: so no broadcast reaches it meanwhile; rooms it alone was in exist until their slice.
LEAVE_SLICE = 4096


def _run_listener(handler: Callable[..., Any], *args: Any) -> None:
    try:
        handler(*args)
    except Exception:  # a listener's bug must not break a join or a leave
        logging.getLogger("hypersio").exception("error in an adapter room event listener %r", handler)


class RoomIndex(Mapping[str, dict[str, Member]]):
    """``adapter.rooms``: every room of the namespace -> its members by socket id (read-only).

    The adapter stores a socket's own room (the one named by its id) as a flag on its member
    rather than as a one-entry dict plus a set entry (about 400 bytes per idle connection, issue
    14); this view puts those rooms back, so readers see every room as before. A room holding an
    own member is returned as a new dict; other rooms are the adapter's live dicts (do not change them).
    """

    __slots__ = ("_rooms", "_sids")

    def __init__(self, rooms: dict[str, dict[str, Member]], sids: dict[str, Member]) -> None:
        self._rooms = rooms
        self._sids = sids

    def __getitem__(self, room: str) -> dict[str, Member]:
        group = self._rooms.get(room)
        own = self._sids.get(room)
        if own is not None and own.own:
            merged = {room: own}
            if group:
                merged.update(group)
            return merged
        if group is None:
            raise KeyError(room)
        return group

    def __contains__(self, room: object) -> bool:
        if room in self._rooms:
            return True
        own = self._sids.get(room) if isinstance(room, str) else None
        return own is not None and bool(own.own)

    def __iter__(self) -> Iterator[str]:
        rooms = self._rooms
        yield from list(rooms)
        for sid, member in list(self._sids.items()):
            if member.own and sid not in rooms:
                yield sid

    def __len__(self) -> int:
        rooms = self._rooms
        return len(rooms) + sum(1 for sid, m in self._sids.items() if m.own and sid not in rooms)

    def __repr__(self) -> str:
        return f"RoomIndex({ {room: sorted(group) for room, group in self.items()}!r})"


class InMemoryAdapter:
    """Rooms and broadcasts of one namespace inside this process.

    ``sids`` maps a socket id to its :class:`~hypersio.adapters.rooms.Member`; ``rooms`` (a
    :class:`RoomIndex`) maps a room to its members by socket id. Every socket is in the room
    named by its own id, which is how ``sio.to(sid)`` reaches it: that membership is the member's
    ``own`` flag, and ``member.rooms`` (None until it has some) holds its other rooms, which the
    index ``_rooms`` maps to their members. A member is one object shared by all rooms of its
    socket, so the fan-out can deduplicate several rooms by stamping members instead of building
    a set per broadcast.
    """

    #: Set by subclasses that want :meth:`room_created` and :meth:`room_deleted` called (a sharded
    #: cluster adapter subscribes per room); off, joins and leaves pay one attribute test.
    watch_rooms = False

    def __init__(self, nsp: NamespaceView) -> None:
        self.nsp = nsp
        # Every room but the sockets' own ones (see the class docstring): what the fan-out walks.
        self._rooms: dict[str, dict[str, Member]] = {}
        self.sids: dict[str, Member] = {}
        self.rooms = RoomIndex(self._rooms, self.sids)
        #: Called as ``observer(room, sid, joined)`` on every membership change (the admin UI's
        #: room_joined/room_left); empty, a join or a leave pays one truth test.
        self.membership_observers: list[Callable[[str, str, bool], None]] = []
        self._room_listeners: dict[str, list[Callable[..., Any]]] = {}
        #: Plain counters read by the metrics when scraped: local fan-outs, and EVENT packets
        #: handed to sockets (by fan-outs and by ``socket.emit``).
        self.broadcasts = 0
        self.events_sent = 0
        # While a fan-out iterates a room, changes to the index are deferred: a send can run
        # listeners or close a session synchronously, and mutating a dict under the loop is unsafe.
        self._delivering = 0
        self._deferred: list[Callable[[], None]] = []
        recovery = nsp.server.connection_state_recovery
        self._recovery: RecoveryStore | None = (
            RecoveryStore(recovery.max_disconnection_duration) if recovery is not None else None
        )

    # --- rooms --------------------------------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Put socket ``sid`` in every room of ``rooms`` (creating rooms as needed)."""
        if self._delivering:
            rooms = list(rooms)
            self._deferred.append(lambda: self.add_all(sid, rooms))
            return
        sids = self.sids
        member = sids.get(sid)
        if member is None:
            member = sids[sid] = Member(sid)
        observers = self.membership_observers
        index = self._rooms
        for room in rooms:
            if room == sid:
                if member.own:
                    continue
                member.own = True  # the own room: a flag, not an index entry
                if self.watch_rooms and room not in index:
                    self.room_created(room)
            else:
                mine = member.rooms
                if mine is None:
                    mine = member.rooms = set()
                elif room in mine:
                    continue
                mine.add(room)
                group = index.get(room)
                if group is None:
                    index[room] = {sid: member}
                    if self.watch_rooms and not self._has_own(room):
                        self.room_created(room)
                else:
                    group[sid] = member
            if observers:
                for observer in observers:
                    observer(room, sid, True)

    def delete(self, sid: str, room: str) -> None:
        """Take socket ``sid`` out of ``room``; an emptied room disappears."""
        if self._delivering:
            self._deferred.append(lambda: self.delete(sid, room))
            return
        member = self.sids.get(sid)
        if member is None:
            return
        if room == sid:
            if not member.own:
                return
            member.own = False
            if self.watch_rooms and room not in self._rooms:
                self.room_deleted(room)
        else:
            mine = member.rooms
            if mine is None or room not in mine:
                return
            mine.discard(room)
            self._drop(room, sid)
        for observer in self.membership_observers:
            observer(room, sid, False)

    def del_all(self, sid: str) -> None:
        """Take socket ``sid`` out of every room (on disconnect)."""
        member = self.sids.get(sid)
        if member is not None:
            member.alive = False  # at once: a running fan-out must skip it from now on
        if self._delivering:
            self._deferred.append(lambda: self._del_all(sid, member))
            return
        self._del_all(sid, member)

    def _del_all(self, sid: str, member: Member | None) -> None:
        if member is None or self.sids.get(sid) is not member:
            return
        del self.sids[sid]
        if member.own:
            # Its own room goes first, at once (it is a flag); the others over the slices.
            member.own = False
            if self.watch_rooms and sid not in self._rooms and not self._has_own(sid):
                self.room_deleted(sid)
            for observer in self.membership_observers:
                observer(sid, sid, False)
        self._leave_slice(member)

    def _has_own(self, room: str) -> bool:
        # True when ``room`` is the own room of a socket still in it (then it exists without an entry).
        member = self.sids.get(room)
        return member is not None and bool(member.own)

    def _leave_slice(self, member: Member) -> None:
        # The member is dead (skipped by every fan-out) and out of ``sids``: what is left is
        # taking it out of its rooms, LEAVE_SLICE of them per loop turn.
        if self._delivering:
            self._deferred.append(lambda: self._leave_slice(member))
            return
        observers = self.membership_observers
        left: list[str] | None = [] if observers else None
        emptied: list[str] | None = [] if self.watch_rooms else None
        remaining = _leave_rooms(self._rooms, member, LEAVE_SLICE, left, emptied)
        if emptied:
            for room in emptied:
                if not self._has_own(room):  # a socket's own room still holds that socket
                    self.room_deleted(room)
        if left:
            sid = member.sid
            for room in left:
                for observer in observers:
                    observer(room, sid, False)
        if remaining:
            try:
                asyncio.get_running_loop().call_soon(self._leave_slice, member)
            except RuntimeError:  # no loop running (the adapter driven by hand): finish now
                self._leave_slice(member)

    def _drop(self, room: str, sid: str) -> None:
        group = self._rooms.get(room)
        if group is not None:
            group.pop(sid, None)
            if not group:
                del self._rooms[room]
                if self.watch_rooms and not self._has_own(room):
                    self.room_deleted(room)

    def room_created(self, room: str) -> None:
        """A room got its first member (called when :attr:`watch_rooms` is set): the
        ``create-room`` listeners run (subclasses that override this call it too)."""
        for handler in self._room_listeners.get("create-room", ()):
            _run_listener(handler, room)

    def room_deleted(self, room: str) -> None:
        """A room lost its last member (called when :attr:`watch_rooms` is set): the
        ``delete-room`` listeners run."""
        for handler in self._room_listeners.get("delete-room", ()):
            _run_listener(handler, room)

    def on(self, event: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        """Listen to the adapter's room events, as socket.io's adapter emits them:
        ``create-room`` (room) and ``delete-room`` (room) when a room gets its first member or
        loses its last, ``join-room`` and ``leave-room`` (room, sid) on every membership change.
        Useful to track presence; costs nothing while nobody listens. Returns the handler."""
        if event not in ("create-room", "delete-room", "join-room", "leave-room"):
            raise ValueError(f"unknown adapter event {event!r}")
        listeners = self._room_listeners.setdefault(event, [])
        listeners.append(handler)
        if event in ("create-room", "delete-room"):
            self.watch_rooms = True
        elif self._membership_event not in self.membership_observers:
            self.membership_observers.append(self._membership_event)
        return handler

    def _membership_event(self, room: str, sid: str, joined: bool) -> None:
        for handler in self._room_listeners.get("join-room" if joined else "leave-room", ()):
            _run_listener(handler, room, sid)

    def socket_rooms(self, sid: str) -> set[str] | None:
        """The rooms of socket ``sid`` (a new set, its own room included while it is in it), or None."""
        member = self.sids.get(sid)
        if member is None:
            return None
        rooms = set(member.rooms) if member.rooms else set()
        if member.own:
            rooms.add(sid)
        return rooms

    def _room_sids(self, room: str) -> Iterable[str]:
        # The sids in ``room``: its index entry, plus the socket whose own room it is.
        group = self._rooms.get(room)
        if self._has_own(room):
            return (room, *group) if group else (room,)
        return group if group is not None else ()

    # --- selecting sockets --------------------------------------------------------------------

    def _iter_sockets(self, opts: BroadcastOptions) -> Iterator[SocketView]:
        """The connected sockets ``opts`` selects (a snapshot: safe to change rooms meanwhile)."""
        excluded: set[str] = set()
        for room in opts.except_rooms:
            excluded.update(self._room_sids(room))
        if not opts.rooms:
            candidates: Iterable[str] = list(self.sids)
        else:
            chosen: dict[str, None] = {}
            for room in opts.rooms:
                chosen.update(dict.fromkeys(self._room_sids(room)))
            candidates = list(chosen)
        sockets = self.nsp.sockets
        for sid in candidates:
            if sid in excluded:
                continue
            sock = sockets.get(sid)
            if sock is not None:
                yield sock

    def sockets(self, rooms: Iterable[str] = ()) -> set[str]:
        """Ids of the local sockets in any of ``rooms`` (all sockets when empty)."""
        return {s.id for s in self._iter_sockets(BroadcastOptions(rooms=frozenset(rooms)))}

    # --- broadcasting -------------------------------------------------------------------------

    def _prepare(self, data: list[Any], ack_id: int | None, compress: bool = True) -> tuple[list[Any], Any]:
        server = self.nsp.server
        parts: list[Any] = server.parser.encode_packet(EVENT, self.nsp.name, data, ack_id)
        make = server.prepare_message
        if not compress:  # compress(False): the flag travels with the prepared message
            return parts, [make(part, False) for part in parts]
        return parts, [make(part) for part in parts]

    def broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        """Send the EVENT ``data`` (``[event, *args]``) to every socket ``opts`` selects."""
        if self._recovery is not None and not opts.volatile:
            data = self._recovery.record(data, opts)
        _, prepared = self._prepare(data, None, opts.compress)
        self._deliver(prepared, opts, data, None, 0)

    def broadcast_with_ack(
        self,
        data: list[Any],
        opts: BroadcastOptions,
        on_client: OnClient,
        remote: RemoteAcks | None = None,
    ) -> int:
        """Send ``data`` asking each recipient for an ack; returns how many sockets got it.

        One ack id (from the namespace's shared counter) serves every recipient, as in
        socket.io; ``on_client(socket, ack_id)`` runs for each recipient before its packet is
        written, so the caller can register the wait on that socket. In one process there are no
        other servers to tell ``remote`` about.
        """
        ack_id = self.nsp.next_ack_id()
        _, prepared = self._prepare(data, ack_id, opts.compress)
        return self._deliver(prepared, opts, data, on_client, ack_id)

    def _deliver(
        self,
        prepared: list[Any],
        opts: BroadcastOptions,
        data: list[Any],
        on_client: OnClient | None,
        ack_id: int,
    ) -> int:
        """Hand the prepared messages to every selected socket (the room walk, hypersio.adapters.rooms).

        Returns the number of sockets reached. Outgoing any-listeners of each recipient see the
        event (socket.io does the same for broadcasts). Index changes made meanwhile (by
        listeners, or sessions closing) are applied once the loop is done.
        """
        self._delivering += 1
        try:
            delivered: int = _fanout_deliver(
                self._rooms,
                self.sids,
                opts.rooms,
                opts.except_rooms,
                self.nsp.sockets,
                prepared,
                opts.volatile,
                data,
                on_client,
                ack_id,
            )
            self.broadcasts += 1
            self.events_sent += delivered
            return delivered
        finally:
            self._delivering -= 1
            if not self._delivering and self._deferred:
                deferred, self._deferred = self._deferred, []
                for fn in deferred:
                    fn()

    # --- connection state recovery ---------------------------------------------------------------

    def record_packet(self, data: list[Any], opts: BroadcastOptions) -> list[Any] | None:
        """With recovery on, store an event sent outside :meth:`broadcast` (``socket.emit``);
        returns the data to send (the offset appended), unchanged without recovery, or None when
        the adapter sends it itself once stored (the streams adapter, whose offsets are stream
        entry ids)."""
        if self._recovery is None:
            return data
        return self._recovery.record(data, opts)

    def persist_session(self, session: dict[str, Any]) -> None:
        """Keep a disconnected socket's session for a later recovery (no-op when disabled)."""
        if self._recovery is not None:
            self._recovery.persist(session)

    def restore_session(self, pid: str, offset: str) -> SavedSession | Awaitable[SavedSession | None] | None:
        """The saved session ``pid`` plus the events missed since ``offset``, or None; a cluster
        adapter whose sessions live elsewhere returns an awaitable of the same."""
        if self._recovery is None:
            return None
        return self._recovery.restore(pid, offset)

    # --- operations on matching sockets -------------------------------------------------------

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Any]:
        """The sockets ``opts`` selects (async because cluster adapters must ask other nodes)."""
        return list(self._iter_sockets(opts))

    def add_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        """Make the selected sockets join ``rooms``."""
        for sock in list(self._iter_sockets(opts)):
            sock.join(rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        """Make the selected sockets leave ``rooms``."""
        for sock in list(self._iter_sockets(opts)):
            for room in rooms:
                sock.leave(room)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the selected sockets (``close`` also closes their Engine.IO connection)."""
        for sock in list(self._iter_sockets(opts)):
            sock.disconnect(close)

    def server_side_emit(
        self,
        data: list[Any],
        callback: Callable[[BaseException | None, list[Any]], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Send an event to the other servers of a cluster: in one process there are none, so a
        ``callback`` gets no answers at once (as socket.io's in-memory adapter)."""
        if callback is not None:
            callback(None, [])

    async def server_count(self) -> int:
        """How many servers share this adapter (1 in memory)."""
        return 1

    async def init(self) -> None:
        """Get ready before the server accepts clients (a cluster adapter subscribes here)."""

    async def close(self) -> None:
        """Release resources at server shutdown (nothing held in memory)."""
