"""What ``fetch_sockets`` returns for a socket of another server, and what this server tells the
others about its own sockets.

A :class:`RemoteSocket` carries the socket's id, handshake, rooms and data as that server reported
them (a snapshot, as in socket.io), and acts on the socket through the cluster: ``emit`` is a
broadcast to its id room, ``join``/``leave``/``disconnect`` are cluster-wide operations on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from hypersio.adapters.base import BroadcastOptions, SocketView

__all__ = ["RemoteHandshake", "RemoteSocket", "socket_details"]

_HANDSHAKE_FIELDS = ("headers", "time", "address", "xdomain", "secure", "issued", "url", "query", "auth")


class SocketOperations(Protocol):
    """What a remote socket asks of the cluster adapter that fetched it."""

    def broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        """Send an event to the sockets ``opts`` selects, on every server."""
        ...

    def add_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        """Make the selected sockets join ``rooms`` on every server."""
        ...

    def del_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        """Make the selected sockets leave ``rooms`` on every server."""
        ...

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the selected sockets on every server."""
        ...


def socket_details(sock: SocketView, rooms: Iterable[str]) -> dict[str, Any]:
    """The JSON-safe description of a local socket that a ``fetch_sockets`` answer carries:
    ``{"id", "handshake", "rooms", "data"}`` (what a Node server sends, CLUSTER-NOTES.md §2.4)."""
    shake = sock.handshake
    handshake = {name: getattr(shake, name, None) for name in _HANDSHAKE_FIELDS}
    return {"id": sock.id, "handshake": handshake, "rooms": list(rooms), "data": sock.data}


class RemoteHandshake:
    """The handshake of a remote socket, read as attributes (``.query``) or items (``["query"]``),
    like ``Socket.handshake``; fields a peer did not send are None (``headers``/``query``/``auth``
    are dicts)."""

    __slots__ = _HANDSHAKE_FIELDS

    def __init__(self, fields: Any) -> None:
        if not isinstance(fields, dict):
            fields = {}
        for name in _HANDSHAKE_FIELDS:
            value = fields.get(name)
            if value is None and name in ("headers", "query", "auth"):
                value = {}
            setattr(self, name, value)

    def __getitem__(self, key: str) -> Any:
        """``handshake["query"]`` is ``handshake.query``."""
        if key not in _HANDSHAKE_FIELDS:
            raise KeyError(key)
        return getattr(self, key)

    def __repr__(self) -> str:
        return f"RemoteHandshake(address={getattr(self, 'address', None)!r}, url={getattr(self, 'url', None)!r})"


class RemoteSocket:
    """A socket connected to another server of the cluster (``fetch_sockets`` returns these
    beside the local ``Socket`` objects).

    ``id``, ``handshake``, ``rooms`` (a set) and ``data`` are what its server reported when asked;
    ``emit``, ``join``, ``leave`` and ``disconnect`` reach the socket wherever it is connected.
    """

    __slots__ = ("_adapter", "id", "handshake", "rooms", "data")

    def __init__(self, adapter: SocketOperations, details: dict[str, Any]) -> None:
        self._adapter = adapter
        self.id: str = str(details["id"])
        self.handshake = RemoteHandshake(details.get("handshake"))
        rooms = details.get("rooms")
        self.rooms: set[str] = set(rooms) if isinstance(rooms, list) else set()
        self.data: Any = details.get("data")

    def __repr__(self) -> str:
        return f"<RemoteSocket id={self.id!r} rooms={sorted(self.rooms, key=str)}>"

    def _only_me(self) -> BroadcastOptions:
        return BroadcastOptions(rooms=frozenset((self.id,)))

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` to this socket, on whichever server holds it."""
        self._adapter.broadcast([event, *args], self._only_me())

    def join(self, rooms: str | Iterable[str]) -> None:
        """Make the socket join ``rooms`` (a name or several)."""
        names = [rooms] if isinstance(rooms, str) else list(rooms)
        self._adapter.add_sockets(self._only_me(), names)

    def leave(self, room: str) -> None:
        """Make the socket leave ``room``."""
        self._adapter.del_sockets(self._only_me(), [room])

    def disconnect(self, close: bool = False) -> None:
        """Disconnect the socket from its namespace (``close``: its whole connection)."""
        self._adapter.disconnect_sockets(self._only_me(), close)
