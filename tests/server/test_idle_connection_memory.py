"""What an idle WebSocket connection keeps (issue 14: 100,000 connections at <= 6 KiB each).

The benchmark (benchmarks/run_all.py --only idle) measures the RSS; these tests pin the structural
reasons it is low, on a real server with raw WebSocket clients, so that a change that brings a
per-connection copy or an eagerly built container back fails here instead of in a benchmark run:
the handshake shares the request's dicts, the kept request's strings are shared between
connections, no empty set is held per connection, and the WebSocket reader holds no bound
methods besides the one the event loop calls on every read; and (second pass) a socket's own room
has no room-index entry, its heartbeat deadline no heap tuple, and no empty dict waits for
``socket.data``, acks or a handler closure's attributes.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import pytest

import hypersio
from hypersio.engine.server.http import Request, WebSocketReader
from hypersio.server.socket import Handshake

aiohttp = pytest.importorskip("aiohttp")


async def _join(http: Any, port: int, query: str = "") -> Any:
    ws = await http.ws_connect(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket{query}")
    assert (await ws.receive(timeout=2)).data.startswith("0{")
    await ws.send_str("40")
    msg = await ws.receive(timeout=2)
    assert msg.data.startswith("40{")
    return ws, json.loads(msg.data[2:])["sid"]


@pytest.mark.timeout(15)
async def test_idle_connections_share_their_strings_and_hold_no_spare_containers() -> None:
    sio = hypersio.Server(ping_interval=20, ping_timeout=20)
    sockets: list[hypersio.Socket] = []
    sio.on("connection", sockets.append)
    await sio.listen("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            (ws1, sid1), (ws2, sid2) = await _join(http, sio.engine.port), await _join(http, sio.engine.port, "&x=1")
            for _ in range(100):
                if len(sockets) == 2:
                    break
                await asyncio.sleep(0.01)
            a, b = sockets
            assert {a.id, b.id} == {sid1, sid2}
            for socket in (a, b):
                req = socket.request
                # the handshake reads the request's own dicts: no copies per socket
                assert socket.handshake.headers is req.headers
                assert socket.handshake.query is req.query
                assert req.query["transport"] == "websocket"
                # no empty set waits on an idle socket or connection for a once-handler or a join
                assert not isinstance(socket.once_events, set)
                assert socket.client.connecting == frozenset()
            # the header names and the repeated values are one string object for both connections
            for name in ("upgrade", "sec-websocket-version", "host"):
                k1 = next(k for k in a.request.headers if k == name)
                k2 = next(k for k in b.request.headers if k == name)
                assert k1 is k2
                assert a.request.headers[name] is b.request.headers[name]
            assert a.request.query["EIO"] is b.request.query["EIO"]
            assert a.request.headers["sec-websocket-key"] != b.request.headers["sec-websocket-key"]
            # the event loop's protocol object holds the WebSocket's feed and its connection only
            readers = [o for o in _gc_objects() if isinstance(o, WebSocketReader)]
            assert len(readers) >= 2
            assert set(WebSocketReader.__slots__) == {"data_received", "conn"}
            for reader in readers:
                assert not hasattr(reader, "__dict__")
                assert reader.data_received.__name__ == "feed"
            # a once-handler still works, and makes the set it needs
            seen: list[Any] = []
            a.once("hello", seen.append)
            assert isinstance(a.once_events, set) and "hello" in a.once_events
            await ws1.send_str('42["hello",1]')
            await ws1.send_str('42["hello",2]')
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.05)
            assert seen == [1]
            assert "hello" not in a.once_events
            await ws1.close()
            await ws2.close()
    finally:
        await sio.close()


@pytest.mark.timeout(15)
async def test_idle_sockets_hold_no_own_room_entry_heap_tuple_or_empty_tables() -> None:
    """The cuts of the second pass: the own room is a flag, the heartbeat deadline a sid in a
    bucket, ``socket.data`` and the pending-ack table are made on first use, the connection is
    slotted, a per-socket handler closure keeps no ``__dict__``, the client address is shared."""
    import gc

    from hypersio.events.acks import _NO_PENDING

    sio = hypersio.Server(ping_interval=20, ping_timeout=20)
    sockets: list[hypersio.Socket] = []
    closures: list[Any] = []

    def on_connection(socket: hypersio.Socket) -> None:
        def echo(*args: Any) -> None:  # a handler made per connection, as applications do
            socket.emit("echo", *args)

        socket.on("echo", echo)
        closures.append(echo)
        sockets.append(socket)

    sio.on("connection", on_connection)
    await sio.listen("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            (ws1, _), (ws2, _) = await _join(http, sio.engine.port), await _join(http, sio.engine.port)
            for _ in range(100):
                if len(sockets) == 2:
                    break
                await asyncio.sleep(0.01)
            adapter = sio.of("/").adapter
            heartbeats = sio.engine._heartbeats
            for socket in sockets:
                member = adapter.sids[socket.id]
                assert socket.id not in adapter._rooms and member.rooms is None and member.own
                assert socket.rooms == {socket.id} and set(adapter.rooms[socket.id]) == {socket.id}
                assert socket.acks._pending is _NO_PENDING
                assert "_data" in vars(socket) and not isinstance(vars(socket)["_data"], dict)
                assert not hasattr(socket.client, "__dict__")
                session_id = socket.client.id
                assert all(sid != session_id for _, sid in heartbeats._heap)
                assert any(session_id in bucket.sids for bucket in heartbeats._buckets.values())
            for fn in closures:
                shared = (fn.__globals__, fn.__builtins__)
                own_dicts = [r for r in gc.get_referents(fn) if isinstance(r, dict) and not any(r is d for d in shared)]
                assert own_dicts == []  # no __dict__ was made on it
            a, b = sockets
            assert a.request.address == "127.0.0.1" and a.request.address is b.request.address
            # made on first use, and then they work as before
            a.data["user"] = 1
            assert a.data == {"user": 1} and b.data == {}
            a.join("lobby")
            assert a.rooms == {a.id, "lobby"} and set(adapter.rooms) >= {a.id, b.id, "lobby"}
            await ws1.send_str('42["echo","hi"]')
            assert (await ws1.receive(timeout=2)).data == '42["echo","hi"]'
            await ws1.close()
            await ws2.close()
    finally:
        await sio.close()


def _gc_objects() -> list[Any]:
    import gc

    return gc.get_objects()


def test_request_compact_interns_and_keeps_contents() -> None:
    name, value = "X-Custom".lower(), "".join(["some", "-value"])
    req = Request("GET", "/socket.io/?EIO=4&transport=websocket", {name: value}, "127.0.0.1", 5000, False)
    before = (dict(req.headers), dict(req.query), req.method, req.url, req.path, req.address)
    req.compact()
    assert (req.headers, req.query, req.method, req.url, req.path, req.address) == before
    key = next(iter(req.headers))
    assert key is sys.intern("x-custom") and req.headers[key] is sys.intern("some-value")
    assert all(k is sys.intern(k) and v is sys.intern(v) for k, v in req.query.items())


def test_handshake_formats_time_lazily_and_derives_xdomain() -> None:
    issued = int(time.time() * 1000)
    hs = Handshake(headers={"origin": "http://a"}, query={"q": "1"}, issued=issued, url="/x")
    assert hs.time == time.strftime("%a %b %d %Y %H:%M:%S GMT", time.gmtime(issued / 1000))
    assert hs.xdomain is True and Handshake().xdomain is False
    assert Handshake(xdomain=True).xdomain is True
    assert hs["query"] == {"q": "1"} and hs["url"] == "/x"
    assert hs == Handshake(headers={"origin": "http://a"}, query={"q": "1"}, issued=issued, url="/x")
    assert hs != Handshake(issued=issued)
    assert Handshake(time="Tue").time == "Tue"
    assert not hasattr(hs, "__dict__")
