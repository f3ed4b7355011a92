"""What the two transports (``polling``, ``websocket``) need of the session they carry.

The session (``engine.server.session.Session``) sits above its transports: it creates them,
sends through them and upgrades from one to the other. They report back through the methods
declared here, never by importing it.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["TransportSession"]


class TransportSession(Protocol):
    """The session as a transport sees it (``Session`` implements it)."""

    @property
    def id(self) -> str:
        """The session id, for log lines."""

    @property
    def closed(self) -> bool:
        """True once the session is closed."""

    @property
    def carrier(self) -> Any:
        """The transport carrying the session now."""

    @property
    def upgrading(self) -> Any:
        """The WebSocket transport being probed to take over the session, or None."""

    @property
    def peer(self) -> str:
        """``host:port`` of the client of the handshake, for log lines."""

    def handle_packet(self, ptype: int, data: str | bytes | None) -> None:
        """An Engine.IO packet arrived on the carrier."""

    def handle_probe_packet(self, ws: Any, ptype: int, data: str | bytes | None) -> None:
        """An Engine.IO packet arrived on ``ws``, the WebSocket being probed for an upgrade."""

    def upgrade_failed(self, ws: Any) -> None:
        """The probe over ``ws`` ended without an upgrade: the session stays where it is."""

    def close(self, reason: str = "forced close", description: Any = None) -> None:
        """Close the session for ``reason`` (one of the JavaScript close reasons)."""

    def protocol_error(self, reason: str, description: str) -> None:
        """The client broke the protocol: log ``description`` and close for ``reason``."""

    def unregister(self) -> None:
        """The closed session's last packet was delivered: forget it now."""
