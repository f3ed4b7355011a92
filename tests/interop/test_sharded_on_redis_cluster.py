"""The sharded adapter on a real Redis Cluster (three masters started for the test): hypersio
servers given a ``redis.asyncio.cluster.RedisCluster`` client and an official Node server given a
node-redis ``createCluster`` client form one Socket.IO cluster, room channels landing on
different shards."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from _support.cluster_clients import connect_client, room_server
from _support.cluster_node import NodeClusterPeer, unique_prefix
from _support.redis_server import PrivateRedisCluster
from hypersio import cluster


@pytest.fixture(scope="module")
def redis_cluster(redis_url: str) -> Iterator[PrivateRedisCluster]:
    nodes = PrivateRedisCluster()
    nodes.start()
    yield nodes
    nodes.stop()


@pytest.fixture
async def servers(redis_cluster: PrivateRedisCluster, node_env: dict[str, str]) -> AsyncIterator[tuple[Any, ...]]:
    from redis.asyncio.cluster import RedisCluster

    prefix = unique_prefix("rcluster")
    clients = [RedisCluster.from_url(redis_cluster.url) for _ in range(2)]
    py = [room_server(cluster.sharded_redis_adapter(c, channel_prefix=prefix)) for c in clients]
    for sio in py:
        sio.on("connection", lambda s: s.on("ask", lambda x: x))
        await sio.listen("127.0.0.1", 0)
    node = await NodeClusterPeer.start(
        {"adapter": "sharded", "channelPrefix": prefix, "clusterNodes": [n.url for n in redis_cluster.nodes]}
    )
    yield py, node
    await node.stop()
    for sio in py:
        await sio.close()
    for c in clients:
        await c.aclose()


async def test_one_socketio_cluster_over_a_redis_cluster(servers: tuple[Any, ...]) -> None:
    (a, b), node = servers
    rooms = [f"room-{i}" for i in range(6)]  # spread over the shards by their channel's hash slot
    on_a = await connect_client(f"http://127.0.0.1:{a.engine.port}", rooms[:3])
    on_b = await connect_client(f"http://127.0.0.1:{b.engine.port}", rooms[3:])
    on_node = await connect_client(node.url, rooms)
    try:
        await asyncio.sleep(0.3)
        assert await a.sockets.adapter.server_count() == 3
        assert await node.call("serverCount") == 3
        a.emit("all", 1)
        for client in (on_a, on_b, on_node):
            assert await client.wait_for("all") == (1,)
        for room in rooms:
            b.to(room).emit("in-room", room)
            assert await on_node.wait_for("in-room") == (room,)
        got = [(await on_a.wait_for("in-room"))[0] for _ in range(3)]
        assert sorted(got) == rooms[:3]
        await node.call("emit", rooms=["room-4"], event="from-node", args=[b"\x01"])
        assert await on_b.wait_for("from-node") == (b"\x01",)
        ids = {s.id for s in await a.fetch_sockets()}
        assert ids == {on_a.sio.id, on_b.sio.id, on_node.sio.id}
        answers = await b.timeout(3).emit_with_ack("ask", 5)
        assert sorted(map(str, answers)) == ["{'answer': 6}"] * 3
    finally:
        for client in (on_a, on_b, on_node):
            await client.sio.disconnect()
