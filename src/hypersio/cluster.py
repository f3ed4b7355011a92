"""Cluster adapters and emitters on Redis, wire-compatible with the official Node packages.

``Server(adapter=cluster.redis_adapter(url))`` puts a server in a classic
``@socket.io/redis-adapter`` cluster; :func:`sharded_redis_adapter` and
:func:`redis_streams_adapter` speak the sharded and streams adapters' protocols.
:class:`RedisEmitter` and :class:`AsyncRedisEmitter` publish into a cluster from programs that are
not servers, as ``@socket.io/redis-emitter``. Needs the ``redis`` extra
(``pip install 'hypersio[redis]'``); redis-py is imported when an adapter or emitter is made.
"""

from __future__ import annotations

from hypersio.adapters.cluster.emitter import AsyncRedisEmitter, RedisEmitter
from hypersio.adapters.cluster.redis import redis_adapter
from hypersio.adapters.cluster.redis_sharded import sharded_redis_adapter
from hypersio.adapters.cluster.redis_streams import redis_streams_adapter
from hypersio.adapters.cluster.remote import RemoteHandshake, RemoteSocket
from hypersio.exceptions import ClusterTimeoutError

__all__ = [
    "AsyncRedisEmitter",
    "ClusterTimeoutError",
    "RedisEmitter",
    "RemoteHandshake",
    "RemoteSocket",
    "redis_adapter",
    "redis_streams_adapter",
    "sharded_redis_adapter",
]
