"""A hypersio server and an official Node server (with the official adapter) in one Redis cluster:
every cluster operation, started on each side, must reach the clients of both.

Parametrized over the adapters (``KINDS``): the Node side runs tests/js/cluster_node.js with the
matching npm adapter, the hypersio side the matching ``hypersio.cluster`` factory; both use a
unique key prefix per test. Clients are hypersio ``AsyncClient`` objects (verified against the
official server elsewhere), one on each server, with rooms and data given in their auth.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest

import hypersio
from _support.cluster_clients import Client, connect_client
from _support.cluster_node import NodeClusterPeer, unique_prefix
from _support.redis_keys import drop_keys
from hypersio import cluster

# kind -> (hypersio factory from (url, prefix), node config from prefix)
KINDS: dict[str, tuple[Callable[[str, str], Any], Callable[[str], dict[str, Any]]]] = {
    "classic": (
        lambda url, prefix: cluster.redis_adapter(url, key=prefix),
        lambda prefix: {"adapter": "classic", "key": prefix},
    ),
    "sharded": (
        lambda url, prefix: cluster.sharded_redis_adapter(url, channel_prefix=prefix),
        lambda prefix: {"adapter": "sharded", "channelPrefix": prefix},
    ),
    "sharded-static": (
        lambda url, prefix: cluster.sharded_redis_adapter(url, channel_prefix=prefix, subscription_mode="static"),
        lambda prefix: {"adapter": "sharded", "channelPrefix": prefix, "subscriptionMode": "static"},
    ),
    "sharded-dynamic-private": (
        lambda url, prefix: cluster.sharded_redis_adapter(
            url, channel_prefix=prefix, subscription_mode="dynamic-private"
        ),
        lambda prefix: {"adapter": "sharded", "channelPrefix": prefix, "subscriptionMode": "dynamic-private"},
    ),
    "streams": (
        lambda url, prefix: cluster.redis_streams_adapter(url, stream_name=prefix, channel_prefix=prefix),
        lambda prefix: {"adapter": "streams", "streamName": prefix, "channelPrefix": prefix},
    ),
}


@dataclass
class Mixed:
    """One hypersio server, one Node server, and a client on each."""

    py: hypersio.Server
    node: NodeClusterPeer
    on_py: Client
    on_node: Client
    side_events: list[tuple[Any, ...]]


def _py_server(factory: Any, side_events: list[tuple[Any, ...]]) -> hypersio.Server:
    sio = hypersio.Server(adapter=factory)
    for name in ("/", "/admin"):
        nsp = sio.of(name)

        @nsp.on("connection")
        def on_connection(socket: hypersio.Socket) -> None:
            auth = socket.handshake.auth
            socket.join(auth.get("rooms", []))
            if "data" in auth:
                socket.data = auth["data"]
            socket.on("double", lambda x: x * 2)
            socket.on("broadcast", lambda event, *args: socket.broadcast.emit(event, *args))

        @nsp.on("sse")
        def on_sse(*args: Any, nsp_name: str = name) -> Any:
            args = tuple(a for a in args if not callable(a))  # the ack callable comes last when asked
            side_events.append((nsp_name, *args))
            return {"from": "hypersio", "args": list(args)}

    return sio


@pytest.fixture(params=list(KINDS))
async def mixed(request: pytest.FixtureRequest, redis_url: str, node_env: dict[str, str]) -> AsyncIterator[Mixed]:
    py_factory, node_config = KINDS[request.param]
    prefix = unique_prefix(request.param)
    side_events: list[tuple[Any, ...]] = []
    py = _py_server(py_factory(redis_url, prefix), side_events)
    await py.listen("127.0.0.1", 0)
    node = await NodeClusterPeer.start(node_config(prefix))
    on_py = await connect_client(f"http://127.0.0.1:{py.engine.port}", ["r1", "both"], {"name": "py-client"})
    on_node = await connect_client(node.url, ["r2", "both"], {"name": "node-client"})
    await asyncio.sleep(0.1)
    yield Mixed(py, node, on_py, on_node, side_events)
    for client in (on_py, on_node):
        await client.sio.disconnect()
    await node.stop()
    await py.close()
    await drop_keys(redis_url, prefix + "*")  # the streams adapters' stream


async def test_both_sides_count_two_servers(mixed: Mixed) -> None:
    assert await mixed.py.sockets.adapter.server_count() == 2
    assert await mixed.node.call("serverCount") == 2


async def test_broadcast_from_hypersio_reaches_node_clients(mixed: Mixed) -> None:
    mixed.py.emit("all", 1, 2.5, "x", {"n": None})
    assert await mixed.on_node.wait_for("all") == (1, 2.5, "x", {"n": None})
    assert await mixed.on_py.wait_for("all") == (1, 2.5, "x", {"n": None})
    mixed.py.to("r2").emit("room", b"\x00\x01", {"deep": [b"\xff"]})
    assert await mixed.on_node.wait_for("room") == (b"\x00\x01", {"deep": [b"\xff"]})
    await mixed.on_py.nothing("room")
    mixed.py.to("both").except_("r1").emit("except")
    assert await mixed.on_node.wait_for("except") == ()
    await mixed.on_py.nothing("except")
    mixed.py.volatile.to(["r1", "r2"]).emit("volatile", 7)
    assert await mixed.on_node.wait_for("volatile") == (7,)
    assert await mixed.on_py.wait_for("volatile") == (7,)
    mixed.py.local.emit("local")
    assert await mixed.on_py.wait_for("local") == ()
    await mixed.on_node.nothing("local")


async def test_broadcast_from_node_reaches_hypersio_clients(mixed: Mixed) -> None:
    await mixed.node.call("emit", event="all", args=[1, "x", {"b": b"\x02\x03"}])
    assert await mixed.on_py.wait_for("all") == (1, "x", {"b": b"\x02\x03"})
    assert await mixed.on_node.wait_for("all") == (1, "x", {"b": b"\x02\x03"})
    await mixed.node.call("emit", event="room", rooms=["r1"], args=["only py"])
    assert await mixed.on_py.wait_for("room") == ("only py",)
    await mixed.on_node.nothing("room")
    await mixed.node.call("emit", event="except", rooms=["both"], except_=["r2"], args=[])
    await mixed.node.call("emit", event="ex2", except_=["r1"], args=[])
    assert await mixed.on_node.wait_for("ex2") == ()
    await mixed.on_py.nothing("ex2")
    await mixed.node.call("emit", event="vol", volatile=True, args=[3])
    assert await mixed.on_py.wait_for("vol") == (3,)


async def test_socket_broadcast_and_socket_id_rooms(mixed: Mixed) -> None:
    # socket.broadcast from a client of each side reaches the other side's client, not the sender
    mixed.on_py.sio.emit("broadcast", "from-py", 1)
    assert await mixed.on_node.wait_for("from-py") == (1,)
    await mixed.on_py.nothing("from-py")
    mixed.on_node.sio.emit("broadcast", "from-node", 2)
    assert await mixed.on_py.wait_for("from-node") == (2,)
    await mixed.on_node.nothing("from-node")
    # to(socket id) across servers
    mixed.py.to(mixed.on_node.sio.id).emit("direct", "hi")
    assert await mixed.on_node.wait_for("direct") == ("hi",)
    await mixed.node.call("emit", event="direct", rooms=[mixed.on_py.sio.id], args=["ho"])
    assert await mixed.on_py.wait_for("direct") == ("ho",)


async def test_broadcast_with_acks_collects_every_server(mixed: Mixed) -> None:
    answers = await mixed.py.timeout(3).emit_with_ack("ask", 1)
    assert answers == [{"answer": 2}, {"answer": 2}]
    answers = await mixed.py.to("r2").timeout(3).emit_with_ack("ask", 10)
    assert answers == [{"answer": 11}]
    node_answers = await mixed.node.call("emitWithAck", event="ask", args=[5], timeout=3000)
    assert node_answers == [{"answer": 6}, {"answer": 6}]
    node_answers = await mixed.node.call("emitWithAck", event="ask", rooms=["r1"], args=[7], timeout=3000)
    assert node_answers == [{"answer": 8}]


async def test_fetch_sockets_returns_remote_sockets(mixed: Mixed) -> None:
    sockets = await mixed.py.in_("both").fetch_sockets()
    by_id = {s.id: s for s in sockets}
    assert set(by_id) == {mixed.on_py.sio.id, mixed.on_node.sio.id}
    remote = by_id[mixed.on_node.sio.id]
    assert isinstance(remote, cluster.RemoteSocket)
    assert remote.rooms == {mixed.on_node.sio.id, "r2", "both"}
    assert remote.data == {"name": "node-client"}
    assert remote.handshake.auth["data"] == {"name": "node-client"}
    assert remote.handshake["address"]
    remote.emit("to-remote", b"\x09")
    assert await mixed.on_node.wait_for("to-remote") == (b"\x09",)
    remote.join("joined-remotely")
    await asyncio.sleep(0.2)
    assert [s.id for s in await mixed.py.in_("joined-remotely").fetch_sockets()] == [mixed.on_node.sio.id]
    remote.leave("joined-remotely")
    await asyncio.sleep(0.2)
    assert await mixed.py.in_("joined-remotely").fetch_sockets() == []

    node_view = await mixed.node.call("fetchSockets", rooms=["r1"])
    assert node_view == [
        {
            "id": mixed.on_py.sio.id,
            "rooms": sorted(node_view[0]["rooms"]) and node_view[0]["rooms"],
            "data": {"name": "py-client"},
            "auth": {"rooms": ["r1", "both"], "data": {"name": "py-client"}},
        }
    ]
    assert set(node_view[0]["rooms"]) == {mixed.on_py.sio.id, "r1", "both"}
    await mixed.node.call("remoteEmit", sid=mixed.on_py.sio.id, event="from-node-remote", args=[1])
    assert await mixed.on_py.wait_for("from-node-remote") == (1,)
    await mixed.node.call("remoteJoin", sid=mixed.on_py.sio.id, join="nr")
    await asyncio.sleep(0.2)
    assert "nr" in mixed.py.sockets.sockets[mixed.on_py.sio.id].rooms
    await mixed.node.call("remoteDisconnect", sid=mixed.on_py.sio.id, close=False)
    assert (await mixed.on_py.wait_for("_disconnect"))[0] == "io server disconnect"
    sockets = await mixed.py.fetch_sockets()
    assert [s.id for s in sockets] == [mixed.on_node.sio.id]


async def test_remote_disconnect_from_hypersio(mixed: Mixed) -> None:
    remote = next(s for s in await mixed.py.fetch_sockets() if s.id == mixed.on_node.sio.id)
    remote.disconnect()
    assert (await mixed.on_node.wait_for("_disconnect"))[0] == "io server disconnect"


async def test_sockets_join_leave_disconnect_both_ways(mixed: Mixed) -> None:
    mixed.py.in_("both").sockets_join("j1")
    await asyncio.sleep(0.2)
    assert {s["id"] for s in await mixed.node.call("fetchSockets", rooms=["j1"])} == {
        mixed.on_py.sio.id,
        mixed.on_node.sio.id,
    }
    await mixed.node.call("socketsLeave", rooms=["r1", "r2"], leave="j1")
    await asyncio.sleep(0.2)
    assert await mixed.py.in_("j1").fetch_sockets() == []
    await mixed.node.call("socketsJoin", rooms=["r1"], join=["j2", "j3"])
    await asyncio.sleep(0.2)
    assert mixed.py.sockets.sockets[mixed.on_py.sio.id].rooms >= {"j2", "j3"}
    mixed.py.in_("j2").sockets_leave(["j2"])
    await asyncio.sleep(0.2)
    assert "j2" not in mixed.py.sockets.sockets[mixed.on_py.sio.id].rooms
    await mixed.node.call("disconnectSockets", rooms=["r1"], close=True)
    assert (await mixed.on_py.wait_for("_disconnect"))[0] in ("io server disconnect", "transport close")
    mixed.py.disconnect_sockets()
    assert (await mixed.on_node.wait_for("_disconnect"))[0] == "io server disconnect"


async def test_server_side_emit_both_ways(mixed: Mixed) -> None:
    mixed.py.server_side_emit("sse", 1, "two")
    event = await mixed.node.next_event("sse")
    assert event["args"] == [1, "two"] and event["ack"] is False
    answers = await mixed.py.server_side_emit_with_ack("sse", "q")
    assert answers == [{"from": "node", "args": ["q"]}]
    await mixed.node.call("serverSideEmit", event="sse", args=[3])
    for _ in range(50):
        if mixed.side_events:
            break
        await asyncio.sleep(0.05)
    assert mixed.side_events == [("/", 3)]
    node_answers = await mixed.node.call("serverSideEmitWithAck", event="sse", args=["p"], timeout=3000)
    assert node_answers == [{"from": "hypersio", "args": ["p"]}]
    # the callback form with a timeout
    done: asyncio.Future[tuple[Any, Any]] = asyncio.get_running_loop().create_future()
    mixed.py.sockets.timeout(3).server_side_emit("sse", "cb", lambda err, res: done.set_result((err, res)))
    assert await done == (None, [{"from": "node", "args": ["cb"]}])


async def test_other_namespace(mixed: Mixed) -> None:
    on_py = await connect_client(f"http://127.0.0.1:{mixed.py.engine.port}", ["a1"], {}, nsp="/admin")
    on_node = await connect_client(mixed.node.url, ["a2"], {}, nsp="/admin")
    try:
        await asyncio.sleep(0.1)
        mixed.py.of("/admin").to("a2").emit("adm", 1)
        assert await on_node.wait_for("adm") == (1,)
        await mixed.node.call("emit", nsp="/admin", event="adm2", args=[2])
        assert await on_py.wait_for("adm2") == (2,)
        await mixed.on_py.nothing("adm2")
        ids = {s.id for s in await mixed.py.of("/admin").fetch_sockets()}
        assert ids == {on_py.sio.id, on_node.sio.id}
    finally:
        await on_py.sio.disconnect()
        await on_node.sio.disconnect()


async def test_all_rooms_classic(mixed: Mixed, request: pytest.FixtureRequest) -> None:
    if request.node.callspec.params["mixed"] != "classic":
        pytest.skip("all_rooms is the classic adapter's")
    rooms = await mixed.py.sockets.adapter.all_rooms()
    assert {"r1", "r2", "both", mixed.on_py.sio.id, mixed.on_node.sio.id} <= rooms
    node_rooms = set(await mixed.node.call("allRooms"))
    assert {"r1", "r2", "both", mixed.on_py.sio.id, mixed.on_node.sio.id} <= node_rooms
