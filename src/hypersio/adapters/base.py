"""What every adapter shares: :class:`BroadcastOptions` (who a broadcast goes to) and the protocols
of what an adapter reads from the namespace, server and sockets above it.

The adapters sit below the server: ``hypersio.server``'s ``Namespace``, ``Server`` and ``Socket``
implement :class:`NamespaceView`, :class:`ServerView` and :class:`SocketView`, so no adapter
imports the server (socket.io's adapter package sits below its server the same way).
:class:`BroadcastAdapter` is the other direction: what a broadcast operator asks of an adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, Protocol

from hypersio.events.acks import PendingAcks

__all__ = [
    "BroadcastAdapter",
    "RemoteAcks",
    "BroadcastOptions",
    "NamespaceView",
    "OnClient",
    "RecoverySettings",
    "ServerView",
    "SocketView",
]

_NO_ROOMS: frozenset[str] = frozenset()
_FIELDS = ("rooms", "except_rooms", "volatile", "local", "compress", "timeout")


class BroadcastOptions:
    """Who a broadcast goes to and how: target rooms (empty = everyone), excluded rooms, flags.

    Immutable by contract: broadcast operators share them, and every chaining method makes a
    changed copy with :meth:`replace`. A plain slotted class rather than a frozen dataclass,
    because ``sio.to(room).emit(...)`` builds one per broadcast and a frozen dataclass costs
    several microseconds to copy (``dataclasses.replace``), more than encoding the event.
    ``extra`` is free-form data for adapters; it is not compared.
    """

    __slots__ = ("rooms", "except_rooms", "volatile", "local", "compress", "timeout", "extra")

    def __init__(
        self,
        rooms: frozenset[str] = _NO_ROOMS,
        except_rooms: frozenset[str] = _NO_ROOMS,
        volatile: bool = False,
        local: bool = False,
        compress: bool = True,
        timeout: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.rooms = rooms
        self.except_rooms = except_rooms
        self.volatile = volatile
        self.local = local
        self.compress = compress
        self.timeout = timeout
        self.extra: dict[str, Any] = {} if extra is None else extra

    def replace(self, **changes: Any) -> BroadcastOptions:
        """A copy with ``changes`` (field=value) applied; this object is left as it is."""
        copy = BroadcastOptions.__new__(BroadcastOptions)
        copy.rooms = self.rooms
        copy.except_rooms = self.except_rooms
        copy.volatile = self.volatile
        copy.local = self.local
        copy.compress = self.compress
        copy.timeout = self.timeout
        copy.extra = self.extra
        for name, value in changes.items():
            if name not in _FIELDS and name != "extra":
                raise TypeError(f"BroadcastOptions has no field {name!r}")
            setattr(copy, name, value)
        return copy

    def key(self) -> tuple[Any, ...]:
        """The compared fields, in order (``extra`` is not one)."""
        return (self.rooms, self.except_rooms, self.volatile, self.local, self.compress, self.timeout)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BroadcastOptions) or other.__class__ is not BroadcastOptions:
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"BroadcastOptions({fields})"


class RecoverySettings(Protocol):
    """The connection state recovery settings an adapter applies
    (:class:`hypersio.adapters.recovery.Recovery`)."""

    @property
    def max_disconnection_duration(self) -> float:
        """Seconds a disconnected socket's session and the packets sent meanwhile are kept."""
        ...


class SocketView(Protocol):
    """What an adapter, its room walk and a broadcast with acks use of a socket.

    ``session`` is the Engine.IO session (read once, when the socket's room entry is bound);
    ``any_outgoing_listeners`` is read from the instance dict for every broadcast that reaches the
    socket, and ``notify_outgoing`` called when it is not empty; ``acks`` is where a broadcast
    with acks registers its wait.
    """

    @property
    def id(self) -> str:
        """The socket id."""
        ...

    @property
    def session(self) -> Any:
        """The Engine.IO session the socket's packets are written to."""
        ...

    @property
    def acks(self) -> PendingAcks:
        """The acks the socket waits for."""
        ...

    @property
    def any_outgoing_listeners(self) -> tuple[Callable[..., Any], ...]:
        """The socket's outgoing catch-all listeners."""
        ...

    def notify_outgoing(self, event: Any, args: list[Any] | tuple[Any, ...]) -> None:
        """Tell the outgoing listeners about an event sent to the socket."""
        ...

    def join(self, rooms: str | Iterable[str]) -> None:
        """Join rooms."""
        ...

    def leave(self, room: str) -> None:
        """Leave a room."""
        ...

    def disconnect(self, close: bool = False) -> None:
        """Disconnect from the namespace (``close``: the whole connection)."""
        ...

    @property
    def handshake(self) -> Any:
        """What the client sent when it connected (a cluster adapter reports it to other servers)."""
        ...

    @property
    def data(self) -> Any:
        """The application's data of the socket (reported to other servers too)."""
        ...


class ServerView(Protocol):
    """What an adapter uses of the server: its codec, recovery settings and message preparation."""

    @property
    def parser(self) -> ModuleType:
        """The packet codec module (``encode_packet``, ``Decoder``)."""
        ...

    @property
    def connection_state_recovery(self) -> RecoverySettings | None:
        """The recovery settings, None when recovery is off."""
        ...

    def prepare_message(self, data: str | bytes, compress: bool = True) -> Any:
        """One encoded part, wrapped so that each transport's bytes are built once
        (``compress=False``: never compressed, for ``compress(False)`` broadcasts)."""
        ...


class NamespaceView(Protocol):
    """What an adapter uses of its namespace."""

    @property
    def name(self) -> str:
        """The namespace name."""
        ...

    @property
    def server(self) -> ServerView:
        """The server the namespace belongs to."""
        ...

    @property
    def sockets(self) -> Mapping[str, SocketView]:
        """Socket id -> the connected socket (a dict: the room walk reads it in C)."""
        ...

    def next_ack_id(self) -> int:
        """A fresh ack id from the namespace's one id source (shared with its sockets)."""
        ...

    def on_server_side_emit(self, data: list[Any], ack: Callable[[Any], None] | None) -> None:
        """Another server's ``server_side_emit``: run this namespace's listeners of ``data[0]``
        with ``data[1:]``; ``ack`` (when the sender waits for answers) takes the first answer."""
        ...


#: ``on_client(socket, ack_id)``: run for each recipient of a broadcast with acks, before its
#: packet is written.
OnClient = Callable[[SocketView, int], None]


class RemoteAcks(Protocol):
    """What a cluster adapter reports to a broadcast with acks about the other servers' clients.

    The broadcast is done when every expected server has reported its client count and that many
    answers (plus the local ones) have arrived, or when its timeout fires.
    """

    def expect_servers(self, count: int | None) -> None:
        """``count`` other servers were asked and will each report a client count; None (called
        from inside ``broadcast_with_ack``) means "some, the number follows"."""
        ...

    def client_count(self, count: int) -> None:
        """One other server reached ``count`` of its clients."""
        ...

    def answer(self, value: Any) -> None:
        """One client of another server answered (its first ack argument)."""
        ...

    def give_up(self, error: BaseException) -> None:
        """The other servers will not all answer (the cluster request timed out)."""
        ...


class BroadcastAdapter(Protocol):
    """What a broadcast operator asks of an adapter (the in-memory one, a cluster adapter, or the
    adapter face of a dynamic namespace that spans its children)."""

    @property
    def nsp(self) -> NamespaceView:
        """The namespace the adapter serves."""
        ...

    def broadcast(self, data: list[Any], opts: BroadcastOptions) -> None:
        """Send the EVENT ``data`` to every socket ``opts`` selects."""
        ...

    def broadcast_with_ack(
        self, data: list[Any], opts: BroadcastOptions, on_client: OnClient, remote: RemoteAcks | None = None
    ) -> int:
        """Send ``data`` asking each recipient for an ack; returns how many local sockets got it
        (a cluster adapter reports the other servers' clients to ``remote``)."""
        ...

    async def fetch_sockets(self, opts: BroadcastOptions) -> list[Any]:
        """The sockets ``opts`` selects."""
        ...

    def add_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        """Make the selected sockets join ``rooms``."""
        ...

    def del_sockets(self, opts: BroadcastOptions, rooms: list[str]) -> None:
        """Make the selected sockets leave ``rooms``."""
        ...

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        """Disconnect the selected sockets."""
        ...

    def server_side_emit(
        self,
        data: list[Any],
        callback: Callable[[BaseException | None, list[Any]], None] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Send ``data`` to the other servers' listeners; ``callback(err, answers)`` collects one
        answer per server when given."""
        ...

    async def server_count(self) -> int:
        """How many servers serve this namespace, this one included."""
        ...
