"""Heartbeat deadlines of every session of a server, on ONE loop timer.

A loop timer per session (uvloop: a TimerHandle, a libuv timer and a context copy) costs about
700 bytes; at 10,000 idle connections that is 7 MB just to remember when to ping. Here a single
timer fires at the earliest deadline of all sessions.

The deadlines are kept in two tiers. Far ones are only a sid appended to the bucket of their
:data:`SLOT` (1/20 s) of loop time: a list slot, 8 bytes, where a heap entry ``(loop_time, sid)``
is a tuple and a float, about 90 (issue 14: one or two per idle connection). When the earliest
deadline of the first bucket comes due, the bucket is drained into a small heap of exact
``(loop_time, sid)`` entries (each session's current deadline read back from it), and deadlines in
slots drained already go straight to that heap. Entries therefore fire at their exact times, in
order, as they would from one heap; only the slots about to come due pay for tuples.

Entries are never removed early: moving a deadline adds a new entry, and the stale one is
skipped when it comes up because it no longer equals (or, in a bucket, no longer falls in the slot
of) the session's ``heartbeat_at``, or the session is gone or closed. A session therefore has at
most a couple of entries at a time, and they are sids, not sessions, so a closed session is not
kept alive by them.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Mapping
from typing import Protocol

from hypersio.engine.outlet import logger

# uvloop's timers have millisecond resolution and may fire up to that much before the requested
# loop time: deadlines that close are due.
_SLACK = 0.001

#: Seconds of loop time per bucket. Wider buckets hold more sids per list (less overhead per
#: deadline: about 80 per bucket at the heartbeat rate of 20,000 idle connections) but have more
#: exact entries in the small heap while they come due.
SLOT = 0.05
_SLOTS_PER_SECOND = 1 / SLOT


def _slot(when: float) -> int:
    # The one rounding used to file a deadline and to check it later: they must agree.
    return int(when * _SLOTS_PER_SECOND)


class Timed(Protocol):
    """What :class:`Heartbeats` needs of a session (``engine.server.session.Session`` has it)."""

    @property
    def id(self) -> str:
        """The key of the session in the table handed to :class:`Heartbeats`."""

    @property
    def closed(self) -> bool:
        """True once the session is closed: its deadlines are skipped."""

    @property
    def heartbeat_at(self) -> float:
        """Loop time of the session's current heartbeat deadline."""

    def on_heartbeat(self) -> None:
        """The deadline passed: send a ping, or close for a missing pong."""


class _Bucket:
    """The sids whose deadline fell in one slot when scheduled, and the earliest such deadline."""

    __slots__ = ("at", "sids")

    def __init__(self, at: float, sid: str) -> None:
        self.at = at
        self.sids = [sid]


class Heartbeats:
    """The heartbeat deadlines of one server's sessions (see the module docstring).

    ``loop`` is the event loop its one timer runs on; the sessions time their other delays on it
    too. ``sessions`` maps a sid to its session: entries hold sids and look the session up.
    """

    __slots__ = ("loop", "_sessions", "_heap", "_buckets", "_slots", "_near_slot", "_handle", "_handle_at", "_firing")

    def __init__(self, loop: asyncio.AbstractEventLoop, sessions: Mapping[str, Timed]) -> None:
        self.loop = loop
        self._sessions = sessions
        # Exact entries: the drained slots' deadlines (and any filed at or before the last one).
        self._heap: list[tuple[float, str]] = []
        # Far deadlines by slot, and the heap of those slots (one int per bucket).
        self._buckets: dict[int, _Bucket] = {}
        self._slots: list[int] = []
        self._near_slot = -(1 << 62)  # the last slot drained into the heap
        self._handle: asyncio.TimerHandle | None = None
        self._handle_at = 0.0
        self._firing = False  # inside _fire: it arms the timer itself once the due entries are done

    def __len__(self) -> int:
        """Entries held (stale ones included until they come up): for tests and debugging."""
        return len(self._heap) + sum(len(bucket.sids) for bucket in self._buckets.values())

    @property
    def armed_at(self) -> float | None:
        """Loop time the timer is set for, or None when it is not set (nothing is due)."""
        return self._handle_at if self._handle is not None else None

    def schedule(self, session: Timed) -> None:
        """Call ``session.on_heartbeat()`` at loop time ``session.heartbeat_at`` (unless it moves again)."""
        when = session.heartbeat_at
        slot = _slot(when)
        if slot <= self._near_slot:
            heapq.heappush(self._heap, (when, session.id))
        else:
            bucket = self._buckets.get(slot)
            if bucket is None:
                self._buckets[slot] = _Bucket(when, session.id)
                heapq.heappush(self._slots, slot)
            else:
                bucket.sids.append(session.id)
                bucket.at = min(bucket.at, when)
        if not self._firing and (self._handle is None or when < self._handle_at):
            self._arm(when)

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle_at = when
        self._handle = self.loop.call_at(when, self._fire)

    def _drain(self, due: float) -> None:
        # Move every bucket whose earliest deadline is due into the exact heap, slot by slot (the
        # slots' deadlines do not overlap, so the heap then holds every due entry, in order).
        heap = self._heap
        slots = self._slots
        buckets = self._buckets
        sessions = self._sessions
        while slots and buckets[slots[0]].at <= due:
            slot = heapq.heappop(slots)
            bucket = buckets.pop(slot)
            self._near_slot = slot
            for sid in dict.fromkeys(bucket.sids):  # a deadline moved within the slot: one entry
                session = sessions.get(sid)
                if session is None or session.closed:
                    continue
                when = session.heartbeat_at
                if _slot(when) == slot:  # else it moved to another slot, which has its entry
                    heapq.heappush(heap, (when, sid))

    def _fire(self) -> None:
        self._handle = None
        heap = self._heap
        sessions = self._sessions
        due = self.loop.time() + _SLACK
        self._firing = True
        try:
            while True:
                # Again each turn: a heartbeat just run may have filed a due deadline in a new bucket.
                if self._slots and self._buckets[self._slots[0]].at <= due:
                    self._drain(due)
                if not heap or heap[0][0] > due:
                    break
                when, sid = heapq.heappop(heap)
                session = sessions.get(sid)
                if session is None or session.closed or session.heartbeat_at != when:
                    continue  # a stale entry: the deadline moved, or the session is gone
                try:
                    session.on_heartbeat()
                except Exception:  # one session's failure must not stop the others' heartbeats
                    logger.exception("session %s: error in the heartbeat", sid)
        finally:
            self._firing = False
            # The earliest deadline left may be older than any the sessions just filed.
            nxt = heap[0][0] if heap else None
            if self._slots:
                first = self._buckets[self._slots[0]].at
                if nxt is None or first < nxt:
                    nxt = first
            if nxt is not None:
                self._arm(nxt)

    def close(self) -> None:
        """Stop the timer and forget every deadline (server shutdown)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._heap.clear()
        self._buckets.clear()
        self._slots.clear()
