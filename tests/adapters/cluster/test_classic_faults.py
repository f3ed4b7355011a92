"""The classic Redis adapter under faults: Redis dying and coming back, garbage on every channel,
servers that never answer. hypersio servers only (the Node side is in tests/interop)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

import hypersio
from _support.cluster_clients import connect_client, room_server
from _support.cluster_node import unique_prefix
from _support.redis_server import PrivateRedis
from hypersio import cluster


@pytest.fixture
def private_redis(redis_url: str) -> Any:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def _eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


FACTORIES = {
    "classic": lambda url, prefix: cluster.redis_adapter(url, key=prefix, requests_timeout=1.0),
    "sharded": lambda url, prefix: cluster.sharded_redis_adapter(url, channel_prefix=prefix, requests_timeout=1.0),
    "streams": lambda url, prefix: cluster.redis_streams_adapter(
        url, stream_name=prefix, channel_prefix=prefix, requests_timeout=1.0, block_time=0.5
    ),
}


@pytest.mark.parametrize("kind", list(FACTORIES))
async def test_redis_restart_resumes_delivery(
    kind: str, private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "hypersio.cluster")
    prefix = unique_prefix("restart")
    a = room_server(FACTORIES[kind](private_redis.url, prefix))
    b = room_server(FACTORIES[kind](private_redis.url, prefix))
    await a.listen("127.0.0.1", 0)
    await b.listen("127.0.0.1", 0)
    on_a = await connect_client(f"http://127.0.0.1:{a.engine.port}", ["r"])
    on_b = await connect_client(f"http://127.0.0.1:{b.engine.port}", ["r"])
    try:
        a.to("r").emit("tick", 0)
        assert await on_b.wait_for("tick") == (0,)
        assert await on_a.wait_for("tick") == (0,)

        private_redis.stop()
        await asyncio.sleep(0.3)
        # local delivery never stops while Redis is down
        a.to("r").emit("tick", 1)
        assert await on_a.wait_for("tick") == (1,)
        # requests fail with a clear error instead of hanging
        started = time.monotonic()
        with pytest.raises(hypersio.ClusterTimeoutError):
            await a.fetch_sockets()
        with pytest.raises(hypersio.ClusterTimeoutError):
            await a.server_side_emit_with_ack("anyone")
        assert time.monotonic() - started < 5

        private_redis.start()

        async def delivered_again(sender: hypersio.Server, receiver: Any) -> None:
            while True:
                sender.to("r").emit("again")
                try:
                    await receiver.wait_for("again", timeout=0.3)
                    return
                except TimeoutError:
                    continue

        # both servers' subscribers and publishers come back by themselves
        await asyncio.wait_for(delivered_again(a, on_b), 15)
        await asyncio.wait_for(delivered_again(b, on_a), 15)
        assert on_a.sio.connected and on_b.sio.connected
        ids = {s.id for s in await a.fetch_sockets()}
        assert ids == {on_a.sio.id, on_b.sio.id}
        lost = [r for r in caplog.records if "lost the Redis subscriber connection" in r.getMessage()]
        back = [r for r in caplog.records if "subscriptions restored" in r.getMessage()]
        assert len(lost) == 2 and len(back) == 2  # once per server, not once per retry
    finally:
        for client in (on_a, on_b):
            await client.sio.disconnect()
        await a.close()
        await b.close()


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[tuple[str, hypersio.Server, hypersio.Server]]:
    prefix = unique_prefix("faults")
    a = room_server(cluster.redis_adapter(redis_url, key=prefix, requests_timeout=0.5))
    b = room_server(cluster.redis_adapter(redis_url, key=prefix, requests_timeout=0.5))
    await a.listen("127.0.0.1", 0)
    await b.listen("127.0.0.1", 0)
    yield prefix, a, b
    await a.close()
    await b.close()


async def test_garbage_on_every_channel_is_dropped_and_logged_once(
    pair: tuple[str, hypersio.Server, hypersio.Server], redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "hypersio.cluster")
    prefix, a, b = pair
    on_b = await connect_client(f"http://127.0.0.1:{b.engine.port}", ["room"])
    raw = aioredis.from_url(redis_url)
    try:
        garbage = [b"", b"\xc1", b"{", b'{"type": 99}', b"\x93\x01\x02", b"\xde\xff\xff", b"x" * 10000, b'{"type":5}']
        for channel in (f"{prefix}#/#", f"{prefix}#/#room#", f"{prefix}-request#/#", f"{prefix}-response#/#"):
            for payload in garbage * 20:
                await raw.publish(channel, payload)
        await asyncio.sleep(0.5)
        a.to("room").emit("still", "fine")
        assert await on_b.wait_for("still") == ("fine",)
        assert on_b.sio.connected
        dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
        assert dropped, "garbage must be logged"
        # rate-limited: a few kinds per server, not one line per message (640 were sent)
        assert len(dropped) <= 12
    finally:
        await raw.aclose()
        await on_b.sio.disconnect()


async def test_requests_time_out_when_a_server_never_answers(
    pair: tuple[str, hypersio.Server, hypersio.Server], redis_url: str
) -> None:
    prefix, a, _ = pair
    mute = aioredis.from_url(redis_url).pubsub()
    await mute.subscribe(f"{prefix}-request#/#")  # counted by NUMSUB, never answers
    try:
        await asyncio.sleep(0.1)
        assert await a.sockets.adapter.server_count() == 3
        started = time.monotonic()
        with pytest.raises(hypersio.ClusterTimeoutError, match="fetchSockets"):
            await a.fetch_sockets()
        with pytest.raises(hypersio.ClusterTimeoutError) as info:
            await a.server_side_emit_with_ack("ping")
        assert info.value.responses == []  # b has no listener for "ping": it answers nothing
        with pytest.raises((hypersio.ClusterTimeoutError, hypersio.AckTimeoutError)):
            await a.emit_with_ack("ask")
        assert time.monotonic() - started < 4
    finally:
        await mute.aclose()
