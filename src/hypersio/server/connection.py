"""Connection: the Socket.IO side of one Engine.IO session (socket.io's ``Client`` class).

It owns the packet decoder of that session, routes decoded packets to the namespace sockets the
client joined, handles CONNECT requests and the connect timeout, and turns the session's close
into a disconnect of each of those sockets. Internal: applications see ``socket.client`` at most.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from hypersio.events.dispatch import Router
from hypersio.exceptions import ParseError

if TYPE_CHECKING:  # pragma: no cover
    from hypersio.server.server import Server
    from hypersio.server.socket import Socket

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR = range(5)


class Connection:
    """The Socket.IO state of one Engine.IO session: decoder, joined namespaces, connect timer."""

    def __init__(self, server: Server, session: Any) -> None:
        self.server = server
        self.session = session
        self.id: str = session.id
        self.decoder = server._parser.Decoder(max_attachments=server.max_attachments)
        self.sockets: dict[str, Socket] = {}
        self._connecting: set[str] = set()
        self.closed = False
        self._close_reason: str | None = None
        self._connect_timer: asyncio.TimerHandle | None = None
        if server.connect_timeout:
            self._connect_timer = asyncio.get_running_loop().call_later(
                server.connect_timeout, self._on_connect_timeout
            )
        # The (compiled) router itself is the session's handler: no Python frame per message.
        self._route = Router(self)
        session.on("message", self._route)
        session.on("close", self._on_close)

    def __repr__(self) -> str:
        return f"<Connection {self.id!r} namespaces={sorted(self.sockets)}>"

    # --- incoming -----------------------------------------------------------------------------

    def _parse_failed(self, exc: ParseError) -> None:
        self.server.logger.warning("invalid packet from %s: %s; closing the connection", self.id, exc)
        self.close("parse error")

    def _on_other_packet(self, packet: Any, socket: Socket | None) -> None:
        """Every decoded packet but an EVENT for a joined namespace (hypersio.events.dispatch routes those)."""
        ptype = packet.type
        name = packet.nsp
        if ptype == CONNECT:
            if socket is None and name not in self._connecting:
                self.server._connect(self, name, packet.data)
            else:
                self.server.logger.warning("%s sent CONNECT twice for %s; ignored", self.id, name)
        elif socket is not None:
            socket._on_packet(packet)
        elif ptype == DISCONNECT:
            pass  # the client leaves a namespace we already dropped: nothing to do
        else:
            # socket.io closes a client that talks to a namespace it has not joined.
            self.server.logger.warning("%s sent a packet to %s before joining it; closing", self.id, name)
            self.close("parse error")

    # --- namespace bookkeeping ----------------------------------------------------------------

    def _refuse(self, name: str, message: str, data: Any = None) -> None:
        """Answer a CONNECT with CONNECT_ERROR ``{"message", "data"}`` (data omitted when None)."""
        payload: dict[str, Any] = {"message": message}
        if data is not None:
            payload["data"] = data
        if self.closed:
            return
        for part in self.server._parser.encode_packet(CONNECT_ERROR, name, payload, None):
            self.session.send(part)

    def _joined(self) -> None:
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None

    def _remove(self, socket: Socket) -> None:
        if self.sockets.get(socket.nsp.name) is socket:
            del self.sockets[socket.nsp.name]

    def _on_connect_timeout(self) -> None:
        self._connect_timer = None
        if not self.sockets and not self.closed:
            self.server.logger.info("%s joined no namespace in time; closing", self.id)
            self.close("forced close")

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
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
        for socket in list(self.sockets.values()):
            socket._on_close(reason, description)
        self.sockets.clear()
        self.server._connections.pop(self.id, None)
        reset = getattr(self.decoder, "reset", None)
        if reset is not None:
            reset()
