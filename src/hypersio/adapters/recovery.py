"""Connection state recovery storage for the in-memory adapter (socket.io's session-aware adapter).

With ``Server(connection_state_recovery=Recovery(...))`` every non-volatile event without ack
that a namespace sends gets an offset string appended as its last argument and is kept for
``max_disconnection_duration`` seconds; a socket that drops for a recoverable reason leaves its
session (sid, pid, rooms, data) here. A client reconnecting with ``{"pid", "offset"}`` in its
CONNECT auth gets the same sid, its rooms and data back, and the events it missed replayed
before the CONNECT reply.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from hypersio.adapters.base import BroadcastOptions

__all__ = ["RECOVERABLE_REASONS", "Recovery", "RecoveryStore", "SavedSession"]

# Disconnect reasons after which a client may come back and recover (as in socket.io).
RECOVERABLE_REASONS = frozenset(
    {
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    }
)


@dataclass(frozen=True)
class Recovery:
    """Connection state recovery settings (``Server(connection_state_recovery=Recovery())``).

    A client that lost its connection for less than ``max_disconnection_duration`` seconds gets
    back its socket id, rooms and ``data``, plus the events it missed; with
    ``skip_middlewares`` the middlewares are not run again for such a client.
    """

    max_disconnection_duration: float = 120.0
    skip_middlewares: bool = True


@dataclass
class SavedSession:
    """What a recovered socket gets back."""

    sid: str
    pid: str
    rooms: list[str]
    data: Any
    missed: list[list[Any]]


class RecoveryStore:
    """Recent packets (by offset) and sessions of disconnected sockets, both expiring."""

    def __init__(self, max_disconnection_duration: float) -> None:
        self.max_age = float(max_disconnection_duration)
        self._prefix = secrets.token_hex(4)
        self._seq = 0
        # (seq, offset, opts, data, stored_at); seq increases by one per packet
        self._packets: deque[tuple[int, str, BroadcastOptions, list[Any], float]] = deque()
        self._offsets: dict[str, int] = {}
        self._sessions: dict[str, tuple[dict[str, Any], float]] = {}

    def _expire(self, now: float) -> None:
        limit = now - self.max_age
        packets = self._packets
        while packets and packets[0][4] < limit:
            _, offset, _, _, _ = packets.popleft()
            self._offsets.pop(offset, None)
        sessions = self._sessions
        while sessions:
            pid = next(iter(sessions))
            if sessions[pid][1] >= limit:
                break
            del sessions[pid]

    def record(self, data: list[Any], opts: BroadcastOptions) -> list[Any]:
        """Store an outgoing event; returns its data with the offset appended."""
        now = time.monotonic()
        self._expire(now)
        self._seq += 1
        offset = f"{self._prefix}-{self._seq}"
        data = [*data, offset]
        self._packets.append((self._seq, offset, opts, data, now))
        self._offsets[offset] = self._seq
        return data

    def persist(self, session: dict[str, Any]) -> None:
        """Keep a disconnected socket's session (``sid``, ``pid``, ``rooms``, ``data``)."""
        now = time.monotonic()
        self._expire(now)
        self._sessions.pop(session["pid"], None)
        self._sessions[session["pid"]] = (session, now)

    def restore(self, pid: str, offset: str) -> SavedSession | None:
        """The session ``pid`` with the events sent after ``offset``, or None if unrecoverable."""
        self._expire(time.monotonic())
        entry = self._sessions.pop(pid, None)
        if entry is None:
            return None
        session = entry[0]
        seq = self._offsets.get(offset)
        if seq is None:
            return None
        rooms = set(session["rooms"])
        missed = []
        first = self._packets[0][0] if self._packets else seq + 1
        for i in range(seq - first + 1, len(self._packets)):
            _, _, opts, data, _ = self._packets[i]
            if opts.rooms and not (opts.rooms & rooms):
                continue
            if opts.except_rooms & rooms:
                continue
            missed.append(data)
        return SavedSession(session["sid"], pid, list(session["rooms"]), session["data"], missed)
