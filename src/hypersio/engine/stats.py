"""EngineStats: the traffic counters of one Engine.IO server, read when metrics are scraped.

Counting must cost nothing on the hot paths, so nothing here is called per message: each HTTP
or WebSocket connection counts its own bytes in plain fields (``bytes_received`` on the
connection, ``bytes_written`` and ``volatile_dropped`` on its corked output buffer, in C in the
compiled twin), and folds them into this object when it closes. Rare events (a slow client
closed, a volatile message dropped for a polling client) are counted here directly. The sums
over the connections still open are made only when someone asks (:meth:`totals`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["EngineStats"]


class EngineStats:
    """Counters of closed connections plus rare events; see :meth:`totals` for the live view.

    ``bytes_in``/``bytes_out``: bytes read from and handed to the sockets of connections already
    closed; ``volatile_dropped``: volatile messages dropped (closed connections' counts plus every
    long-polling drop); ``slow_closes``: connections or sessions closed because the client did
    not read what was sent (the write buffer limit); ``budget_closes``: connections closed
    because a total over all connections passed its limit (``engine/budget.py``); ``upgrades``:
    sessions moved from long-polling to WebSocket.
    """

    __slots__ = ("bytes_in", "bytes_out", "volatile_dropped", "slow_closes", "budget_closes", "upgrades")

    def __init__(self) -> None:
        self.bytes_in = 0
        self.bytes_out = 0
        self.volatile_dropped = 0
        self.slow_closes = 0
        self.budget_closes = 0
        self.upgrades = 0

    def connection_closed(self, conn: Any) -> None:
        """Fold the counters of a connection that is gone (called once, by the connection)."""
        self.bytes_in += conn.bytes_received
        self.bytes_out += conn.bytes_written
        self.volatile_dropped += conn.volatile_dropped

    def totals(self, open_connections: Iterable[Any]) -> dict[str, int]:
        """The counters so far: the closed connections' plus those of ``open_connections``."""
        bytes_in, bytes_out, dropped = self.bytes_in, self.bytes_out, self.volatile_dropped
        for conn in open_connections:
            bytes_in += conn.bytes_received
            bytes_out += conn.bytes_written
            dropped += conn.volatile_dropped
        return {
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "volatile_dropped": dropped,
            "slow_closes": self.slow_closes,
            "budget_closes": self.budget_closes,
            "upgrades": self.upgrades,
        }
