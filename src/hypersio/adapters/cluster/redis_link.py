"""One server's connections to Redis, shared by the cluster adapters of all its namespaces.

* **Commands in order.** :meth:`RedisLink.send` queues a command (PUBLISH, SPUBLISH, XADD ...)
  and returns at once; one writer task sends everything queued in a loop turn as one pipeline on
  one connection. The order of a server's messages is the order they were sent (a broadcast
  with acks must reach its requester before its clients' answers), and a burst of broadcasts
  costs one round trip, not one each.
* **One subscriber connection**, whatever the number of namespaces (as the Node adapters), with
  a reader task that hands each message to the handler registered for its channel or pattern.
* **Faults.** When Redis goes away the reader logs it once, retries with a growing delay, and on
  success subscribes again to everything and logs that it is back; local delivery is never
  affected. Commands queued while Redis is down fail (their futures get the error) and are
  dropped: Pub/Sub has no memory, so what the other servers would have received meanwhile is lost.

``redis`` (redis-py, ``hypersio[redis]``) is imported here only, when a link is made.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from hypersio.adapters.cluster.core import logger
from hypersio.engine.ratelog import RateLimitedLog
from hypersio.events.acks import spawn

__all__ = ["Handler", "RedisLink", "make_client"]

#: ``handler(channel, payload)``: one message of a subscribed channel or pattern.
Handler = Callable[[bytes, bytes], None]


def is_cluster_client(client: Any) -> bool:
    """True for a ``redis.asyncio.cluster.RedisCluster`` client."""
    kind = type(client)
    return kind.__name__ == "RedisCluster" or kind.__module__.startswith("redis.asyncio.cluster")


def make_client(url_or_client: Any) -> tuple[Any, bool]:
    """A ``redis.asyncio`` client for ``url_or_client`` and whether the link owns it (made it
    from a URL, so closes it). An existing client must return bytes (``decode_responses=False``)."""
    if isinstance(url_or_client, str):
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError("the Redis adapters need redis-py: pip install 'hypersio[redis]'") from exc
        return aioredis.from_url(url_or_client, socket_connect_timeout=5.0), True
    pool = getattr(url_or_client, "connection_pool", None)
    kwargs = getattr(pool, "connection_kwargs", None) or {}
    if kwargs.get("decode_responses"):
        raise ValueError("the Redis client must be made with decode_responses=False (messages are binary)")
    return url_or_client, False


def _redis_errors() -> type[Exception]:
    from redis.exceptions import ConnectionError as RedisConnectionError

    return RedisConnectionError


def _is_connection_error(exc: BaseException) -> bool:
    """A lost or refused connection (redis-py's own type, or the OS's), not a command error."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError))


class RedisLink:
    """The shared Redis connections of one server (see the module docstring)."""

    def __init__(self, url_or_client: Any) -> None:
        self.client, self._owns_client = make_client(url_or_client)
        #: A Redis Cluster client: sharded Pub/Sub only, read node by node (see _read_loop).
        self.cluster = is_cluster_client(self.client)
        self._queue: list[tuple[tuple[Any, ...], asyncio.Future[Any] | None]] = []
        self._wake: asyncio.Event | None = None
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pubsub: Any = None
        self._channels: dict[bytes, Handler] = {}
        self._patterns: dict[bytes, Handler] = {}
        self._shard_channels: dict[bytes, Handler] = {}
        # Subscription name -> futures waiting for Redis to confirm it (subscribe() returns then,
        # so another server counting this one right after init() sees it).
        self._confirming: dict[bytes, list[asyncio.Future[None]]] = {}
        self._log = RateLimitedLog(logger)
        self._down_since: float | None = None
        self._closed = False
        self.users = 0

    # --- commands ----------------------------------------------------------------------------

    def send(self, *args: Any, reply: bool = False) -> asyncio.Future[Any] | None:
        """Queue one command; with ``reply`` a future gets its result (or its error)."""
        fut: asyncio.Future[Any] | None = None
        if reply:
            fut = asyncio.get_running_loop().create_future()
        self._queue.append((args, fut))
        self._start()
        assert self._wake is not None
        self._wake.set()
        return fut

    async def command(self, *args: Any) -> Any:
        """Run one command now, outside the ordered queue (NUMSUB, XRANGE, GET ...)."""
        try:
            return await self.client.execute_command(*args)
        except (ConnectionError, OSError, _redis_errors()) as exc:
            if not _is_connection_error(exc):
                raise
            # After Redis restarted, the pool still holds connections that died with it.
            await self._drop_idle_connections()
            return await self.client.execute_command(*args)

    def _start(self) -> None:
        if self._writer is None and not self._closed:
            self._wake = asyncio.Event()
            self._writer = spawn(self._write_loop(), "Redis writer")

    async def _write_loop(self) -> None:
        assert self._wake is not None
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            # Everything queued until now goes out in one pipeline (the rest of this loop turn's
            # broadcasts included): one round trip, in order.
            while self._queue:
                batch, self._queue = self._queue, []
                await self._write(batch)

    async def _write(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any] | None]]) -> None:
        try:
            try:
                results = await self._pipeline(batch)
            except Exception as exc:
                if not _is_connection_error(exc):
                    raise
                # A connection that died with a restarted Redis fails before anything is sent:
                # one more try on a fresh one rather than losing the batch.
                await self._drop_idle_connections()
                results = await self._pipeline(batch)
        except Exception as exc:
            self._log("write", "cannot send to Redis (%s): %d messages lost", exc, len(batch))
            for _, fut in batch:
                if fut is not None and not fut.done():
                    fut.set_exception(ConnectionError(f"Redis: {exc}"))
            return
        for (args, fut), result in zip(batch, results, strict=False):
            if isinstance(result, Exception):
                self._log("reply", "Redis refused %s: %s", args[0], result)
                if fut is not None and not fut.done():
                    fut.set_exception(result)
            elif fut is not None and not fut.done():
                fut.set_result(result)

    async def _drop_idle_connections(self) -> None:
        pool = getattr(self.client, "connection_pool", None)
        if pool is not None:
            # Only idle ones: the subscriber's connection comes from the same pool.
            await pool.disconnect(inuse_connections=False)

    async def _pipeline(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any] | None]]) -> list[Any]:
        pipe = self.client.pipeline(transaction=False)
        for args, _ in batch:
            pipe.execute_command(*args)
        return list(await pipe.execute(raise_on_error=False))

    # --- subscriptions ------------------------------------------------------------------------

    async def subscribe(
        self,
        handler: Handler,
        channels: tuple[str, ...] = (),
        patterns: tuple[str, ...] = (),
        shard_channels: tuple[str, ...] = (),
    ) -> None:
        """Have ``handler`` receive the messages of ``channels``, ``patterns`` and (sharded
        Pub/Sub) ``shard_channels``; returns once Redis confirmed (or raises if it cannot)."""
        if self.cluster and (channels or patterns):
            raise TypeError("a Redis Cluster client carries sharded Pub/Sub only (the sharded adapter)")
        new_channels = [c.encode() for c in channels]
        new_patterns = [p.encode() for p in patterns]
        new_shards = [c.encode() for c in shard_channels]
        for name in new_channels:
            self._channels[name] = handler
        for name in new_patterns:
            self._patterns[name] = handler
        for name in new_shards:
            self._shard_channels[name] = handler
        if self._closed:
            return
        if self._pubsub is None:
            if self.cluster:
                # Its pub/sub routes channels by the slot map, which a fresh client has not
                # fetched yet (it does so on its first command).
                await self.client.initialize()
            self._pubsub = self.client.pubsub()
        if self._down_since is not None:
            return  # Redis is down: the reader subscribes to everything when it is back
        loop = asyncio.get_running_loop()
        waits: list[asyncio.Future[None]] = []
        for name in (*new_channels, *new_patterns, *new_shards):
            fut: asyncio.Future[None] = loop.create_future()
            self._confirming.setdefault(name, []).append(fut)
            waits.append(fut)
        pubsub = self._pubsub
        if new_channels:
            await pubsub.subscribe(*new_channels)
        if new_patterns:
            await pubsub.psubscribe(*new_patterns)
        if new_shards:
            await pubsub.ssubscribe(*new_shards)
        if self._reader is None:
            self._reader = spawn(self._read_loop(), "Redis subscriber")
        await asyncio.wait_for(asyncio.gather(*waits), 10.0)

    async def unsubscribe(
        self, channels: tuple[str, ...] = (), patterns: tuple[str, ...] = (), shard_channels: tuple[str, ...] = ()
    ) -> None:
        """Stop receiving ``channels``, ``patterns`` and ``shard_channels``."""
        gone_channels = [c.encode() for c in channels if self._channels.pop(c.encode(), None)]
        gone_patterns = [p.encode() for p in patterns if self._patterns.pop(p.encode(), None)]
        gone_shards = [c.encode() for c in shard_channels if self._shard_channels.pop(c.encode(), None)]
        pubsub = self._pubsub
        if pubsub is None or self._down_since is not None:
            return
        try:
            if gone_channels:
                await pubsub.unsubscribe(*gone_channels)
            if gone_patterns:
                await pubsub.punsubscribe(*gone_patterns)
            if gone_shards:
                await pubsub.sunsubscribe(*gone_shards)
        except Exception as exc:  # the reader notices the broken connection and resubscribes
            self._log("unsubscribe", "cannot unsubscribe from Redis: %s", exc)

    async def _read_loop(self) -> None:
        delay = 0.05
        while not self._closed:
            if self._down_since is not None:
                # Redis is away: retry with a growing delay until every subscription is back.
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                await self._resubscribe()
                continue
            pubsub = self._pubsub
            try:
                if self.cluster:
                    # One connection per shard: poll them in turn (redis-py's cluster pub/sub).
                    message = await pubsub.get_sharded_message(ignore_subscribe_messages=False, timeout=0.2)
                else:
                    message = await pubsub.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._closed:
                    return
                self._down_since = time.monotonic()
                logger.warning("lost the Redis subscriber connection (%s); reconnecting", exc)
                continue
            if message is None:
                if not self.cluster and not pubsub.subscribed:
                    await asyncio.sleep(0.01)  # nothing subscribed yet: get_message returns at once
                continue
            delay = 0.05
            self._dispatch(message)

    async def _resubscribe(self) -> None:
        """A fresh subscriber connection with every channel and pattern again."""
        old, self._pubsub = self._pubsub, self.client.pubsub()
        try:
            await old.aclose()
        except Exception:  # already broken: nothing to release cleanly
            pass
        pubsub = self._pubsub
        try:
            if self._channels:
                await pubsub.subscribe(*self._channels)
            if self._patterns:
                await pubsub.psubscribe(*self._patterns)
            if self._shard_channels:
                await pubsub.ssubscribe(*self._shard_channels)
            if not self.cluster:
                await pubsub.ping()
        except Exception:
            return  # still down: the read loop tries again
        if self._down_since is not None:
            logger.warning(
                "Redis subscriber connection back after %.1fs; subscriptions restored",
                time.monotonic() - self._down_since,
            )
            self._down_since = None

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        if kind in ("subscribe", "psubscribe", "ssubscribe"):
            for fut in self._confirming.pop(channel, ()) if isinstance(channel, bytes) else ():
                if not fut.done():
                    fut.set_result(None)
            return
        data = message.get("data")
        if not isinstance(channel, bytes) or not isinstance(data, bytes):
            return
        if kind == "pmessage":
            handler = self._patterns.get(message.get("pattern") or b"")
        elif kind == "smessage":
            handler = self._shard_channels.get(channel)
        elif kind == "message":
            handler = self._channels.get(channel)
        else:
            return  # pong and the like

        if handler is None:
            return
        try:
            handler(channel, data)
        except Exception:  # a handler bug must not stop the subscriber for every namespace
            logger.exception("error handling a Redis message on %r", channel[:200])

    # --- life ---------------------------------------------------------------------------------

    async def close(self) -> None:
        """Flush what is queued, stop the tasks and close the connections the link made."""
        if self._closed:
            return
        if self._queue:
            batch, self._queue = self._queue, []
            await self._write(batch)
        self._closed = True
        for task in (self._writer, self._reader):
            if task is not None:
                task.cancel()
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except Exception:  # the connection may already be gone
                pass
        if self._owns_client:
            try:
                await self.client.aclose()
            except Exception:  # the connection may already be gone
                pass
