"""Issue 13's fault tests: a client frozen past the ping timeout, a TCP reset in the middle of a
frame, and close() under load; each ends as the official server ends it, and the other clients
notice nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import sys
import textwrap
from typing import Any

import hypersio
from _support import child_env

FROZEN_CLIENT = textwrap.dedent(
    """
    import asyncio, sys, hypersio

    async def main():
        client = hypersio.AsyncClient(sys.argv[1], transports=("websocket",), reconnection=False)
        await client.connect()
        print("connected", client.id, flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


async def _server(**options: Any) -> tuple[hypersio.Server, list[tuple[str, str]]]:
    sio = hypersio.Server(**options)
    reasons: list[tuple[str, str]] = []

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        socket.on("echo", lambda x: x)
        socket.on("disconnect", lambda reason, *_: reasons.append((socket.id, reason)))

    await sio.listen("127.0.0.1", 0)
    return sio, reasons


async def test_a_frozen_client_times_out_alone() -> None:
    sio, reasons = await _server(ping_interval=0.3, ping_timeout=0.4)
    url = f"http://127.0.0.1:{sio.engine.port}"
    canary = hypersio.AsyncClient(url, transports=("websocket",), reconnection=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FROZEN_CLIENT, url, stdout=asyncio.subprocess.PIPE, env=child_env()
    )
    try:
        await canary.connect()
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 15)
        frozen_id = line.split()[1].decode()
        os.kill(proc.pid, signal.SIGSTOP)  # alive, connected, and answering nothing
        for _ in range(60):
            if any(sid == frozen_id for sid, _ in reasons):
                break
            await asyncio.sleep(0.05)
        assert (frozen_id, "ping timeout") in reasons
        assert canary.connected and await canary.timeout(1).emit_with_ack("echo", 1) == 1
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()
        await canary.disconnect()
        await sio.close()


async def test_a_reset_in_the_middle_of_a_frame() -> None:
    sio, reasons = await _server()
    port = sio.engine.port
    canary = hypersio.AsyncClient(f"http://127.0.0.1:{port}", transports=("websocket",), reconnection=False)
    try:
        await canary.connect()
        raw = socket.create_connection(("127.0.0.1", port))
        raw.sendall(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await asyncio.sleep(0.1)
        raw.sendall(bytes([0x81, 0x82]) + b"\0\0\0\0" + b"40")  # join "/"
        await asyncio.sleep(0.1)
        assert len(sio.sockets.sockets) == 2
        raw.sendall(bytes([0x81, 0xFE]) + struct.pack(">H", 1000) + b"\0\0\0\0" + b"4" * 300)  # 300 of 1000 bytes
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()  # RST, mid-frame
        for _ in range(40):
            if len(sio.sockets.sockets) == 1:
                break
            await asyncio.sleep(0.05)
        assert len(sio.sockets.sockets) == 1
        assert [reason for sid, reason in reasons if sid != canary.id] == ["transport close"]
        assert await canary.timeout(1).emit_with_ack("echo", 2) == 2
    finally:
        await canary.disconnect()
        await sio.close()


async def test_close_under_load_ends_every_client_cleanly() -> None:
    sio, reasons = await _server()
    url = f"http://127.0.0.1:{sio.engine.port}"
    clients = []
    ends: list[str] = []
    ws_ends: list[str] = []
    for transports in (("websocket",), ("polling",), ("polling", "websocket")) * 3:
        client = hypersio.AsyncClient(url, transports=transports, reconnection=False)
        client.on("disconnect", lambda reason, *_: ends.append(reason))
        if transports == ("websocket",):
            client.on("disconnect", lambda reason, *_: ws_ends.append(reason))
        await client.connect()
        clients.append(client)

    async def load() -> None:
        while True:
            sio.emit("tick", "x" * 200)
            await asyncio.sleep(0)

    task = asyncio.create_task(load())
    await asyncio.sleep(0.3)
    await sio.close()
    task.cancel()
    for _ in range(60):
        if len(ends) == len(clients):
            break
        await asyncio.sleep(0.05)
    # as the official server: each socket disconnects with "server shutting down"; a WebSocket
    # client sees its transport close, a polling one the close packet or, when its next GET
    # finds the port closed, a transport error (never a parse error or a hang)
    assert sorted(r for _, r in reasons) == ["server shutting down"] * len(clients)
    assert len(ends) == len(clients) and set(ends) <= {"transport close", "transport error"}, ends
    assert ws_ends == ["transport close"] * 3
    for client in clients:
        await client.disconnect()
