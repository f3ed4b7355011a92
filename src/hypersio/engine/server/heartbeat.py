"""Heartbeat deadlines of every session of a server, on ONE loop timer.

A loop timer per session (uvloop: a TimerHandle, a libuv timer and a context copy) costs about
700 bytes; at 10,000 idle connections that is 7 MB just to remember when to ping. Here each
deadline is a ``(loop_time, sid)`` entry in a heap and a single timer fires at the earliest one.

Entries are never removed early: moving a deadline pushes a new entry, and the stale one is
skipped when it comes up because it no longer equals the session's ``heartbeat_at`` (or the
session is gone or closed). A session therefore has at most a couple of entries at a time, and the heap
holds sids, not sessions, so a closed session is not kept alive by it.
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


class Heartbeats:
    """The heap of heartbeat deadlines of one server's sessions (see the module docstring).

    ``loop`` is the event loop its one timer runs on; the sessions time their other delays on it too.
    """

    __slots__ = ("loop", "_sessions", "_heap", "_handle", "_handle_at", "_firing")

    def __init__(self, loop: asyncio.AbstractEventLoop, sessions: Mapping[str, Timed]) -> None:
        self.loop = loop
        self._sessions = sessions
        self._heap: list[tuple[float, str]] = []
        self._handle: asyncio.TimerHandle | None = None
        self._handle_at = 0.0
        self._firing = False  # inside _fire: it arms the timer itself once the due entries are done

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def armed_at(self) -> float | None:
        """Loop time the timer is set for, or None when it is not set (nothing is due)."""
        return self._handle_at if self._handle is not None else None

    def schedule(self, session: Timed) -> None:
        """Call ``session.on_heartbeat()`` at loop time ``session.heartbeat_at`` (unless it moves again)."""
        when = session.heartbeat_at
        heapq.heappush(self._heap, (when, session.id))
        if not self._firing and (self._handle is None or when < self._handle_at):
            self._arm(when)

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle_at = when
        self._handle = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        heap = self._heap
        sessions = self._sessions
        due = self.loop.time() + _SLACK
        self._firing = True
        try:
            while heap and heap[0][0] <= due:
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
            # The earliest deadline left may be older than any the sessions just pushed.
            if heap:
                self._arm(heap[0][0])

    def close(self) -> None:
        """Stop the timer and forget every deadline (server shutdown)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._heap.clear()
