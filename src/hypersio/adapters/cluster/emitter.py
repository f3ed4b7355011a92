"""Emitters: publish into a Socket.IO cluster from a program that is not a server (a Django view, a
Celery task, a cron script), as ``@socket.io/redis-emitter`` 5.x does (CLUSTER-NOTES.md §5).

An emitter subscribes to nothing and answers nothing: it sends broadcasts (rooms, except,
volatile, compress, binary anywhere), ``sockets_join``/``sockets_leave``/``disconnect_sockets``
and server-side emits over the classic adapter's channels, which both hypersio's and Node's
classic adapters apply. Acks, ``fetch_sockets`` and ``server_count`` need a server.

:class:`EmitterMessages` is the sans-I/O half (what to publish where); :class:`RedisEmitter`
(blocking redis-py) and :class:`AsyncRedisEmitter` (``redis.asyncio``) only publish its output.
Every chaining method returns a new emitter sharing the same Redis client.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from hypersio.adapters.cluster import notepack
from hypersio.adapters.cluster.classic import REMOTE_DISCONNECT, REMOTE_JOIN, REMOTE_LEAVE, SERVER_SIDE_EMIT
from hypersio.adapters.cluster.wire import dumps

__all__ = ["AsyncRedisEmitter", "EmitterMessages", "RedisEmitter"]

_RESERVED = frozenset(("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"))
_UID = "emitter"

E = TypeVar("E", bound="_EmitterBase")


def _names(rooms: str | Iterable[str]) -> tuple[str, ...]:
    return (rooms,) if isinstance(rooms, str) else tuple(rooms)


class EmitterMessages:
    """What an emitter publishes, without I/O: each method returns ``(channel, payload)``.

    ``key`` is the channel prefix (Node's ``key``), ``nsp`` the namespace; ``rooms``,
    ``except_rooms`` and ``flags`` the target.
    """

    __slots__ = ("key", "nsp", "rooms", "except_rooms", "flags")

    def __init__(
        self,
        key: str = "socket.io",
        nsp: str = "/",
        rooms: tuple[str, ...] = (),
        except_rooms: tuple[str, ...] = (),
        flags: dict[str, bool] | None = None,
    ) -> None:
        self.key = key
        self.nsp = nsp
        self.rooms = rooms
        self.except_rooms = except_rooms
        self.flags: dict[str, bool] = dict(flags or {})

    def _request_channel(self) -> str:
        return f"{self.key}-request#{self.nsp}#"

    def broadcast(self, event: str, args: tuple[Any, ...]) -> tuple[str, bytes]:
        """An EVENT to the target, as the emitter's msgpack ``[uid, packet, opts]``."""
        if not isinstance(event, str):
            raise TypeError("the event name must be a str")
        if event in _RESERVED:
            raise ValueError(f'"{event}" is a reserved event name')
        if args and callable(args[-1]):
            raise ValueError("Acknowledgements are not supported by an emitter")
        channel = f"{self.key}#{self.nsp}#"
        if len(self.rooms) == 1:
            channel += f"{self.rooms[0]}#"
        packet = {"type": 2, "data": [event, *args], "nsp": self.nsp}
        opts = {"rooms": list(self.rooms), "flags": self.flags, "except": list(self.except_rooms)}
        return channel, notepack.pack([_UID, packet, opts])

    def _opts(self) -> dict[str, Any]:
        return {"rooms": list(self.rooms), "except": list(self.except_rooms)}

    def sockets_join(self, rooms: str | Iterable[str]) -> tuple[str, bytes]:
        """Make the targeted sockets join ``rooms``."""
        message = {"type": REMOTE_JOIN, "opts": self._opts(), "rooms": list(_names(rooms))}
        return self._request_channel(), dumps(message)

    def sockets_leave(self, rooms: str | Iterable[str]) -> tuple[str, bytes]:
        """Make the targeted sockets leave ``rooms``."""
        message = {"type": REMOTE_LEAVE, "opts": self._opts(), "rooms": list(_names(rooms))}
        return self._request_channel(), dumps(message)

    def disconnect_sockets(self, close: bool) -> tuple[str, bytes]:
        """Disconnect the targeted sockets (``close``: their whole connections)."""
        message = {"type": REMOTE_DISCONNECT, "opts": self._opts(), "close": bool(close)}
        return self._request_channel(), dumps(message)

    def server_side_emit(self, event: str, args: tuple[Any, ...]) -> tuple[str, bytes]:
        """An event for the servers' own listeners of the namespace."""
        if event in _RESERVED or event in ("connection", "new_namespace"):
            raise ValueError(f'"{event}" is a reserved event name')
        if args and callable(args[-1]):
            raise ValueError("Acknowledgements are not supported by an emitter")
        message = {"uid": _UID, "type": SERVER_SIDE_EMIT, "data": [event, *args]}
        return self._request_channel(), dumps(message)


class _EmitterBase:
    """The chaining shared by both emitters: each step copies the target, sharing the client."""

    def __init__(self, client: Any, owns_client: bool, messages: EmitterMessages) -> None:
        self._client = client
        self._owns_client = owns_client
        self._messages = messages

    def _with(self: E, **changes: Any) -> E:
        m = self._messages
        fields: dict[str, Any] = {
            "key": m.key,
            "nsp": m.nsp,
            "rooms": m.rooms,
            "except_rooms": m.except_rooms,
            "flags": m.flags,
        }
        fields.update(changes)
        copy = object.__new__(type(self))
        _EmitterBase.__init__(copy, self._client, False, EmitterMessages(**fields))
        return copy

    def of(self: E, nsp: str) -> E:
        """The same emitter for namespace ``nsp`` (a leading ``/`` is added when missing)."""
        return self._with(nsp=nsp if nsp.startswith("/") else "/" + nsp, rooms=(), except_rooms=(), flags={})

    def to(self: E, rooms: str | Iterable[str]) -> E:
        """Target the sockets in ``rooms`` too (a name or several)."""
        added = tuple(r for r in _names(rooms) if r not in self._messages.rooms)
        return self._with(rooms=self._messages.rooms + added)

    def in_(self: E, rooms: str | Iterable[str]) -> E:
        """Alias of :meth:`to`."""
        return self.to(rooms)

    def except_(self: E, rooms: str | Iterable[str]) -> E:
        """Skip the sockets in ``rooms``."""
        added = tuple(r for r in _names(rooms) if r not in self._messages.except_rooms)
        return self._with(except_rooms=self._messages.except_rooms + added)

    @property
    def volatile(self: E) -> E:
        """Events that may be dropped for clients that cannot take them right now."""
        return self._with(flags={**self._messages.flags, "volatile": True})

    def compress(self: E, flag: bool) -> E:
        """Set the compression flag of the events."""
        return self._with(flags={**self._messages.flags, "compress": bool(flag)})


class RedisEmitter(_EmitterBase):
    """A blocking emitter (redis-py), for code that has no event loop: every method publishes at
    once and returns when Redis took the message.

    ``RedisEmitter("redis://127.0.0.1:6379/0", key="socket.io")`` or an existing ``redis.Redis``
    client; ``close()`` closes the connection the emitter made.
    """

    def __init__(self, url_or_client: Any = "redis://127.0.0.1:6379/0", key: str = "socket.io", nsp: str = "/") -> None:
        if isinstance(url_or_client, str):
            try:
                import redis
            except ImportError as exc:  # pragma: no cover - depends on the installed extras
                raise ImportError("the Redis emitter needs redis-py: pip install 'hypersio[redis]'") from exc
            # Bounded waits: a blocking caller (a web request) must not hang on a stuck Redis.
            client, owns = redis.Redis.from_url(url_or_client, socket_timeout=5.0, socket_connect_timeout=5.0), True
        else:
            client, owns = url_or_client, False
        super().__init__(client, owns, EmitterMessages(key, nsp if nsp.startswith("/") else "/" + nsp))

    def _publish(self, message: tuple[str, bytes]) -> None:
        self._client.publish(*message)

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` to the targeted sockets of every server."""
        self._publish(self._messages.broadcast(event, args))

    def send(self, *args: Any) -> None:
        """Emit a ``message`` event."""
        self.emit("message", *args)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the targeted sockets of every server join ``rooms``."""
        self._publish(self._messages.sockets_join(rooms))

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the targeted sockets of every server leave ``rooms``."""
        self._publish(self._messages.sockets_leave(rooms))

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets of every server."""
        self._publish(self._messages.disconnect_sockets(close))

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Run the namespace's listeners of ``event`` on every server (no answers)."""
        self._publish(self._messages.server_side_emit(event, args))

    def close(self) -> None:
        """Close the Redis connection if the emitter made it."""
        if self._owns_client:
            self._client.close()


class AsyncRedisEmitter(_EmitterBase):
    """The emitter for asyncio code (``redis.asyncio``): the same methods, each awaited."""

    def __init__(self, url_or_client: Any = "redis://127.0.0.1:6379/0", key: str = "socket.io", nsp: str = "/") -> None:
        if isinstance(url_or_client, str):
            try:
                import redis.asyncio as aioredis
            except ImportError as exc:  # pragma: no cover - depends on the installed extras
                raise ImportError("the Redis emitter needs redis-py: pip install 'hypersio[redis]'") from exc
            client, owns = aioredis.from_url(url_or_client, socket_timeout=5.0, socket_connect_timeout=5.0), True
        else:
            client, owns = url_or_client, False
        super().__init__(client, owns, EmitterMessages(key, nsp if nsp.startswith("/") else "/" + nsp))

    async def _publish(self, message: tuple[str, bytes]) -> None:
        await self._client.publish(*message)

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` with ``args`` to the targeted sockets of every server."""
        await self._publish(self._messages.broadcast(event, args))

    async def send(self, *args: Any) -> None:
        """Emit a ``message`` event."""
        await self.emit("message", *args)

    async def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the targeted sockets of every server join ``rooms``."""
        await self._publish(self._messages.sockets_join(rooms))

    async def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the targeted sockets of every server leave ``rooms``."""
        await self._publish(self._messages.sockets_leave(rooms))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the targeted sockets of every server."""
        await self._publish(self._messages.disconnect_sockets(close))

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Run the namespace's listeners of ``event`` on every server (no answers)."""
        await self._publish(self._messages.server_side_emit(event, args))

    async def close(self) -> None:
        """Close the Redis connection if the emitter made it."""
        if self._owns_client:
            await self._client.aclose()
