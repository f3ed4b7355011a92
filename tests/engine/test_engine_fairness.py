"""Issue 13's fairness: four clients flooding tiny events as fast as they can must not delay the
other clients' broadcasts past 300 ms or make their acks fail (each connection gets a bounded
share of a loop turn: engine.server.websocket.READ_BUDGET messages, the rest in later turns)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time
from typing import Any

import hypersio
from _support import child_env

FLOODER = textwrap.dedent(
    """
    import base64, os, socket, sys, time
    port, seconds = int(sys.argv[1]), float(sys.argv[2])
    frame = bytes([0x81, 0x80 | 9]) + b"\\0\\0\\0\\0" + b'42["f",1]'  # masked (key 0) text frame
    burst = frame * 20000
    socks = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        head = ("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: websocket\\r\\n"
                "Connection: Upgrade\\r\\nSec-WebSocket-Key: " + key + "\\r\\n")
        s.sendall((head + "Sec-WebSocket-Version: 13\\r\\n\\r\\n").encode())
        s.recv(4096)
        s.sendall(bytes([0x81, 0x82]) + b"\\0\\0\\0\\0" + b"40")  # CONNECT to "/"
        s.setblocking(False)
        socks.append(s)
    print("flooding", flush=True)
    end = time.monotonic() + seconds
    sent = 0
    pending = {s: memoryview(burst) for s in socks}  # a partial send must resume mid-burst
    while time.monotonic() < end:
        for s in socks:
            try:
                n = s.send(pending[s])
                sent += n
                pending[s] = pending[s][n:] if n < len(pending[s]) else memoryview(burst)
            except BlockingIOError:
                pass
            try:
                s.recv(1 << 20)  # drop the server's pings and whatever else
            except (BlockingIOError, ConnectionError):
                pass
        time.sleep(0.001)
    print("sent", sent // len(frame), flush=True)
    """
)


async def test_flooding_clients_do_not_delay_the_others() -> None:
    sio = hypersio.Server()
    flooded = [0]

    @sio.on("connection")
    def on_connection(socket: hypersio.Socket) -> None:
        if socket.handshake.auth.get("canary"):
            socket.join("canaries")

        def f(*args: Any) -> None:
            flooded[0] += 1

        socket.on("f", f)

    await sio.listen("127.0.0.1", 0)
    port = sio.engine.port
    lateness: list[float] = []
    failed_acks: list[BaseException] = []
    answered = [0]
    canaries = []
    for transports in (("websocket",), ("polling",)):
        client = hypersio.AsyncClient(
            f"http://127.0.0.1:{port}", transports=transports, auth={"canary": True}, reconnection=False
        )
        client.on("tick", lambda sent: lateness.append(time.monotonic() - sent))
        client.on("ask", lambda x: x)
        await client.connect()
        canaries.append(client)

    async def ticks() -> None:
        while True:
            sio.to("canaries").emit("tick", time.monotonic())
            await asyncio.sleep(0.1)

    async def asks() -> None:
        while True:
            await asyncio.sleep(1.0)
            try:
                answered[0] += len(await sio.to("canaries").timeout(1.0).emit_with_ack("ask", 1))
            except hypersio.AckTimeoutError as exc:
                failed_acks.append(exc)

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", FLOODER, str(port), "4", stdout=asyncio.subprocess.PIPE, env=child_env()
    )
    tasks = [asyncio.create_task(ticks()), asyncio.create_task(asks())]
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 10)).startswith(b"flooding")
        rest = await asyncio.wait_for(proc.stdout.read(), 30)
        await proc.wait()
        assert proc.returncode == 0 and rest.startswith(b"sent"), rest
        await asyncio.sleep(0.3)
    finally:
        for task in tasks:
            task.cancel()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        for client in canaries:
            await client.disconnect()
        await sio.close()
    assert flooded[0] > 10000, "the flood did not reach the server"
    assert lateness, "no tick arrived"
    assert max(lateness) < 0.3, f"ticks up to {max(lateness):.3f}s late while flooded"
    assert not failed_acks and answered[0] >= 6
