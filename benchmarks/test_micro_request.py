"""Micro-benchmark of the server's request/response straight line, in one process.

Run:  PYTHONPATH=src pytest benchmarks/test_micro_request.py --benchmark-columns=min,median,ops

Numbers only: nothing here asserts a speed. One WebSocket client of the benchmark application
(``hypersio.bench.runner.build_app``) sends ``42<id>["echo",<id>]``; each round hands that frame to the
connection's protocol as the event loop would (``data_received``) and flushes the output, so what
is timed is everything the server does for an ack except the kernel: frame parsing, the Engine.IO
and Socket.IO decode, the handler, the encode, framing the answer and the one ``write``. The
transport's methods are C builtins, so the fake costs (almost) nothing. Compare with the
whole-server acks benchmark (``run_all.py --only acks``), whose extra cost is the kernel's.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hypersio.bench.loadgen import client_frame, upgrade_request
from hypersio.bench.runner import build_app
from hypersio.engine.outlet import Corker
from hypersio.engine.server.heartbeat import Heartbeats
from hypersio.engine.server.http import HttpConnection
from nulls import NullLoop, NullTransport


class ConnectionTransport(NullTransport):
    """What an HttpConnection needs besides writing; ``set_protocol`` records the WebSocket reader."""

    def __init__(self) -> None:
        self.protocol: Any = None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 50000) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def close(self) -> None:
        pass


@pytest.fixture
async def connected() -> Any:
    """A hypersio server with one client connected to "/" over WebSocket, and its corker."""
    sio = build_app()
    engine = sio.engine
    loop = asyncio.get_running_loop()
    engine._loop = loop
    engine._corker = Corker(NullLoop())
    engine._heartbeats = Heartbeats(loop, engine.sessions)
    conn = HttpConnection(engine, engine.options, engine._corker, loop)
    transport = ConnectionTransport()
    transport.protocol = conn
    conn.connection_made(transport)  # type: ignore[arg-type]
    conn.data_received(upgrade_request("127.0.0.1", 1))
    transport.protocol.data_received(client_frame(b"40"))
    engine._corker.flush()
    await asyncio.sleep(0)  # the connection handlers ran: the client is in "/"
    yield transport, engine._corker
    for session in list(engine._sessions.values()):
        session.close()
    engine._heartbeats.close()


async def test_request_response_in_process(benchmark: Any, connected: Any) -> None:
    transport, corker = connected
    frames = [client_frame(b'42%d["echo",%d]' % (i, i)) for i in range(1000)]
    state = {"i": 0}
    data_received = transport.protocol.data_received
    flush = corker.flush
    # What is timed really is a round trip: the request gets its ack, in one write.
    written: list[bytes] = []
    transport.write = written.append
    data_received(frames[7])
    flush()
    del transport.write
    assert written == [b"\x81\x06437[7]"], written

    def one_round_trip() -> None:
        i = state["i"] = (state["i"] + 1) % 1000
        data_received(frames[i])
        flush()

    benchmark(one_round_trip)
