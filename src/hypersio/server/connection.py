"""Connection: the Socket.IO side of one Engine.IO session (socket.io's ``Client`` class).

It owns the packet decoder of that session, routes decoded packets to the namespace sockets the
client joined, handles CONNECT requests and the connect timeout, and turns the session's close
into a disconnect of each of those sockets. Internal: applications see ``socket.client`` at most.

The connection sits below the namespace and the server: a CONNECT is handed to the ``on_connect``
callable and the end of the connection reported to ``on_closed``, both given by the server.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from hypersio.events.dispatch import Router
from hypersio.exceptions import ParseError
from hypersio.protocol.socketio.packet import CONNECT, CONNECT_ERROR, DISCONNECT
from hypersio.server.socket import Socket

__all__ = ["Connection", "OnClosed", "OnConnect"]

#: ``on_connect(conn, name, auth)``: the client asked to join namespace ``name``.
OnConnect = Callable[["Connection", str, Any], None]
#: ``on_closed(conn)``: the connection is closed and its sockets disconnected.
OnClosed = Callable[["Connection"], None]


_MAX_DUPLICATE_CONNECTS = 10


class Connection:
    """The Socket.IO state of one Engine.IO session: decoder, joined namespaces, connect timer.

    ``parser`` is the codec module, ``max_attachments`` bounds attachments per packet,
    ``connect_timeout`` (seconds, 0 for none) closes a connection that joins no namespace in time.
    ``sockets`` (namespace name -> socket) is changed by the namespaces and sockets, the names whose
    CONNECT is being decided through ``begin_connecting`` / ``end_connecting``; ``decoder`` and
    ``sockets`` keep their identity for the connection's life (the incoming dispatch resolved them once).
    """

    # Slotted: an idle server holds one Connection per client, and its attribute values array
    # plus the per-instance dict machinery cost more than the slots (issue 14).
    __slots__ = (
        "session",
        "id",
        "decoder",
        "sockets",
        "_connecting",
        "closed",
        "logger",
        "_parser",
        "_on_connect",
        "_on_closed",
        "_on_joined",
        "joined",
        "_close_reason",
        "close_reason",
        "_connect_timer",
        "_duplicate_connects",
        "_budget",
        "_unfinished",
        "_route",
    )

    def __init__(
        self,
        session: Any,
        parser: ModuleType,
        *,
        max_attachments: int,
        connect_timeout: float,
        logger: logging.Logger,
        on_connect: OnConnect,
        on_closed: OnClosed,
        on_joined: Callable[[Connection], None] | None = None,
        budget: Any = None,
    ) -> None:
        self.session = session
        self.id: str = session.id
        self.decoder = parser.Decoder(max_attachments=max_attachments)
        self.sockets: dict[str, Socket] = {}
        # Names whose CONNECT is being decided: a set only while there are some (an idle server
        # holds one Connection per client, and an empty set is 216 bytes).
        self._connecting: set[str] | None = None
        self.closed = False
        self.logger = logger
        self._parser = parser
        self._on_connect = on_connect
        self._on_closed = on_closed
        self._on_joined = on_joined
        #: True once a namespace accepted the client.
        self.joined = False
        self._close_reason: str | None = None
        #: Why the connection closed ("parse error", "transport close", ...), once it has.
        self.close_reason: str | None = None
        self._connect_timer: asyncio.TimerHandle | None = None
        self._duplicate_connects = 0
        # The engine's MemoryBudget (or None): told the size of a packet waiting for its
        # attachments, which a client could otherwise leave unfinished on purpose.
        self._budget = budget
        self._unfinished = 0
        if connect_timeout:
            self._connect_timer = asyncio.get_running_loop().call_later(connect_timeout, self._on_connect_timeout)
        # The (compiled) router itself is the session's handler: no Python frame per message.
        self._route = Router(self)
        session.on("message", self._route)
        session.on("close", self._on_close)

    def __repr__(self) -> str:
        return f"<Connection {self.id!r} namespaces={sorted(self.sockets)}>"

    @property
    def events_received(self) -> int:
        """EVENT packets received on this connection so far (the router counts them, for metrics)."""
        events: int = self._route.events
        return events

    # --- incoming (called by the Router of hypersio.events.dispatch) ----------------------------

    def parse_failed(self, exc: ParseError) -> None:
        """A message did not decode: close the connection ("parse error")."""
        self.logger.warning("invalid packet from %s: %s; closing the connection", self.id, exc)
        self.close("parse error")

    def handle_other_packet(self, packet: Any, socket: Socket | None) -> None:
        """Every decoded packet but an EVENT for a joined namespace (the Router takes those)."""
        ptype = packet.type
        name = packet.nsp
        if ptype == CONNECT:
            if socket is None and not self.is_connecting(name):
                self._on_connect(self, name, packet.data)
            else:
                self._duplicate_connects += 1
                if self._duplicate_connects == 1:
                    self.logger.warning("%s sent CONNECT twice for %s; ignored", self.id, name)
                elif self._duplicate_connects > _MAX_DUPLICATE_CONNECTS:
                    # A client repeating itself this much is not confused but hostile: one line, then out.
                    self.logger.warning("%s sent %d duplicate CONNECTs; closing", self.id, self._duplicate_connects)
                    self.close("parse error")
        elif socket is not None:
            socket.handle_packet(packet)
        elif ptype == DISCONNECT:
            # The client leaves a namespace we already dropped (nothing to do), or one whose
            # CONNECT is still being decided: that join is called off (it must not leave a socket,
            # and a namespace, behind for a client that is gone from it).
            self.end_connecting(name)
        else:
            # socket.io closes a client that talks to a namespace it has not joined.
            self.logger.warning("%s sent a packet to %s before joining it; closing", self.id, name)
            self.close("parse error")

    # --- joins being decided (middlewares, dynamic namespaces, session recovery) ----------------

    def begin_connecting(self, name: str) -> None:
        """The CONNECT for namespace ``name`` is being decided (a second one is a duplicate)."""
        if self._connecting is None:
            self._connecting = set()
        self._connecting.add(name)

    def end_connecting(self, name: str) -> bool:
        """The decision on ``name`` is over (or the client called it off with a DISCONNECT):
        True when it was still pending, False when the client left meanwhile."""
        pending = self._connecting
        if pending is None or name not in pending:
            return False
        pending.discard(name)
        if not pending:
            self._connecting = None
        return True

    def is_connecting(self, name: str) -> bool:
        """True while the CONNECT for ``name`` is being decided."""
        return self._connecting is not None and name in self._connecting

    @property
    def connecting(self) -> frozenset[str]:
        """The namespaces whose CONNECT is being decided (a snapshot)."""
        return frozenset(self._connecting or ())

    def packet_unfinished(self, part: str | bytes | None) -> None:
        """The decoder kept ``part`` of a packet waiting for its attachments (None: nothing is
        held any more); the router calls it, the memory budget counts it."""
        self._unfinished = 0 if part is None else self._unfinished + len(part)
        if self._budget is not None and not self.closed:
            self._budget.set_input(self, self._unfinished)

    def budget_size(self, kind: str) -> int:
        """``BudgetHolder``: the bytes of the unfinished packet the decoder holds."""
        return self._unfinished if kind == "input" and not self.closed else 0

    def budget_close(self, kind: str) -> None:
        """``BudgetHolder``: the unfinished input of all connections is past its limit and this
        client holds among the most: close it (its sockets see "transport error")."""
        self.close("transport error")

    # --- namespace bookkeeping (called by the namespaces and their sockets) -----------------------

    def refuse(self, name: str, message: str, data: Any = None) -> None:
        """Answer a CONNECT with CONNECT_ERROR ``{"message", "data"}`` (data omitted when None)."""
        payload: dict[str, Any] = {"message": message}
        if data is not None:
            payload["data"] = data
        if self.closed:
            return
        for part in self._parser.encode_packet(CONNECT_ERROR, name, payload, None):
            self.session.send(part)

    def namespace_joined(self) -> None:
        """A namespace accepted the client: the connect timeout no longer applies."""
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        if not self.joined:
            self.joined = True
            if self._on_joined is not None:
                self._on_joined(self)

    def remove_socket(self, socket: Socket) -> None:
        """Forget a socket that left its namespace."""
        if self.sockets.get(socket.nsp.name) is socket:
            del self.sockets[socket.nsp.name]

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if not self.sockets and not self.closed:
            self.logger.info("%s joined no namespace in time; closing", self.id)
            # Not "forced close": that one keeps a polling session routable for ping_timeout to
            # hand over what is queued, and a client that never joined has nothing to receive.
            self.close("transport error")

    # --- closing ------------------------------------------------------------------------------

    def disconnect_all(self) -> None:
        """Disconnect every namespace socket (each gets DISCONNECT), then close the session."""
        for socket in list(self.sockets.values()):
            socket.disconnect()
        self.close("forced close")

    def close(self, reason: str = "forced close") -> None:
        """Close the Engine.IO session; its sockets disconnect with ``reason``."""
        if self.closed:
            return
        if self._close_reason is None:
            self._close_reason = reason
        self.session.close(reason)
        # The engine normally reports the close through the "close" event; make sure the
        # sockets are told even if this session implementation closes silently.
        self._on_close(reason)

    def _on_close(self, reason: str, description: Any = None) -> None:
        if self.closed:
            return
        self.closed = True
        reason = self._close_reason or reason
        self.close_reason = reason
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        for socket in list(self.sockets.values()):
            socket.handle_close(reason, description)
        self.sockets.clear()
        self._unfinished = 0
        if self._budget is not None:
            self._budget.release(self)
        self._on_closed(self)
        reset = getattr(self.decoder, "reset", None)
        if reset is not None:
            reset()
