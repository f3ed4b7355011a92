"""Room bookkeeping and broadcast fan-out for one namespace: the in-memory adapter.

An adapter knows which socket ids are in which rooms and delivers broadcast packets to the
matching sockets. :class:`InMemoryAdapter` is the single-process one; a cluster adapter subclasses
it and forwards broadcasts to other processes before delivering locally (``opts.local`` set means
"this process only").

Fan-out rule (DESIGN.md "Encode once"): a broadcast encodes its packet once, wraps each encoded
part in one ``engine.PreparedMessage`` (which builds each transport's bytes once), then only
hands those objects to every recipient's ``session.send_prepared``. No task, queue or coroutine
per recipient, and a single-room broadcast iterates the room's set directly. The inner loop sits
in :meth:`InMemoryAdapter._deliver` so a compiled fan-out can replace it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._recovery import RecoveryStore, SavedSession

if TYPE_CHECKING:  # pragma: no cover
    from .namespace import Namespace
    from .socket import Socket

EVENT = 2
_EMPTY: set[str] = set()  # shared, never mutated


@dataclass(frozen=True)
class BroadcastOptions:
    """Who a broadcast goes to and how: target rooms (empty = everyone), excluded rooms, flags."""

    rooms: frozenset[str] = frozenset()
    except_rooms: frozenset[str] = frozenset()
    volatile: bool = False
    local: bool = False
    compress: bool = True
    timeout: float | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


class InMemoryAdapter:
    """Rooms and broadcasts of one namespace inside this process.

    ``rooms`` maps a room to the set of socket ids in it; ``sids`` maps a socket id to its rooms.
    Every socket is in the room named by its own id, which is how ``sio.to(sid)`` reaches it.
    """

    def __init__(self, nsp: Namespace) -> None:
        self.nsp = nsp
        self.rooms: dict[str, set[str]] = {}
        self.sids: dict[str, set[str]] = {}
        # While a fan-out iterates a room set, removals are deferred: a send can close a slow
        # consumer synchronously, and mutating the set under the loop would raise.
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
        mine = self.sids.get(sid)
        if mine is None:
            mine = self.sids[sid] = set()
        for room in rooms:
            if room in mine:
                continue
            mine.add(room)
            members = self.rooms.get(room)
            if members is None:
                self.rooms[room] = {sid}
            else:
                members.add(sid)

    def delete(self, sid: str, room: str) -> None:
        """Take socket ``sid`` out of ``room``; an emptied room disappears."""
        if self._delivering:
            self._deferred.append(lambda: self.delete(sid, room))
            return
        mine = self.sids.get(sid)
        if mine is not None:
            mine.discard(room)
        members = self.rooms.get(room)
        if members is not None:
            members.discard(sid)
            if not members:
                del self.rooms[room]

    def del_all(self, sid: str) -> None:
        """Take socket ``sid`` out of every room (on disconnect)."""
        if self._delivering:
            self._deferred.append(lambda: self.del_all(sid))
            return
        mine = self.sids.pop(sid, None)
        if not mine:
            return
        for room in mine:
            members = self.rooms.get(room)
            if members is not None:
                members.discard(sid)
                if not members:
                    del self.rooms[room]

    def socket_rooms(self, sid: str) -> set[str] | None:
        """The rooms of socket ``sid`` (the live set; copy before changing it), or None."""
        return self.sids.get(sid)

    # --- selecting sockets --------------------------------------------------------------------

    def _except_sids(self, except_rooms: frozenset[str]) -> set[str]:
        if len(except_rooms) == 1:
            for room in except_rooms:
                return self.rooms.get(room, _EMPTY)  # live set, read only
        excluded: set[str] = set()
        for room in except_rooms:
            members = self.rooms.get(room)
            if members:
                excluded |= members
        return excluded

    def _targets(self, opts: BroadcastOptions) -> tuple[Iterable[str], set[str]]:
        """(candidate ids, ids to skip) for a broadcast.

        The candidates are a live set (one room) or the id table (no room) whenever possible,
        so the common ``socket.to(room)`` / ``sio.to(room)`` / ``sio.emit`` cases copy nothing;
        only a multi-room target builds a union to drop duplicates. The skip set holds the
        members of the excluded rooms (usually just the sender's id).
        """
        excluded = self._except_sids(opts.except_rooms) if opts.except_rooms else _EMPTY
        rooms = opts.rooms
        if not rooms:
            return self.sids.keys(), excluded
        if len(rooms) == 1:
            for room in rooms:
                return self.rooms.get(room, _EMPTY), excluded
        targets: set[str] = set()
        for room in rooms:
            members = self.rooms.get(room)
            if members:
                targets |= members
        return targets, excluded

    def _iter_sockets(self, opts: BroadcastOptions) -> Iterator[Socket]:
        sockets = self.nsp.sockets
        sids, excluded = self._targets(opts)
        for sid in list(sids):
            if sid in excluded:
                continue
            sock = sockets.get(sid)
            if sock is not None:
                yield sock

    def sockets(self, rooms: Iterable[str] = ()) -> set[str]:
        """Ids of the local sockets in any of ``rooms`` (all sockets when empty)."""
        return {s.id for s in self._iter_sockets(BroadcastOptions(rooms=frozenset(rooms)))}

    # --- broadcasting -------------------------------------------------------------------------

    def _prepare(self, data: list[Any], ack_id: int | None) -> tuple[list[Any], Any]:
        server = self.nsp.server
        parts = server._parser.encode_packet(EVENT, self.nsp.name, data, ack_id)
        make = server._prepare_message
        return parts, [make(part) for part in parts]

    def broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        """Send the EVENT ``data`` (``[event, *args]``) to every socket ``opts`` selects."""
        if self._recovery is not None and not opts.volatile:
            data = self._recovery.record(data, opts)
        _, prepared = self._prepare(data, None)
        sids, excluded = self._targets(opts)
        self._deliver(prepared, sids, excluded, opts.volatile, data, None)

    def broadcast_with_ack(
        self,
        data: list[Any],
        opts: BroadcastOptions,
        on_client: Callable[[Socket, int], None],
    ) -> int:
        """Send ``data`` asking each recipient for an ack; returns how many sockets got it.

        One ack id (from the namespace's shared counter) serves every recipient, as in
        socket.io; ``on_client(socket, ack_id)`` runs for each recipient before its packet is
        written, so the caller can register the wait on that socket.
        """
        ack_id = self.nsp._next_ack_id()
        _, prepared = self._prepare(data, ack_id)
        sids, excluded = self._targets(opts)
        return self._deliver(prepared, sids, excluded, opts.volatile, data, (on_client, ack_id))

    def _deliver(
        self,
        prepared: list[Any],
        sids: Iterable[str],
        excluded: set[str],
        volatile: bool,
        data: list[Any],
        ack: tuple[Callable[[Socket, int], None], int] | None,
    ) -> int:
        """The fan-out loop: hand the prepared messages to each recipient's session.

        Kept small and self-contained so a compiled version can replace it. Returns the number of
        sockets reached. Outgoing any-listeners of each recipient see the event (socket.io does
        the same for broadcasts).
        """
        sockets = self.nsp.sockets
        count = 0
        self._delivering += 1
        try:
            if len(prepared) == 1 and ack is None:
                msg = prepared[0]
                for sid in sids:
                    if excluded and sid in excluded:
                        continue
                    sock = sockets.get(sid)
                    if sock is None or not sock.connected:
                        continue
                    if sock._any_outgoing:
                        sock._notify_outgoing(data[0], data[1:])
                    sock._session.send_prepared(msg, volatile)
                    count += 1
            else:
                # A packet with attachments must arrive whole: dropping one part would desync
                # the client's decoder, so such packets are never volatile.
                volatile = volatile and len(prepared) == 1
                for sid in sids:
                    if excluded and sid in excluded:
                        continue
                    sock = sockets.get(sid)
                    if sock is None or not sock.connected:
                        continue
                    if ack is not None:
                        ack[0](sock, ack[1])
                    if sock._any_outgoing:
                        sock._notify_outgoing(data[0], data[1:])
                    session = sock._session
                    for msg in prepared:
                        session.send_prepared(msg, volatile)
                    count += 1
        finally:
            self._delivering -= 1
            if not self._delivering and self._deferred:
                deferred, self._deferred = self._deferred, []
                for fn in deferred:
                    fn()
        return count

    # --- connection state recovery ---------------------------------------------------------------

    def record_packet(self, data: list[Any], opts: BroadcastOptions) -> list[Any]:
        """With recovery on, store an event sent outside :meth:`broadcast`; returns the data to
        send (the offset appended). Without recovery the data is returned unchanged."""
        if self._recovery is None:
            return data
        return self._recovery.record(data, opts)

    def persist_session(self, session: dict[str, Any]) -> None:
        """Keep a disconnected socket's session for a later recovery (no-op when disabled)."""
        if self._recovery is not None:
            self._recovery.persist(session)

    def restore_session(self, pid: str, offset: str) -> SavedSession | None:
        """The saved session ``pid`` plus the events missed since ``offset``, or None."""
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

    def server_side_emit(self, data: list[Any]) -> None:
        """Send an event to the other servers of a cluster; nothing to do in one process."""

    async def server_count(self) -> int:
        """How many servers share this adapter (1 in memory)."""
        return 1

    def close(self) -> None:
        """Release resources at server shutdown (nothing held in memory)."""
