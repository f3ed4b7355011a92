"""The sharded Redis adapter: ``createShardedAdapter`` of ``@socket.io/redis-adapter`` 8.3
(CLUSTER-NOTES.md §3), the ClusterAdapter protocol (:mod:`.messages`) over sharded Pub/Sub.

Channels of namespace ``N`` with prefix ``P``: ``P#N#`` carries every message, ``P#N#<uid>#``
this server's answers, and in the dynamic modes ``P#N#<room>#`` the plain broadcasts to exactly
that one room, so a server only receives the room broadcasts it has members for:

* ``"dynamic"`` (the default): a channel per public room (a room that is not a socket id); a
  broadcast to one room whose name is 20 characters long (how a socket id looks) still goes to
  the main channel;
* ``"dynamic-private"``: a channel per room, socket-id rooms included;
* ``"static"``: the main channel only.

Every server of a cluster must use the same mode and prefix. Needs Redis 7.0 or newer
(SSUBSCRIBE, SPUBLISH, PUBSUB SHARDNUMSUB). A URL, a standalone ``redis.asyncio.Redis`` client or
a ``redis.asyncio.cluster.RedisCluster`` client: with a cluster, each channel lives on the shard of
its hash slot, the subscriptions are made shard by shard, and the servers are counted on every
primary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypersio.adapters.base import NamespaceView
from hypersio.adapters.cluster.core import logger
from hypersio.adapters.cluster.messages import BROADCAST, ClusterMessageAdapter, encode
from hypersio.adapters.cluster.redis import SharedLink
from hypersio.adapters.cluster.redis_link import is_cluster_client
from hypersio.adapters.cluster.wire import BadMessage, decode_any
from hypersio.events.acks import spawn

__all__ = ["SUBSCRIPTION_MODES", "ShardedRedisAdapter", "sharded_redis_adapter"]

SUBSCRIPTION_MODES = ("static", "dynamic", "dynamic-private")


def _looks_like_a_socket_id(room: str) -> bool:
    # Node's own test (socket ids are 20 characters): a peer must decide as it does, or the two
    # sides would pick different channels for one broadcast.
    return len(room) == 20


def refuse_cluster_client(url_or_client: Any) -> None:
    """Raise for a ``RedisCluster`` client where an adapter cannot use one (the streams
    adapter: its readers block on one node; the sharded adapter takes cluster clients)."""
    if is_cluster_client(url_or_client):
        raise TypeError(
            "a redis.asyncio.cluster.RedisCluster client is not supported by this adapter; "
            "pass a URL or a standalone redis.asyncio.Redis client (the sharded adapter takes cluster clients)"
        )


class ShardedRedisAdapter(ClusterMessageAdapter):
    """One namespace in a sharded ``@socket.io/redis-adapter`` cluster (the module docstring);
    :func:`sharded_redis_adapter` makes them."""

    def __init__(
        self,
        nsp: NamespaceView,
        shared: SharedLink,
        channel_prefix: str = "socket.io",
        subscription_mode: str = "dynamic",
        requests_timeout: float = 5.0,
    ) -> None:
        if subscription_mode not in SUBSCRIPTION_MODES:
            raise ValueError(f"subscription_mode must be one of {SUBSCRIPTION_MODES}, not {subscription_mode!r}")
        super().__init__(nsp, requests_timeout)
        self._shared = shared
        self._link = shared.acquire()
        self.mode = subscription_mode
        self.channel = f"{channel_prefix}#{nsp.name}#"
        self.response_channel = f"{self.channel}{self.uid}#"
        self._response_channel_bytes = self.response_channel.encode()
        # Room channels: InMemoryAdapter calls room_created/room_deleted only when this is set.
        self.watch_rooms = subscription_mode != "static"
        self._room_channels: set[str] = set()  # subscribed (or being subscribed)
        self._room_changes: dict[str, bool] = {}  # channel -> subscribe (True) or not, not yet sent
        self._room_task: Any = None
        self._ready = False

    # --- channels ------------------------------------------------------------------------------

    def _room_channel(self, room: str) -> str:
        return f"{self.channel}{room}#"

    def _separate_channel(self, room: str) -> bool:
        """Whether ``room`` has a channel of its own (Node's shouldUseASeparateNamespace)."""
        if self.mode == "dynamic-private":
            return True
        return self.mode == "dynamic" and room not in self.sids

    def _channel_of(self, msg: dict[str, Any]) -> str:
        """Where ``msg`` is published (Node's computeChannel): a plain broadcast to exactly one
        room goes to that room's channel in the dynamic modes. A broadcast with acks never does,
        because its requester counts every server of the namespace, not those with the room."""
        if msg["type"] == BROADCAST:
            data = msg["data"]
            rooms = data["opts"]["rooms"]
            if "requestId" not in data and len(rooms) == 1:
                room = rooms[0]
                if self.mode == "dynamic-private" or (self.mode == "dynamic" and not _looks_like_a_socket_id(room)):
                    return self._room_channel(room)
        return self.channel

    def room_created(self, room: str) -> None:
        """A room got its first local member: receive its channel (dynamic modes)."""
        super().room_created(room)
        if self._separate_channel(room):
            self._change_room(self._room_channel(room), True)

    def room_deleted(self, room: str) -> None:
        """A room lost its last local member: stop receiving its channel (dynamic modes)."""
        super().room_deleted(room)
        self._change_room(self._room_channel(room), False)

    def _change_room(self, channel: str, subscribe: bool) -> None:
        # Joins and leaves are synchronous and frequent: changes are queued and one task sends
        # them, coalesced (a room made and dropped in one loop turn costs nothing).
        if subscribe:
            if channel in self._room_channels and channel not in self._room_changes:
                return
            self._room_channels.add(channel)
        else:
            if channel not in self._room_channels:
                return
            self._room_channels.discard(channel)
        self._room_changes[channel] = subscribe
        if self._ready and self._room_task is None and not self._closed:
            self._room_task = spawn(self._send_room_changes(), "sharded room subscriptions")

    async def _send_room_changes(self) -> None:
        try:
            while self._room_changes and not self._closed:
                changes, self._room_changes = self._room_changes, {}
                gone = tuple(channel for channel, subscribe in changes.items() if not subscribe)
                new = tuple(channel for channel, subscribe in changes.items() if subscribe)
                try:
                    if gone:
                        await self._link.unsubscribe(shard_channels=gone)
                    if new:
                        await self._link.subscribe(self._on_raw, shard_channels=new)
                except Exception as exc:  # Redis down: the link subscribes again when it is back
                    self._drop_log("rooms", "cannot change the room subscriptions of %s: %s", self.nsp.name, exc)
        finally:
            self._room_task = None

    # --- sending ---------------------------------------------------------------------------------

    def _publish(self, msg: dict[str, Any]) -> None:
        self._link.send("SPUBLISH", self._channel_of(msg), encode(msg))

    def _publish_response(self, requester: str, msg: dict[str, Any]) -> None:
        self._link.send("SPUBLISH", f"{self.channel}{requester}#", encode(msg))

    async def server_count(self) -> int:
        """The servers of this namespace, this one included: the connections subscribed to its
        main channel (``PUBSUB SHARDNUMSUB``)."""
        if self._link.cluster:
            # Each primary counts its own subscribers; only the channel's shard has any.
            from redis.asyncio.cluster import RedisCluster

            replies = await self._link.client.execute_command(
                "PUBSUB", "SHARDNUMSUB", self.channel, target_nodes=RedisCluster.PRIMARIES
            )
            return sum(int(reply[1]) for reply in replies.values() if reply)
        reply = await self._link.command("PUBSUB", "SHARDNUMSUB", self.channel)
        return int(reply[1]) if reply else 0

    # --- receiving -------------------------------------------------------------------------------

    def _on_raw(self, channel: bytes, payload: bytes) -> None:
        """A message on one of this namespace's channels: JSON or notepack by its first byte."""
        try:
            msg = decode_any(payload)
        except BadMessage as exc:
            self._reject("a malformed message", exc)
            return
        if channel == self._response_channel_bytes:
            self.on_response(msg)
        else:
            self.on_message(msg)

    # --- life ------------------------------------------------------------------------------------

    async def init(self) -> None:
        """Subscribe to the main and response channels (and the rooms made meanwhile) before
        the server takes clients: another server counting this one right after sees it."""
        if self._ready:
            return
        self._ready = True
        self._room_changes.clear()
        channels = (self.channel, self.response_channel, *sorted(self._room_channels))
        await self._link.subscribe(self._on_raw, shard_channels=channels)

    async def close(self) -> None:
        """Fail pending requests, unsubscribe, and close the link with the last namespace."""
        await super().close()
        task = self._room_task
        if task is not None:
            task.cancel()
        if self._ready:
            channels = (self.channel, self.response_channel, *self._room_channels)
            try:
                await self._link.unsubscribe(shard_channels=channels)
            except Exception as exc:  # closing anyway
                logger.debug("unsubscribing %s failed: %s", self.nsp.name, exc)
        self._room_channels.clear()
        await self._shared.release(self._link)


def sharded_redis_adapter(
    url_or_client: Any,
    *,
    channel_prefix: str = "socket.io",
    subscription_mode: str = "dynamic",
    requests_timeout: float = 5.0,
) -> Callable[[NamespaceView], ShardedRedisAdapter]:
    """The adapter factory of a sharded ``@socket.io/redis-adapter`` cluster
    (``createShardedAdapter``; Redis 7.0 or newer): pass the result as ``Server(adapter=...)``.

    ``url_or_client`` is a Redis URL or a ``redis.asyncio`` client made with
    ``decode_responses=False``; ``channel_prefix`` and ``subscription_mode`` (``"dynamic"``,
    ``"dynamic-private"`` or ``"static"``) must match the other servers'; ``requests_timeout``
    (seconds) bounds every wait for the other servers. All namespaces of the server share one
    command connection and one subscriber connection.
    """
    if subscription_mode not in SUBSCRIPTION_MODES:
        raise ValueError(f"subscription_mode must be one of {SUBSCRIPTION_MODES}, not {subscription_mode!r}")
    shared = SharedLink(url_or_client)

    def factory(nsp: NamespaceView) -> ShardedRedisAdapter:
        return ShardedRedisAdapter(
            nsp,
            shared,
            channel_prefix=channel_prefix,
            subscription_mode=subscription_mode,
            requests_timeout=requests_timeout,
        )

    return factory
