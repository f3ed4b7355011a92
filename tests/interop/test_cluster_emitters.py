"""Emitters across implementations: the official ``@socket.io/redis-emitter`` into a hypersio server,
and hypersio's ``RedisEmitter``/``AsyncRedisEmitter`` into an official Node server (and into hypersio)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import hypersio
from _support.cluster_clients import Client, connect_client, room_server
from _support.cluster_node import NodeClusterPeer, unique_prefix
from hypersio import cluster


@pytest.fixture
async def prefix() -> str:
    return unique_prefix("emitter")


@pytest.fixture
async def py_server(redis_url: str, prefix: str) -> AsyncIterator[hypersio.Server]:
    sio = room_server(cluster.redis_adapter(redis_url, key=prefix))
    await sio.listen("127.0.0.1", 0)
    yield sio
    await sio.close()


async def _py_clients(sio: hypersio.Server) -> tuple[Client, Client]:
    url = f"http://127.0.0.1:{sio.engine.port}"
    return await connect_client(url, ["r1"]), await connect_client(url, ["r2"], nsp="/admin")


async def test_official_emitter_into_hypersio(
    py_server: hypersio.Server, prefix: str, node_env: dict[str, str]
) -> None:
    emitter = await NodeClusterPeer.start({"adapter": "emitter", "key": prefix})
    seen: list[tuple[Any, ...]] = []
    py_server.on("sse", lambda *args: seen.append(args))
    on_root, on_admin = await _py_clients(py_server)
    other = await connect_client(f"http://127.0.0.1:{py_server.engine.port}", ["r3"])
    try:
        await emitter.call("emit", rooms=["r1"], event="chat", args=["hi", b"\x01\x02", {"n": 1.5}])
        assert await on_root.wait_for("chat") == ("hi", b"\x01\x02", {"n": 1.5})
        await other.nothing("chat")
        await emitter.call("emit", except_=["r1"], event="not-r1", args=[])
        assert await other.wait_for("not-r1") == ()
        await on_root.nothing("not-r1")
        await emitter.call("emit", nsp="/admin", volatile=True, event="adm", args=[1])
        assert await on_admin.wait_for("adm") == (1,)
        await emitter.call("socketsJoin", rooms=["r1"], join=["joined"])
        await asyncio.sleep(0.2)
        assert "joined" in py_server.sockets.sockets[on_root.sio.id].rooms
        await emitter.call("socketsLeave", rooms=["r1"], leave=["joined"])
        await asyncio.sleep(0.2)
        assert "joined" not in py_server.sockets.sockets[on_root.sio.id].rooms
        await emitter.call("serverSideEmit", event="sse", args=["from-emitter", 2])
        for _ in range(40):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == [("from-emitter", 2)]
        await emitter.call("disconnectSockets", rooms=["r3"], close=False)
        assert (await other.wait_for("_disconnect"))[0] == "io server disconnect"
        assert on_root.sio.connected
    finally:
        for client in (on_root, on_admin, other):
            await client.sio.disconnect()
        await emitter.stop()


async def test_hypersio_emitter_into_node(redis_url: str, prefix: str, node_env: dict[str, str]) -> None:
    node = await NodeClusterPeer.start({"adapter": "classic", "key": prefix})
    on_root = await connect_client(node.url, ["r1"])
    other = await connect_client(node.url, ["r2"])
    on_admin = await connect_client(node.url, [], nsp="/admin")
    emitter = cluster.RedisEmitter(redis_url, key=prefix)
    try:
        emitter.to("r1").emit("chat", "hi", b"\x00\xff", {"deep": [b"\x07"]})
        assert await on_root.wait_for("chat") == ("hi", b"\x00\xff", {"deep": [b"\x07"]})
        await other.nothing("chat")
        emitter.except_("r1").emit("not-r1", 2.0)
        assert await other.wait_for("not-r1") == (2,)
        await on_root.nothing("not-r1")
        emitter.of("admin").volatile.compress(False).emit("adm", [1, 2])
        assert await on_admin.wait_for("adm") == ([1, 2],)
        emitter.in_("r2").sockets_join(["j1", "j2"])
        await asyncio.sleep(0.2)
        assert {s["id"] for s in await node.call("fetchSockets", rooms=["j2"])} == {other.sio.id}
        emitter.in_("r2").sockets_leave("j1")
        await asyncio.sleep(0.2)
        assert await node.call("fetchSockets", rooms=["j1"]) == []
        emitter.server_side_emit("sse", "from-py-emitter")
        event = await node.next_event("sse")
        assert event["args"] == ["from-py-emitter"] and event["ack"] is False
        emitter.to("r2").disconnect_sockets(close=True)
        assert (await other.wait_for("_disconnect"))[0] in ("io server disconnect", "transport close")
        assert on_root.sio.connected
        with pytest.raises(ValueError):
            emitter.emit("connect")
        with pytest.raises(ValueError):
            emitter.emit("x", lambda: None)
    finally:
        emitter.close()
        for client in (on_root, other, on_admin):
            await client.sio.disconnect()
        await node.stop()


async def test_async_emitter_into_hypersio(py_server: hypersio.Server, redis_url: str, prefix: str) -> None:
    on_root, on_admin = await _py_clients(py_server)
    emitter = cluster.AsyncRedisEmitter(redis_url, key=prefix)
    try:
        await emitter.to("r1").emit("hello", {"b": b"\x05"})
        assert await on_root.wait_for("hello") == ({"b": b"\x05"},)
        await emitter.of("/admin").emit("adm")
        assert await on_admin.wait_for("adm") == ()
        await on_root.nothing("adm")
        await emitter.in_("r1").sockets_join("aj")
        await asyncio.sleep(0.2)
        assert "aj" in py_server.sockets.sockets[on_root.sio.id].rooms
        await emitter.of("/admin").disconnect_sockets()
        assert (await on_admin.wait_for("_disconnect"))[0] == "io server disconnect"
    finally:
        await emitter.close()
        for client in (on_root, on_admin):
            await client.sio.disconnect()
