"""Connection state recovery across servers with the streams adapter: a client that loses its
server comes back to another one, Node or hypersio, with its id, rooms and data, and gets the
events it missed, in order, with their offsets (stream entry ids).

The client is a hypersio ``AsyncClient`` (it records offsets and sends pid/offset when it comes
back); it is moved to the other server by changing its manager's URL while it is down.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import hypersio
from _support.cluster_node import NodeClusterPeer, unique_prefix
from _support.redis_keys import drop_keys
from hypersio import cluster

pytestmark = pytest.mark.timeout(60)

OFFSET = re.compile(r"[0-9]+-[0-9]+")


@dataclass
class Peers:
    """A hypersio server and a Node server on one stream, with CSR on both."""

    py: hypersio.Server
    node: NodeClusterPeer
    connections: list[hypersio.Socket] = field(default_factory=list)


@pytest.fixture
async def peers(redis_url: str, node_env: dict[str, str]) -> AsyncIterator[Peers]:
    prefix = unique_prefix("recovery")
    session_prefix = prefix + ":session:"
    factory = cluster.redis_streams_adapter(
        redis_url, stream_name=prefix, channel_prefix=prefix, session_key_prefix=session_prefix
    )
    py = hypersio.Server(adapter=factory, connection_state_recovery=hypersio.Recovery(max_disconnection_duration=60))
    result = Peers(py, None)  # type: ignore[arg-type]

    @py.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        socket.join(socket.handshake.auth.get("rooms", []))
        result.connections.append(socket)

    await py.listen("127.0.0.1", 0)
    result.node = await NodeClusterPeer.start(
        {
            "adapter": "streams",
            "streamName": prefix,
            "channelPrefix": prefix,
            "sessionKeyPrefix": session_prefix,
            "csr": True,
        }
    )
    yield result
    await result.node.stop()
    await py.close()
    await drop_keys(redis_url, prefix + "*")


class Recorder:
    """A reconnecting client and the events it received."""

    def __init__(self, url: str, rooms: list[str]) -> None:
        self.sio = hypersio.AsyncClient(
            url,
            transports=("websocket",),
            reconnection_delay=0.1,
            reconnection_delay_max=0.2,
            randomization_factor=0,
            auth={"rooms": rooms},
        )
        self.events: list[tuple[str, tuple[Any, ...]]] = []
        self.changed = asyncio.Event()
        self.sio.on_any(self._record)
        self.sio.on("connect", lambda: self._record("_connect"))
        self.sio.on("disconnect", lambda *args: self._record("_disconnect", *args))

    def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args))
        self.changed.set()

    async def wait_for(self, event: str, timeout: float = 8.0) -> tuple[Any, ...]:
        """The args of the first ``event`` received (waits for it), consumed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for i, (name, args) in enumerate(self.events):
                if name == event:
                    del self.events[i]
                    return args
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no {event!r}; got {self.events}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass

    def received(self, prefix: str) -> list[tuple[Any, ...]]:
        """The args of every event whose name starts with ``prefix``, in arrival order."""
        return [args for name, args in self.events if name.startswith(prefix)]


def _assert_missed_in_order(got: list[tuple[Any, ...]], expected: list[tuple[Any, ...]], last_offset: str) -> None:
    assert [args[:-1] for args in got] == expected
    offsets = [args[-1] for args in got]
    assert all(OFFSET.fullmatch(o) for o in offsets), offsets
    ids = [tuple(int(part) for part in o.split("-")) for o in [last_offset, *offsets]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), "offsets are not increasing stream ids"


async def test_client_of_node_recovers_on_hypersio(peers: Peers) -> None:
    client = Recorder(peers.node.url, ["r1"])
    await client.sio.connect()
    try:
        sid = client.sio.id
        assert sid is not None
        await client.wait_for("_connect")
        await peers.node.call("socketsJoin", rooms=[sid], join="late")
        await peers.node.call("setData", sid=sid, data={"n": 1})
        # An event with an offset, from the hypersio side through the stream.
        peers.py.to("r1").emit("before", 0)
        before = await client.wait_for("before")
        assert before[0] == 0 and OFFSET.fullmatch(before[1])
        await asyncio.sleep(0.1)

        await peers.node.stop()  # "server shutting down": Node keeps the session in Redis
        assert (await client.wait_for("_disconnect"))[0] in ("transport close", "transport error")
        peers.py.to("r1").emit("missed", 1)
        peers.py.to("late").emit("missed", 2)
        peers.py.emit("missed", 3)
        peers.py.except_("r1").emit("not-for-me", 4)
        peers.py.to("elsewhere").emit("not-for-me", 5)
        await asyncio.sleep(0.3)  # the entries are in the stream before the client comes back

        client.sio.manager.url = f"http://127.0.0.1:{peers.py.engine.port}"
        await client.wait_for("_connect", timeout=10)
        assert client.sio.recovered and client.sio.id == sid
        socket = peers.connections[-1]
        assert socket.recovered and socket.id == sid
        assert socket.rooms >= {sid, "r1", "late"}
        assert socket.data == {"n": 1}
        _assert_missed_in_order(client.received("missed"), [(1,), (2,), (3,)], before[1])
        assert not client.received("not-for-me")

        # Still in the cluster after recovery: the next event carries a fresh offset.
        peers.py.to("late").emit("after", 6)
        after = await client.wait_for("after")
        assert after[0] == 6 and OFFSET.fullmatch(after[1])
    finally:
        await client.sio.disconnect()


async def test_client_of_hypersio_recovers_on_node(peers: Peers) -> None:
    client = Recorder(f"http://127.0.0.1:{peers.py.engine.port}", ["r1"])
    await client.sio.connect()
    try:
        sid = client.sio.id
        assert sid is not None
        await client.wait_for("_connect")
        socket = peers.connections[-1]
        socket.join("late")
        socket.data = {"n": 2, "bin": b"\x01\x02"}
        # socket.emit with recovery goes through the stream too: it carries an offset.
        socket.emit("direct", "hi")
        direct = await client.wait_for("direct")
        assert direct[0] == "hi" and OFFSET.fullmatch(direct[1])
        await peers.node.call("emit", rooms=["r1"], event="before", args=[0])
        before = await client.wait_for("before")
        assert before[0] == 0 and OFFSET.fullmatch(before[1])

        await peers.py.close()  # "server shutting down": the session goes to Redis
        assert (await client.wait_for("_disconnect"))[0] in ("transport close", "transport error")
        await peers.node.call("emit", rooms=["r1"], event="missed", args=[1])
        await peers.node.call("emit", rooms=["late"], event="missed", args=[2])
        await peers.node.call("emit", event="missed", args=[3])
        await peers.node.call("emit", except_=["late"], event="not-for-me", args=[4])
        await peers.node.call("emit", rooms=["elsewhere"], event="not-for-me", args=[5])
        await asyncio.sleep(0.3)

        client.sio.manager.url = peers.node.url
        await client.wait_for("_connect", timeout=10)
        assert client.sio.recovered and client.sio.id == sid
        connection = await peers.node.next_event("connection", id=sid)
        assert connection["recovered"] is True
        (seen,) = await peers.node.call("fetchSockets", rooms=[sid])
        assert set(seen["rooms"]) >= {sid, "r1", "late"}
        # cluster_node.js writes fetchSockets results with plain JSON.stringify: a Buffer is
        # {"type": "Buffer", ...} there, but it is binary again on the Node side.
        assert seen["data"] == {"n": 2, "bin": {"type": "Buffer", "data": [1, 2]}}
        _assert_missed_in_order(client.received("missed"), [(1,), (2,), (3,)], before[1])
        assert not client.received("not-for-me")
    finally:
        await client.sio.disconnect()
