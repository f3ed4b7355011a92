"""The Redis transports under the message layers, and the adapter factories that
``hypersio.cluster`` exposes (``Server(adapter=cluster.redis_adapter(url))``).

A factory is called once per namespace; every namespace of a server shares the factory's one
:class:`~hypersio.adapters.cluster.redis_link.RedisLink` (one command connection, one subscriber
connection), as the Node adapters share their two clients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypersio.adapters.base import NamespaceView
from hypersio.adapters.cluster.classic import ClassicAdapter
from hypersio.adapters.cluster.redis_link import RedisLink

__all__ = ["RedisClassicAdapter", "SharedLink", "redis_adapter"]


class SharedLink:
    """The one :class:`RedisLink` of a factory, made on first use and closed with its last user."""

    def __init__(self, url_or_client: Any) -> None:
        self._source = url_or_client
        self._link: RedisLink | None = None

    def acquire(self) -> RedisLink:
        """The link (made now if needed); pair with :meth:`release`."""
        if self._link is None:
            self._link = RedisLink(self._source)
        self._link.users += 1
        return self._link

    async def release(self, link: RedisLink) -> None:
        """One user is done; the last one closes the link."""
        link.users -= 1
        if link.users <= 0 and self._link is link:
            self._link = None
            await link.close()


class _PubSubTransport:
    """The classic protocol's :class:`~hypersio.adapters.cluster.classic.Transport` on Redis."""

    def __init__(self, link: RedisLink) -> None:
        self.link = link

    def publish(self, channel: str, payload: bytes) -> None:
        self.link.send("PUBLISH", channel, payload)

    async def subscribers(self, channel: str) -> int:
        reply = await self.link.command("PUBSUB", "NUMSUB", channel)
        return int(reply[1]) if reply else 0


class RedisClassicAdapter(ClassicAdapter):
    """A :class:`ClassicAdapter` over Redis Pub/Sub: what :func:`redis_adapter` makes."""

    def __init__(self, nsp: NamespaceView, shared: SharedLink, **options: Any) -> None:
        self._shared = shared
        self._link = shared.acquire()
        super().__init__(nsp, _PubSubTransport(self._link), **options)
        self._ready = False

    async def init(self) -> None:
        """Subscribe to this namespace's channels (before the server takes clients)."""
        if self._ready:
            return
        self._ready = True
        channels = self.channels
        await self._link.subscribe(self.on_broadcast_message, patterns=(channels.pattern,))
        await self._link.subscribe(self.on_request_message, channels=(channels.request,))
        await self._link.subscribe(self.on_response_message, channels=(channels.response, channels.own_response))

    async def close(self) -> None:
        """Fail pending requests, unsubscribe, and close the link with the last namespace."""
        await super().close()
        if self._ready:
            channels = self.channels
            await self._link.unsubscribe(
                channels=(channels.request, channels.response, channels.own_response), patterns=(channels.pattern,)
            )
        await self._shared.release(self._link)


def redis_adapter(
    url_or_client: Any,
    *,
    key: str = "socket.io",
    requests_timeout: float = 5.0,
    publish_on_specific_response_channel: bool = False,
) -> Callable[[NamespaceView], RedisClassicAdapter]:
    """The adapter factory of a classic ``@socket.io/redis-adapter`` 8.x cluster.

    ``url_or_client`` is a Redis URL (``"redis://127.0.0.1:6379/0"``) or a ``redis.asyncio``
    client made with ``decode_responses=False``. ``key`` prefixes every channel (Node's ``key``),
    ``requests_timeout`` (seconds) bounds every wait for the other servers. Pass the result as
    ``Server(adapter=...)``.
    """
    shared = SharedLink(url_or_client)
    options = {
        "key": key,
        "requests_timeout": requests_timeout,
        "publish_on_specific_response_channel": publish_on_specific_response_channel,
    }

    def factory(nsp: NamespaceView) -> RedisClassicAdapter:
        return RedisClassicAdapter(nsp, shared, **options)

    return factory
