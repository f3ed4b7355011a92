"""The sharded and streams adapters between hypersio servers on the real Redis: room channels
coming and going, garbage on every channel and in the stream dropped with a rate-limited log, the
stream reader carrying on after an error, session restore refusing what it cannot use. (The Node
side is in tests/interop.)"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

import hypersio
from _support.cluster_node import unique_prefix
from _support.redis_keys import drop_keys
from hypersio import cluster
from hypersio.adapters.cluster import notepack
from hypersio.adapters.cluster.redis_sharded import ShardedRedisAdapter
from hypersio.adapters.cluster.redis_streams import RedisStreamsAdapter

pytestmark = pytest.mark.timeout(30)


class Client:
    """A test client and the events it received."""

    def __init__(self, url: str, rooms: list[str]) -> None:
        self.sio = hypersio.AsyncClient(url, transports=("websocket",), reconnection=False, auth={"rooms": rooms})
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self.sio.on_any(lambda event, *args: self.events.append((event, args)))
        self.sio.on("ask", lambda x: x + 1)

    async def wait_for(self, event: str, timeout: float = 5.0) -> tuple[Any, ...]:
        deadline = time.monotonic() + timeout
        while True:
            for i, (name, args) in enumerate(self.events):
                if name == event:
                    del self.events[i]
                    return args
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {event!r}; got {self.events}")
            await asyncio.sleep(0.02)


async def _eventually(check: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _server(factory: Any, recovery: bool = False) -> hypersio.Server:
    sio = hypersio.Server(adapter=factory, connection_state_recovery=recovery or None)

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        socket.join(socket.handshake.auth.get("rooms", []))

    return sio


class Pair:
    def __init__(self, a: hypersio.Server, b: hypersio.Server, on_a: Client, on_b: Client, prefix: str) -> None:
        self.a, self.b, self.on_a, self.on_b, self.prefix = a, b, on_a, on_b, prefix


KINDS: dict[str, Callable[[str, str], Any]] = {
    "sharded": lambda url, prefix: cluster.sharded_redis_adapter(url, channel_prefix=prefix),
    "streams": lambda url, prefix: cluster.redis_streams_adapter(
        url, stream_name=prefix, channel_prefix=prefix, session_key_prefix=prefix + ":s:", block_time=0.5
    ),
}


@pytest.fixture(params=list(KINDS))
async def pair(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Pair]:
    prefix = unique_prefix(request.param)
    a = _server(KINDS[request.param](redis_url, prefix))
    b = _server(KINDS[request.param](redis_url, prefix))
    await a.listen("127.0.0.1", 0)
    await b.listen("127.0.0.1", 0)
    on_a = Client(f"http://127.0.0.1:{a.engine.port}", ["r"])
    on_b = Client(f"http://127.0.0.1:{b.engine.port}", ["r"])
    await on_a.sio.connect()
    await on_b.sio.connect()
    await asyncio.sleep(0.1)
    yield Pair(a, b, on_a, on_b, prefix)
    for client in (on_a, on_b):
        await client.sio.disconnect()
    await a.close()
    await b.close()
    await drop_keys(redis_url, prefix + "*")


async def test_two_hypersio_servers(pair: Pair) -> None:
    assert await pair.a.sockets.adapter.server_count() == 2
    pair.a.to("r").emit("hello", b"\x01", 2)
    assert await pair.on_b.wait_for("hello") == (b"\x01", 2)
    assert await pair.on_a.wait_for("hello") == (b"\x01", 2)
    assert await pair.b.timeout(2).emit_with_ack("ask", 1) == [2, 2]
    assert await pair.b.to("r").except_(pair.on_b.sio.id or "").timeout(2).emit_with_ack("ask", 5) == [6]
    ids = {s.id for s in await pair.b.fetch_sockets()}
    assert ids == {pair.on_a.sio.id, pair.on_b.sio.id}


async def test_sharded_room_channels_follow_the_rooms(redis_url: str) -> None:
    prefix = unique_prefix("rooms")
    a = _server(cluster.sharded_redis_adapter(redis_url, channel_prefix=prefix))
    await a.listen("127.0.0.1", 0)
    probe = aioredis.from_url(redis_url)

    async def subscribers(room: str) -> int:
        reply = await probe.execute_command("PUBSUB", "SHARDNUMSUB", f"{prefix}#/#{room}#")
        return int(reply[1])

    client = Client(f"http://127.0.0.1:{a.engine.port}", ["lobby"])
    try:
        await client.sio.connect()
        await _eventually(lambda: _is(subscribers("lobby"), 1))
        assert await subscribers(client.sio.id or "") == 0  # "dynamic": no channel for socket-id rooms
        a.sockets.sockets[client.sio.id or ""].leave("lobby")
        await _eventually(lambda: _is(subscribers("lobby"), 0))
        # made and dropped at once: nothing to send, nothing left behind
        sock = a.sockets.sockets[client.sio.id or ""]
        sock.join("flash")
        sock.leave("flash")
        await asyncio.sleep(0.1)
        assert await subscribers("flash") == 0
        adapter = a.sockets.adapter
        assert isinstance(adapter, ShardedRedisAdapter) and not adapter._room_channels
    finally:
        await client.sio.disconnect()
        await a.close()
        await probe.aclose()


async def _is(value: Any, expected: Any) -> bool:
    return await value == expected


async def test_garbage_everywhere_is_dropped_and_logged_once(
    pair: Pair, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "hypersio.cluster")
    adapter = pair.a.sockets.adapter
    probe = aioredis.from_url(redis_url)
    garbage = [b"", b"\xc1", b"{nope", notepack.pack({"type": 3, "nsp": "/", "uid": "x", "data": {"packet": 1}})]
    try:
        if isinstance(adapter, ShardedRedisAdapter):
            for channel in (adapter.channel, adapter.response_channel, f"{adapter.channel}r#"):
                for payload in garbage:
                    await probe.execute_command("SPUBLISH", channel, payload)
        else:
            assert isinstance(adapter, RedisStreamsAdapter)
            for channel in (adapter.public_channel, adapter.private_channel):
                for payload in garbage:
                    await probe.execute_command("PUBLISH", channel, payload)
            for fields in (
                ["nsp", "/", "type", "x"],
                ["nsp", "/", "type", "3", "data", "{nope"],
                ["nsp", "/", "type", "3", "data", "!!"],
                ["nsp", "/", "type", "3", "uid", "x", "data", '{"packet":5}'],
                ["type", "3"],  # no namespace: skipped silently, as Node does
            ):
                await probe.execute_command("XADD", adapter.stream, "*", *fields)
        await asyncio.sleep(0.3)
        # still working afterwards
        pair.b.to("r").emit("after-garbage", 1)
        assert await pair.on_a.wait_for("after-garbage") == (1,)
        drops = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert drops, "nothing was logged"
        assert len(drops) <= 4  # rate-limited: once per kind of problem and server
    finally:
        await probe.aclose()


async def test_stream_reader_carries_on_after_an_error(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "hypersio.cluster")
    prefix = unique_prefix("reader")
    make = KINDS["streams"]
    a = _server(make(redis_url, prefix))
    b = _server(make(redis_url, prefix))
    await a.listen("127.0.0.1", 0)
    await b.listen("127.0.0.1", 0)
    on_a = Client(f"http://127.0.0.1:{a.engine.port}", ["r"])
    try:
        await on_a.sio.connect()
        adapter = a.sockets.adapter
        assert isinstance(adapter, RedisStreamsAdapter)
        # The reader's connection breaks under a blocked XREAD (as when Redis restarts).
        _, reader = adapter._hub._readers[adapter.stream]
        await reader.connection.disconnect()
        b.to("r").emit("during", 1)  # added while a's reader is failing
        b.to("r").emit("during", 2)
        assert await on_a.wait_for("during", 5) == (1,)
        assert await on_a.wait_for("during", 5) == (2,)
        messages = [r.getMessage() for r in caplog.records]
        assert any("cannot read the Redis stream" in m for m in messages), messages
        assert any("reading the Redis stream" in m and "again" in m for m in messages), messages
    finally:
        await on_a.sio.disconnect()
        await a.close()
        await b.close()
        await drop_keys(redis_url, prefix + "*")


async def test_restore_refuses_what_it_cannot_use(redis_url: str) -> None:
    prefix = unique_prefix("restore")
    sio = _server(KINDS["streams"](redis_url, prefix), recovery=True)
    await sio.listen("127.0.0.1", 0)
    probe = aioredis.from_url(redis_url)
    try:
        adapter = sio.sockets.adapter
        assert isinstance(adapter, RedisStreamsAdapter)
        assert adapter.restore_session("p", "not-an-offset") is None
        assert await adapter.restore_session("unknown", "1-0") is None  # type: ignore[misc]
        entry = (await probe.execute_command("XADD", prefix, "*", "nsp", "/", "type", "4")).decode()
        await probe.set(prefix + ":s:bad", "%%%")
        assert await adapter.restore_session("bad", entry) is None  # type: ignore[misc]
        assert await probe.exists(prefix + ":s:bad") == 0  # taken even so
        await probe.set(prefix + ":s:gone", "hKNzaWSiczGjcGlkonAxpXJvb21zkqJzMaVyb29tMaRkYXRhgaFhAQ==")
        assert await adapter.restore_session("gone", "1-0") is None  # type: ignore[misc]  # offset trimmed off
    finally:
        await sio.close()
        await probe.aclose()
        await drop_keys(redis_url, prefix + "*")
